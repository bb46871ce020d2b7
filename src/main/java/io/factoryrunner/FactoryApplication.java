package io.factoryrunner;

import io.factoryrunner.api.ApiTokens;
import io.factoryrunner.api.Audit;
import io.factoryrunner.api.OperatorActions;
import io.factoryrunner.api.OperatorApi;
import io.factoryrunner.api.ProgramApi;
import io.factoryrunner.cluster.NodeHeartbeat;
import io.factoryrunner.cluster.QuartzCluster;
import io.factoryrunner.cluster.StoredTriggers;
import io.factoryrunner.config.ConfigFiles;
import io.factoryrunner.config.ConfigReport;
import io.factoryrunner.config.ConfigTable;
import io.factoryrunner.config.ConfigTablePropertiesSource;
import io.factoryrunner.config.ConfigValidator;
import io.factoryrunner.config.ConfigValues;
import io.factoryrunner.config.ConfigWatcher;
import io.factoryrunner.db.Database;
import io.factoryrunner.db.DatabaseSettings;
import io.factoryrunner.db.Dialect;
import io.factoryrunner.db.JobStateViews;
import io.factoryrunner.db.SqlAccess;
import io.factoryrunner.demo.DemoApiKey;
import io.factoryrunner.job.JobRegistry;
import io.factoryrunner.job.JobStore;
import io.factoryrunner.logging.LogFormat;
import io.factoryrunner.logging.Secrets;
import io.factoryrunner.metrics.CamelMetrics;
import io.factoryrunner.page.StatusPage;
import io.factoryrunner.process.ProcessApi;
import io.factoryrunner.process.ProcessDefinitions;
import io.factoryrunner.process.ProcessEngine;
import io.factoryrunner.process.ProcessStore;
import io.factoryrunner.program.Programs;
import io.factoryrunner.routes.JobRoutes;
import io.factoryrunner.routes.ProgramRoutes;
import io.factoryrunner.routes.RouteCatalog;
import io.factoryrunner.routes.RouteCrons;
import io.factoryrunner.support.FactoryVersion;
import io.factoryrunner.support.HomeFiles;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import org.apache.camel.CamelContext;
import org.apache.camel.ExtendedStartupListener;
import org.apache.camel.component.quartz.QuartzComponent;
import org.apache.camel.main.BaseMainSupport;
import org.apache.camel.main.SimpleMainShutdownStrategy;
import org.apache.camel.main.Main;
import org.apache.camel.main.MainListenerSupport;
import org.apache.camel.spi.PropertiesComponent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One factory process: Camel Main with the factory's configuration sources, database and routes. The launcher
 * and the tests both start the factory through this class, so tests exercise what users run.
 */
public final class FactoryApplication {

    /** What the process is started for. */
    public enum Mode {
        /** Run the jobs. */
        RUN,
        /** Load configuration and routes, create the routes, start nothing, change nothing. */
        VALIDATE
    }

    private static final Logger LOG = LoggerFactory.getLogger(FactoryApplication.class);

    private final Path home;
    private final Mode mode;
    private final Clock clock;
    private final Main main;
    private Database database;
    private DatabaseSettings databaseSettings;
    private boolean databaseExists = true;
    private RouteCatalog catalog;
    private ConfigTable configTable;
    private ConfigTablePropertiesSource configSource;
    private ConfigWatcher configWatcher;
    private int pendingMigrations;
    private volatile CompletableFuture<Database> opening;
    private boolean demo;
    private boolean cluster;
    private JobStore jobStore;
    private final JobRegistry jobs = new JobRegistry();
    private String node;
    private int sqlAccessPort;
    private Path sqlAccessDir;
    private volatile SqlAccess sqlAccess;
    private ProcessStore processStore;
    private ProcessDefinitions processes;
    private ProcessEngine processEngine;
    private Programs programs;

