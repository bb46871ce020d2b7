package io.factoryrunner;

import io.factoryrunner.alert.AlertOutbox;
import io.factoryrunner.alert.AlertTemplates;
import io.factoryrunner.alert.Notifier;
import io.factoryrunner.alert.RunAlerts;
import io.factoryrunner.cleanup.Housekeeping;
import io.factoryrunner.cluster.DatabaseSight;
import io.factoryrunner.config.ConfigTable;
import io.factoryrunner.config.ConfigValues;
import io.factoryrunner.db.Database;
import io.factoryrunner.db.Dialect;
import io.factoryrunner.demo.DemoAnalyticsApi;
import io.factoryrunner.demo.DemoProcessActivities;
import io.factoryrunner.error.ErrorRecorder;
import io.factoryrunner.error.RetryPolicy;
import io.factoryrunner.health.DatabaseHealthCheck;
import io.factoryrunner.health.JobsHealthCheck;
import io.factoryrunner.health.OverdueJobs;
import io.factoryrunner.health.OverdueJobsHealthCheck;
import io.factoryrunner.intake.CsvRows;
import io.factoryrunner.job.JobComponent;
import io.factoryrunner.job.JobRegistry;
import io.factoryrunner.job.JobStore;
import io.factoryrunner.job.RunListener;
import io.factoryrunner.job.RunStatus;
import io.factoryrunner.metrics.AlertOutboxGauges;
import io.factoryrunner.metrics.FactoryMetrics;
import io.factoryrunner.metrics.ItemDurations;
import io.factoryrunner.program.JobData;
import io.factoryrunner.program.ProgramComponent;
import io.factoryrunner.program.ProgramExecutor;
import io.factoryrunner.program.ProgramJobs;
import io.factoryrunner.program.ProgramStore;
import io.factoryrunner.program.Programs;
import io.factoryrunner.reference.AnalyticsCalls;
import io.factoryrunner.reference.Datasets;
import io.factoryrunner.reference.FactoryTime;
import io.factoryrunner.reference.OutputWriter;
import io.factoryrunner.reference.Results;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.health.HealthCheckRegistry;
import org.apache.camel.http.base.HttpHeaderFilterStrategy;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.spi.Registry;

/**
 * The factory's services and the names routes find them by ({@code bean:factoryErrors}, {@code #dataSource},
 * {@code job:}). They are created on the database thread while Camel reads the route files: loading their classes
 * (Jackson, the HTTP and mail support) is a good part of the start-up, and none of it needs the routes. They are bound
 * into the registry on the main thread, once the routes are read, by {@link #bindTo}.
 */
final class FactoryServices {

    private final Database database;
    private final ConfigTable configTable;
    private final Clock clock;
    private final JobRegistry jobs;
    private final JobStore jobStore;
    private final JobComponent jobComponent;
    private final RunAlerts runAlerts;
    private final ErrorRecorder errors;
    private final FactoryMetrics metrics;
    private final OverdueJobs overdueJobs;
    private final Programs programs;
    private final ProgramComponent programComponent;
    private final ProgramExecutor programExecutor;
    private final DatabaseSight databaseSight;
    private final Map<String, Object> beans = new LinkedHashMap<>();

    private FactoryServices(Database database, ConfigTable configTable, Clock clock, JobRegistry jobs,
            JobStore jobStore, JobComponent jobComponent, RunAlerts runAlerts, ErrorRecorder errors,
            FactoryMetrics metrics, OverdueJobs overdueJobs, Programs programs, ProgramComponent programComponent,
            ProgramExecutor programExecutor, DatabaseSight databaseSight) {
        this.database = database;
        this.configTable = configTable;
        this.clock = clock;
        this.jobs = jobs;
        this.jobStore = jobStore;
        this.jobComponent = jobComponent;
        this.runAlerts = runAlerts;
        this.errors = errors;
        this.metrics = metrics;
        this.overdueJobs = overdueJobs;
        this.programs = programs;
        this.programComponent = programComponent;
        this.programExecutor = programExecutor;
        this.databaseSight = databaseSight;
    }

    /** Every listener told of each run's end, in order; one that throws does not keep it from the others. */
    private record RunListeners(List<RunListener> listeners) implements RunListener {

        @Override
        public void runEnded(String job, long runId, RunStatus status, int itemsDone, int itemsFailed,
                String summary) {
            RuntimeException first = null;
            for (RunListener listener : listeners) {
                try {
                    listener.runEnded(job, runId, status, itemsDone, itemsFailed, summary);
                } catch (RuntimeException e) {
                    first = first == null ? e : first;
                }
            }
            if (first != null) {
                throw first;
            }
        }

        @Override
        public void jobBlocked(String job, JobStore.RunningRun run) {
            listeners.forEach(listener -> listener.jobBlocked(job, run));
        }

        @Override
        public void runTakenOver(String job, JobStore.RunningRun run) {
            listeners.forEach(listener -> listener.runTakenOver(job, run));
        }
    }

    /** The factory's item headers (FactoryJob, FactoryItemKey, ...) are its own: never sent to an HTTP API. */
    static void bindHttpHeaderFilter(Registry registry) {
        HttpHeaderFilterStrategy httpHeaders = new HttpHeaderFilterStrategy();
        httpHeaders.setOutFilterStartsWith("Camel", "camel", "org.apache.camel.", "Factory");
        registry.bind("factoryHttpHeaders", httpHeaders);
    }