    private FactoryApplication(Path home, Mode mode, Map<String, String> overrides, Clock clock) {
        this.home = home.toAbsolutePath().normalize();
        this.mode = mode;
        this.clock = clock;
        this.main = new Main();
        // Camel asks location sources in the order given: the operator's file first, the jar's defaults last
        main.setPropertyPlaceholderLocations("file:" + this.home.resolve("config/application.properties")
                + ";optional=true,classpath:factory-defaults.properties");
        Map<String, String> effective = new LinkedHashMap<>(overrides);
        if (mode == Mode.VALIDATE) {
            effective.put("camel.main.auto-startup", "false");
            effective.put("camel.server.enabled", "false");
            effective.put("camel.management.enabled", "false");
            // Camel Main's default strategy hooks the JVM's shutdown and logs that a SIGTERM stops Camel when the
            // command exits: validate prints its verdict alone
            main.setShutdownStrategy(new SimpleMainShutdownStrategy());
        }
        effective.putIfAbsent("factory.home", this.home.toString());
        serverSettingsFromEnvironment(System.getenv()).forEach(effective::putIfAbsent);
        effective.forEach(main::addOverrideProperty);
        earlyLogFormat(this.home, effective).ifPresent(LogFormat::use);
        main.addMainListener(new Bootstrap());
    }

    public static FactoryApplication create(Path home, Mode mode, Map<String, String> overrides) {
        return new FactoryApplication(home, mode, overrides, Clock.systemUTC());
    }

    public static FactoryApplication create(Path home, Mode mode, Map<String, String> overrides, Clock clock) {
        return new FactoryApplication(home, mode, overrides, clock);
    }

    /** Starts the factory and returns; throws {@link StartupException} with an operator's message on failure. */
    public void start() {
        try {
            main.start();
        } catch (Exception e) {
            closeQuietly();
            throw StartupErrors.describe(e, catalog);
        }
        CamelContext context = main.getCamelContext();
        if (context == null || !context.isStarted()) {
            closeQuietly();
            throw new StartupException("The factory did not start; see the log above for the reason");
        }
    }

    /** Starts the factory and blocks until the process is asked to stop (SIGTERM, Ctrl-C). */
    public void runUntilStopped() throws Exception {
        try {
            main.run();
        } catch (Exception e) {
            closeQuietly();
            throw StartupErrors.describe(e, catalog);
        }
    }

    public void stop() {
        try {
            main.stop();
        } catch (Exception e) {
            LOG.warn("Error while stopping: {}", e.getMessage(), e);
        } finally {
            closeQuietly();
        }
    }

    public CamelContext context() {
        return main.getCamelContext();
    }

    public Database database() {
        return database;
    }

    /** The port an SQL client on this machine reaches the embedded database on, or -1 when not served. */
    public int sqlAccessPort() {
        return sqlAccess == null ? -1 : sqlAccess.port();
    }

    public ConfigTable configTable() {
        return configTable;
    }

    public ConfigWatcher configWatcher() {
        return configWatcher;
    }

    public RouteCatalog routes() {
        return catalog;
    }

    /** Every configuration key with its effective value (secrets masked) and its source. */
    public List<ConfigReport.Line> configReport() {
        return ConfigReport.of(context().getPropertiesComponent(), configSource);
    }

    public JobRegistry jobs() {
        return jobs;
    }

    public JobStore jobStore() {
        return jobStore;
    }

    /** The programs: submit, start and cancel them, and the program jobs the routes declare. */
    public Programs programs() {
        return programs;
    }

    public String node() {
        return node;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    public int pendingMigrations() {
        return pendingMigrations;
    }

    /** The database as configured; validate may have opened a read-only or in-memory stand-in for it. */
    public DatabaseSettings databaseSettings() {
        return databaseSettings;
    }

    /** False when validate found no database file yet: the first start creates it. */
    public boolean databaseExists() {
        return databaseExists;
    }

    public Path home() {
        return home;
    }

    private void closeQuietly() {
        CompletableFuture<Database> pending = opening;
        if (pending != null) {
            // a start that failed elsewhere must not leave the database being opened behind it
            pending.handle((db, error) -> db).join();
        }
        if (sqlAccess != null) {
            sqlAccess.close();
            sqlAccess = null;
        }
        if (database != null) {
            database.close();
        }
    }

    /** Runs inside Camel Main's start, after the properties are set up and before the routes are read. */
    private final class Bootstrap extends MainListenerSupport {

        private ConfigValues values;
        private CamelContext context;
        private FactoryServices services;
        private PrometheusMeterRegistry meters;

        /**
         * Opens the database and migrates it on another thread while Camel reads the route files, which needs
         * nothing from the database: the two together are most of the start-up time. Keys read here (factory.db.*,
         * factory.data-dir, factory.routes.*, factory.demo.enabled, factory.node.id) and camel.* keys therefore come
         * from the environment, the file or the defaults, never from the configuration table.
         */
        @Override
        public void beforeConfigure(BaseMainSupport support) {
            context = support.getCamelContext();
            new HomeFiles(home).install(context);
            PropertiesComponent properties = context.getPropertiesComponent();
            values = new ConfigValues(properties);
            registerSensitiveValues(properties);
            try {
                LogFormat.use(values.string("factory.log.format", "text"));
            } catch (IllegalArgumentException e) {
                throw new StartupException(e.getMessage());
            }
            demo = values.bool("factory.demo.enabled", false);
            cluster = values.bool("factory.cluster.enabled", false);
            node = values.optional("factory.node.id").orElseGet(FactoryApplication::hostName);
            FactoryServices.bindHttpHeaderFilter(context.getRegistry());
            // camel-micrometer-prometheus serves the registry it finds under this name, the factory's metrics with it
            meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            context.getRegistry().bind("metricsRegistry", meters);

            DatabaseSettings opened = readDatabaseSettings();
            opening = CompletableFuture.supplyAsync(() -> openDatabase(opened));
            selectRoutes(support);
        }

        /** The database as configured, and the one this mode opens: validate writes nothing. */
        private DatabaseSettings readDatabaseSettings() {
            Path dataDir = home.resolve(values.string("factory.data-dir", "data"));
            String url = values.optional("factory.db.url").orElseGet(() -> DatabaseSettings.embeddedUrl(dataDir));
            // the embedded default is opened by this process alone: an operator's SQL client gets in over TCP
            sqlAccessPort = values.optional("factory.db.url").isPresent() ? 0
                    : values.integer("factory.db.h2-tcp-port", 9092, 0);
            sqlAccessDir = dataDir;
            databaseSettings = new DatabaseSettings(url, values.string("factory.db.user", "sa"),
                    values.string("factory.db.password", ""), values.integer("factory.db.pool-size", 10, 1),
                    values.duration("factory.db.connect-timeout", Duration.ofSeconds(10)));
            if (cluster) {
                refuseClusterOffPostgres(url);
            }
            return mode == Mode.VALIDATE ? withoutWrites(databaseSettings) : databaseSettings;
        }

        /**
         * Nodes share their schedule and their work through one database server: the embedded H2 database is one
         * process's alone, and Quartz's clustered job store is set up for PostgreSQL only.
         */
        private void refuseClusterOffPostgres(String url) {
            boolean postgres;
            try {
                postgres = Dialect.fromUrl(url) == Dialect.POSTGRESQL;
            } catch (IllegalArgumentException e) {
                // the database's own check names what is wrong with the URL
                return;
            }
            if (!postgres) {
                throw new StartupException("Configuration key 'factory.cluster.enabled' is true, but a cluster needs"
                        + " PostgreSQL and factory.db.url is " + Secrets.maskUrl(url) + ": nodes share their"
                        + " schedule and their work through one PostgreSQL database (factory.db.url ="
                        + " jdbc:postgresql://...), and an H2 database is opened by one process only. Set"
                        + " factory.db.url to the PostgreSQL database every node uses, or factory.cluster.enabled ="
                        + " false to run one node");
            }
        }

        /** The route files Camel reads: the shipped ones chosen by configuration, and the operator's. */
        private void selectRoutes(BaseMainSupport support) {
            String shipped = RouteCatalog.shippedGlobs(values.string("factory.routes.shipped", "framework/**"), demo,
                    values.bool("camel.server.enabled", true));
            catalog = RouteCatalog.scan(FactoryApplication.class.getClassLoader(), home,
                    home.resolve(values.string("factory.routes.dir", "config/routes")), shipped);
            if (catalog.files().isEmpty()) {
                support.configure().setRoutesCollectorEnabled(false);
            } else {
                support.configure().setRoutesIncludePattern(catalog.includePattern());
            }
            LOG.info("Routes: {} from {} files; database {}", catalog.routeIds(), catalog.files().size(),
                    Secrets.maskUrl(databaseSettings.url()));
        }

        /** validate writes nothing: a database file not there yet is not created, and an existing one is read only. */
        private DatabaseSettings withoutWrites(DatabaseSettings settings) {
            if (settings.h2File().filter(file -> !Files.exists(file)).isPresent()) {
                databaseExists = false;
                return settings.emptyInMemory();
            }
            return settings.readOnly();
        }

        private Database openDatabase(DatabaseSettings settings) {
            long started = System.nanoTime();
            Database db = Database.open(settings);
            database = db;
            long opened = System.nanoTime();
            if (mode == Mode.VALIDATE) {
                db.migrationRefusal().ifPresent(reason -> {
                    throw new StartupException("Database " + Secrets.maskUrl(databaseSettings.url()) + " " + reason);
                });
            }
            if (mode == Mode.RUN) {
                JobStateViews.dropBeforeMigrating(db);
                db.migrate();
                if (demo) {
                    db.migrateDemo();
                }
                if (sqlAccessPort > 0) {
                    sqlAccess = SqlAccess.serve(sqlAccessDir, sqlAccessPort);
                }
            } else {
                pendingMigrations = db.pendingMigrations();
            }
            LOG.debug("Database opened in {} ms, schema checked in {} ms", (opened - started) / 1_000_000,
                    (System.nanoTime() - opened) / 1_000_000);
            configTable = new ConfigTable(db.dataSource(), clock);
            configSource = new ConfigTablePropertiesSource(configTable);
            try {
                configSource.refresh();
            } catch (SQLException e) {
                if (mode == Mode.RUN || pendingMigrations == 0) {
                    throw new StartupException("Cannot read the configuration table factory_config on "
                            + Secrets.maskUrl(settings.url()) + ": " + Secrets.mask(e.getMessage()), e);
                }
                LOG.warn("The configuration table factory_config does not exist yet; the first start creates it");
            }
            services = FactoryServices.create(db, context, configTable, jobs, clock, home, values, node, demo, meters);
            jobStore = services.jobStore();
            programs = services.programs();
            return db;
        }

        /** Runs after Camel has read the route files and before it creates and starts the routes. */
        @Override
        public void afterConfigure(BaseMainSupport support) {
            CamelContext context = support.getCamelContext();
            awaitDatabase();
            addConfigurationTable(context.getPropertiesComponent());
            checkConfiguration(context);
            Set<String> declaredJobs = JobRoutes.declared(context, catalog);
            services.programs().jobs().declare(ProgramRoutes.declared(context, catalog));
            services.bindTo(context);
            CamelMetrics.leaveJobItemsOut(context);
            if (demo) {
                LOG.warn("DEMO MODE (factory.demo.enabled = true): demo tables and a stand-in analytics API on"
                        + " /demo-api; not for production");
            }
            if (mode == Mode.RUN) {
                closeRunsLeftOpen();
                JobStateViews.refresh(database.dataSource(), declaredJobs);
            }
            services.registerHealthChecks(context);
            if (mode == Mode.RUN && cluster) {
                QuartzCluster.configure(context.getComponent("quartz", QuartzComponent.class), database.dataSource(),
                        node, values.duration("factory.cluster.checkin-interval", Duration.ofMillis(7500)), 10);
                addStartupListener(context, started -> {
                    // once every route has stored its trigger, those of jobs no route declares any more go
                    try {
                        StoredTriggers.removeUnowned(started);
                    } catch (Exception e) {
                        LOG.warn("Cannot look for stored triggers no route owns: {}", Secrets.mask(e.getMessage()));
                    }
                });
            }
            if (mode == Mode.RUN) {
                startWatchers(context);
            }
        }

        private void awaitDatabase() {
            try {
                opening.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof RuntimeException cause) {
                    throw cause;
                }
                throw e;
            }
        }

        /** The configuration table ranks above the files; in demo mode a made-up API key stands in for none. */
        private void addConfigurationTable(PropertiesComponent properties) {
            properties.addPropertiesSource(configSource);
            if (demo) {
                DemoApiKey.provideUnlessConfigured(properties);
            }
            registerSensitiveValues(properties);
        }

        /** Every typed value, every {@code *-file} key's file and every route's cron, all reported at once. */
        private void checkConfiguration(CamelContext context) {
            List<String> problems = new ArrayList<>();
            ConfigValidator.problems(context.getPropertiesComponent()).stream().map(this::withFix)
                    .forEach(problems::add);
            problems.addAll(ConfigFiles.problems(context));
            problems.addAll(RouteCrons.problems(context, catalog));
            if (!problems.isEmpty()) {
                throw new StartupException(String.join(System.lineSeparator(), problems));
            }
        }

        private void closeRunsLeftOpen() {
            try {
                if (database.settings().isExclusive()) {
                    int abandoned = jobStore.abandonAllRuns();
                    if (abandoned > 0) {
                        LOG.warn("{} runs were left running by the factory's last stop; marked abandoned, their"
                                + " claimed items go to the next runs", abandoned);
                    }
                } else {
                    int abandoned = jobStore.abandonRunsOf(node);
                    if (abandoned > 0) {
                        LOG.warn("{} runs of node {} were left running by its last stop; marked abandoned,"
                                + " their claimed items go to the next runs", abandoned, node);
                    }
                }
            } catch (SQLException e) {
                throw new StartupException("Cannot close the runs left open: " + Secrets.mask(e.getMessage()), e);
            }
        }

        /** The configuration watcher and this node's heartbeat, which run as long as the factory does. */
        private void startWatchers(CamelContext context) {
            configWatcher = new ConfigWatcher(context, configSource, catalog,
                    values.duration("factory.config.poll-interval", Duration.ofSeconds(5)),
                    services.errors()::recordRefusedValue);
            // a job paused automatically stops taking fires at once, not at the next poll
            ConfigWatcher watcher = configWatcher;
            services.runAlerts().afterConfigurationWritten(() -> {
                try {
                    watcher.poll();
                } catch (Exception e) {
                    LOG.warn("Cannot apply the configuration written: {}", Secrets.mask(e.getMessage()));
                }
            });
            try {
                context.addService(new NodeHeartbeat(context, database.dataSource(), node, FactoryVersion.get(),
                        values.duration("factory.node.heartbeat", Duration.ofSeconds(5)), services.databaseSight()),
                        true, true);
                context.addService(configWatcher, true, true);
                context.addService(services.overdueJobs(), true, true);
                // programs run once every route has started: a step needs its job's route
                context.addStartupListener(new ExtendedStartupListener() {
                    @Override
                    public void onCamelContextStarted(CamelContext started, boolean alreadyStarted) {
                        // the routes are not started yet
                    }

                    @Override
                    public void onCamelContextFullyStarted(CamelContext started, boolean alreadyStarted)
                            throws Exception {
                        started.addService(services.programExecutor(), true, true);
                    }
                });
            } catch (Exception e) {
                throw new StartupException("Cannot start the configuration watcher: " + e.getMessage(), e);
            }
            startProcesses(context);
            boolean served = context.getPropertiesComponent().resolveProperty("camel.server.enabled")
                    .map(v -> Boolean.parseBoolean(v.trim())).orElse(false);
            if (served) {
                try {
                    addOperatorApi(context, database, watcher);
                } catch (Exception e) {
                    throw new StartupException("Cannot set up the operator API: " + Secrets.mask(e.getMessage()), e);
                }
            }
        }

        /** The workers that run the processes' tasks, from the start on: a restart resumes the tasks left. */
        private void startProcesses(CamelContext context) {
            processStore = new ProcessStore(database.dataSource());
            processes = new ProcessDefinitions(context.getPropertiesComponent());
            processEngine = new ProcessEngine(context, processStore, processes, services.errors(),
                    services.metrics(), clock, new ProcessEngine.Settings(node, database.settings().isExclusive(),
                            values.integer("process.workers", 8, 1),
                            values.duration("process.poll-interval", Duration.ofSeconds(1)),
                            values.duration("factory.node.stale-after", Duration.ofMinutes(1)),
                            values.integer("process.max-tasks", 1000, 1),
                            values.string("factory.public-url", "http://localhost:8080")), services.databaseSight());
            try {
                context.addStartupListener(processEngine);
                context.addService(processEngine, true, true);
            } catch (Exception e) {
                throw new StartupException("Cannot start the process workers: " + Secrets.mask(e.getMessage()), e);
            }
        }

        /** The operator API and the status page on the HTTP server; the first admin token when none exists. */
        private void addOperatorApi(CamelContext context, Database database, ConfigWatcher watcher)
                throws Exception {
            ApiTokens tokens = new ApiTokens(database.dataSource(), clock);
            tokens.createFirstAdminToken(home.resolve(values.string("factory.data-dir", "data")).resolve("admin.token"));
            OperatorActions.ConfigurationApplier apply = write -> {
                try {
                    return watcher.writeAndPoll(write);
                } catch (SQLException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException("The configuration was written but could not be applied: "
                            + Secrets.mask(e.getMessage()), e);
                }
            };
            OperatorActions actions = new OperatorActions(database.dataSource(), database.dialect(), clock, tokens,
                    jobs, jobStore, configTable, apply, context.getPropertiesComponent(),
                    FactoryApplication.this::configReport,
                    context.getExecutorServiceManager().newCachedThreadPool(this, "api-runs"));
            context.addRoutes(new OperatorApi(tokens, actions, List.of(new ProcessApi(processes, processEngine,
                    processStore, new Audit(database.dataSource(), clock)),
                    new ProgramApi(database.dataSource(), clock, services.programs()))));
            context.addRoutes(new StatusPage());
        }

        /**
         * A bad value that comes from the configuration table is fixed there, with the factory stopped (the embedded
         * database is its own while it runs): the message gives the statement.
         */
        private String withFix(ConfigValidator.Problem problem) {
            String key = problem.key();
            boolean fromTable = configSource.getProperty(key) != null && Objects.equals(configSource.getProperty(key),
                    context.getPropertiesComponent().resolveProperty(key).orElse(null));
            if (!fromTable) {
                return problem.message();
            }
            return problem.message() + ". It comes from the configuration table; fix it with UPDATE factory_config"
                    + " SET config_value = '<a valid value>' WHERE config_key = '" + key + "'; or remove the row to use"
                    + " the file's or default value: DELETE FROM factory_config WHERE config_key = '" + key + "'";
        }

        private void addStartupListener(CamelContext context, Consumer<CamelContext> work) {
            try {
                context.addStartupListener(new ExtendedStartupListener() {
                    @Override
                    public void onCamelContextStarted(CamelContext started, boolean alreadyStarted) {
                        // the routes have started; the work waits for the context to be fully started
                    }

                    @Override
                    public void onCamelContextFullyStarted(CamelContext started, boolean alreadyStarted) {
                        work.accept(started);
                    }
                });
            } catch (Exception e) {
                throw new StartupException("Cannot set up the clustered schedule: " + e.getMessage(), e);
            }
        }

        @Override
        public void afterStop(BaseMainSupport support) {
            closeQuietly();
        }
    }