    static FactoryServices create(Database db, CamelContext context, ConfigTable configTable, JobRegistry jobs,
            Clock clock, Path home, ConfigValues values, String node, boolean demo, MeterRegistry meters) {
        PropertiesComponent properties = context.getPropertiesComponent();
        JobStore jobStore = new JobStore(db.dataSource(), clock, db.dialect() == Dialect.POSTGRESQL);
        JobComponent jobComponent = new JobComponent(jobStore, jobs, node);
        // written by the node's heartbeat; read before a node judges another silent
        DatabaseSight sight = new DatabaseSight();
        jobComponent.setDatabaseSight(sight);
        // a run cut off by an outage is closed as soon as the database is back, not at its job's next fire here
        sight.whenBack(() -> jobs.recordLateEnds(jobStore));
        AlertOutbox outbox = new AlertOutbox(db.dataSource(), clock,
                new AlertTemplates(home.resolve(values.string("factory.alerts.templates", "config/mail"))),
                properties);
        ErrorRecorder errors = new ErrorRecorder(db.dataSource(), clock, outbox, properties);
        jobComponent.setFailureRecorder(errors);
        RunAlerts runAlerts = new RunAlerts(db.dataSource(), outbox, configTable, properties);
        FactoryMetrics metrics = new FactoryMetrics(meters, db.dataSource());
        jobComponent.setRunListener(new RunListeners(List.of(runAlerts, metrics)));
        errors.afterRecorded(metrics::errorRecorded);
        new AlertOutboxGauges(db.dataSource(), clock, Duration.ofSeconds(5)).registerIn(meters);
        OverdueJobs overdueJobs = new OverdueJobs(context, db.dataSource(), clock, jobs, outbox,
                values.duration("factory.overdue.check-interval", Duration.ofSeconds(30)));

        ProgramJobs programJobs = new ProgramJobs();
        Programs programs = new Programs(new ProgramStore(db.dataSource(), clock, db.dialect() == Dialect.POSTGRESQL),
                programJobs);
        ProgramExecutor programExecutor = new ProgramExecutor(context, programs.store(), programJobs, node, clock,
                db.settings().isExclusive(), sight, errors::recordProgramFailure, metrics::programStep);
        programs.afterSubmitted(programExecutor::wake);

        FactoryServices services = new FactoryServices(db, configTable, clock, jobs, jobStore, jobComponent,
                runAlerts, errors, metrics, overdueJobs, programs, new ProgramComponent(programJobs),
                programExecutor, sight);
        Map<String, Object> beans = services.beans;
        beans.put("factoryErrors", errors);
        beans.put("factoryRetry", new RetryPolicy(properties));
        beans.put("alertOutbox", outbox);
        beans.put("notifier", new Notifier(context, db.dataSource(), clock, outbox, node));
        beans.put("datasets", new Datasets(db.dataSource(), jobStore, clock));
        beans.put("factoryTime", new FactoryTime(clock));
        beans.put("csvRows", new CsvRows());
        beans.put("results", new Results());
        beans.put("outputWriter", new OutputWriter(context));
        beans.put("housekeeping", new Housekeeping(db.dataSource(), clock, properties, outbox, home));
        beans.put("analyticsCalls", new AnalyticsCalls());
        beans.put("programs", programs);
        beans.put("jobData", new JobData());
        if (demo) {
            beans.put("demoAnalytics", new DemoAnalyticsApi(
                    () -> properties.resolveProperty("factory.demo.fail-dataset").orElse("apac").trim()));
            beans.put("demoProcess", new DemoProcessActivities());
        }
        return services;
    }

    /** Binds the services under the names routes use, and the {@code job:} component. */
    void bindTo(CamelContext context) {
        Registry registry = context.getRegistry();
        registry.bind("dataSource", database.dataSource());
        registry.bind("factoryDatabase", database);
        registry.bind("configTable", configTable);
        registry.bind("clock", clock);
        context.addComponent("job", jobComponent);
        context.addComponent("program", programComponent);
        beans.forEach(registry::bind);
        registry.bind("jobs", jobs);
        registry.bind("jobStore", jobStore);
        context.getManagementStrategy().addEventNotifier(new ItemDurations(metrics));
    }

    /** The database, jobs and overdue jobs checks of {@code /observe/health}. */
    void registerHealthChecks(CamelContext context) {
        HealthCheckRegistry health = HealthCheckRegistry.get(context);
        if (health != null) {
            health.register(new DatabaseHealthCheck(database));
            health.register(new JobsHealthCheck(jobs, jobStore));
            health.register(new OverdueJobsHealthCheck(overdueJobs));
        }
    }

    /** The periodic check of {@code job.<name>.overdue-after}, which runs as long as the factory does. */
    OverdueJobs overdueJobs() {
        return overdueJobs;
    }

    JobStore jobStore() {
        return jobStore;
    }

    Programs programs() {
        return programs;
    }

    /** Runs the submitted programs, from the database queue, as long as the factory does. */
    ProgramExecutor programExecutor() {
        return programExecutor;
    }

    /** Whether this node has been seeing the database without a break, as its heartbeat tells. */
    DatabaseSight databaseSight() {
        return databaseSight;
    }

    RunAlerts runAlerts() {
        return runAlerts;
    }

    ErrorRecorder errors() {
        return errors;
    }

    FactoryMetrics metrics() {
        return metrics;
    }
}