    /**
     * The HTTP servers' settings given in the environment ({@code CAMEL_SERVER_PORT}, {@code CAMEL_MANAGEMENT_HOST},
     * ...): Camel Main configures its servers from the property files only, so without this an environment variable
     * moved the management server (whose file values point at {@code camel.server.*}) and not the main one.
     */
    static Map<String, String> serverSettingsFromEnvironment(Map<String, String> environment) {
        Map<String, String> settings = new LinkedHashMap<>();
        environment.forEach((name, value) -> {
            for (String prefix : List.of("CAMEL_SERVER_", "CAMEL_MANAGEMENT_")) {
                if (name.startsWith(prefix) && name.length() > prefix.length()) {
                    settings.put(prefix.toLowerCase(Locale.ROOT).replace('_', '.')
                            + name.substring(prefix.length()).toLowerCase(Locale.ROOT).replace('_', '-'), value);
                }
            }
        });
        return settings;
    }

    /**
     * {@code factory.log.format} as far as it is known before Camel reads the configuration: from the overrides, the
     * environment or {@code config/application.properties}, so that the start's first lines are already in it. The
     * value is checked once Camel has read the configuration.
     */
    private static Optional<String> earlyLogFormat(Path home, Map<String, String> overrides) {
        String key = "factory.log.format";
        if (overrides.containsKey(key)) {
            return Optional.of(overrides.get(key)).filter(LogFormat::isFormat);
        }
        if (System.getenv("FACTORY_LOG_FORMAT") != null) {
            return Optional.empty();
        }
        Properties file = new Properties();
        try (Reader in = Files.newBufferedReader(home.resolve("config/application.properties"))) {
            file.load(in);
        } catch (IOException e) {
            // no file, or one the start reports on in its own words
            return Optional.empty();
        }
        return Optional.ofNullable(file.getProperty(key)).filter(LogFormat::isFormat);
    }

    /** Values of keys that are sensitive by name (password, secret, token, ...) are masked wherever they appear. */
    private static void registerSensitiveValues(PropertiesComponent properties) {
        properties.loadProperties(Secrets::isSecretKey).values()
                .forEach(v -> Secrets.register(String.valueOf(v)));
        System.getenv().forEach((k, v) -> {
            if (Secrets.isSecretKey(k.replace('_', '.'))) {
                Secrets.register(v);
            }
        });
    }
}
