package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.config.ConfigReport;
import io.factoryrunner.config.ConfigTable;
import io.factoryrunner.job.JobEndpoint;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.apache.camel.CamelContext;
import org.apache.camel.Consumer;
import org.apache.camel.builder.NotifyBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ConfigurationTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();

    static final String GREETER = """
            - route:
                id: greeter
                from:
                  uri: "quartz:test/greeter"
                  parameters:
                    cron: "{{job.greeter.cron}}"
                  steps:
                    - setBody:
                        constant: "{{greeting}}"
                    - log: "greeter says ${body}"
            """;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void table_overrides_the_properties_file_which_overrides_the_jar_defaults(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db).applicationProperties("""
                factory.db.pool-size = 4
                greeting = from file
                only.in.file = file value
                """);
        try (var running = factory.start(home)) {
            running.app().configTable().set("greeting", "from table", false, null, "test");
        }
        var running = factory.start(home);
        CamelContext context = running.app().context();
        assertThat(context.resolvePropertyPlaceholders("{{greeting}}")).isEqualTo("from table");
        assertThat(context.resolvePropertyPlaceholders("{{only.in.file}}")).isEqualTo("file value");
        assertThat(context.resolvePropertyPlaceholders("{{factory.db.pool-size}}")).isEqualTo("4");
        // shipped default, untouched by file or table
        assertThat(context.resolvePropertyPlaceholders("{{factory.config.poll-interval}}")).isNotBlank();
        assertThat(running.app().configReport())
                .anySatisfy(l -> assertThat(l).isEqualTo(new ConfigReport.Line(
                        "greeting", "from table", "factory_config")))
                .anySatisfy(l -> assertThat(l).isEqualTo(new ConfigReport.Line(
                        "only.in.file", "file value", "config/application.properties")));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_changed_table_value_reaches_the_next_run_without_restart(TestDatabase db) throws Exception {
        var running = factory.start(factory.home(db)
                .applicationProperties("job.greeter.cron = 0/1 * * * * ?\ngreeting = first\n")
                .route("greeter.camel.yaml", GREETER));
        CamelContext context = running.app().context();
        NotifyBuilder first = new NotifyBuilder(context).fromRoute("greeter")
                .whenAnyDoneMatches(e -> "first".equals(e.getMessage().getBody(String.class))).create();
        assertThat(first.matches(10, TimeUnit.SECONDS)).isTrue();

        NotifyBuilder second = new NotifyBuilder(context).fromRoute("greeter")
                .whenAnyDoneMatches(e -> "second".equals(e.getMessage().getBody(String.class))).create();
        running.app().configTable().set("greeting", "second", false, "what the greeter says", "test");
        assertThat(second.matches(10, TimeUnit.SECONDS)).isTrue();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_operator_s_insert_of_a_key_and_a_value_is_applied_and_records_who_wrote_it_and_when(TestDatabase db)
            throws Exception {
        var running = factory.start(factory.home(db).applicationProperties("greeting = from file\n"));
        Sql.execute(running.dataSource(),
                "INSERT INTO factory_config (config_key, config_value) VALUES ('greeting', 'from an operator')");
        running.app().configWatcher().poll();

        assertThat(running.app().context().resolvePropertyPlaceholders("{{greeting}}"))
                .isEqualTo("from an operator");
        ConfigTable.Entry row = running.app().configTable().loadAll().get("greeting");
        assertThat(row.updatedBy()).isEqualToIgnoringCase(db.user());
        assertThat(row.updatedAt()).isCloseTo(Instant.now(), within(1, ChronoUnit.MINUTES));
        assertThat(row.secret()).isFalse();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_operator_s_update_as_the_readme_writes_it_records_who_changed_the_value_and_when(TestDatabase db)
            throws Exception {
        var running = factory.start(factory.home(db));
        DataSource ds = running.dataSource();
        Sql.execute(ds, "INSERT INTO factory_config (config_key, config_value, updated_by, updated_at) VALUES"
                + " ('greeting', 'first', 'someone else', TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00')");
        Sql.execute(ds, "UPDATE factory_config SET config_value = 'second', updated_by = CURRENT_USER,"
                + " updated_at = CURRENT_TIMESTAMP WHERE config_key = 'greeting'");

        ConfigTable.Entry row = running.app().configTable().loadAll().get("greeting");
        assertThat(row.value()).isEqualTo("second");
        assertThat(row.updatedBy()).isEqualToIgnoringCase(db.user());
        assertThat(row.updatedAt()).isCloseTo(Instant.now(), within(1, ChronoUnit.MINUTES));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_cron_changed_in_the_table_reschedules_the_job(TestDatabase db) throws Exception {
        var running = factory.start(factory.home(db)
                .applicationProperties("job.greeter.cron = 0 0 0 1 1 ? 2099\ngreeting = hi\n")
                .route("greeter.camel.yaml", GREETER));
        NotifyBuilder fired = new NotifyBuilder(running.app().context()).fromRoute("greeter").whenDone(2)
                .create();
        NotifyBuilder any = new NotifyBuilder(running.app().context()).fromRoute("greeter").whenDone(1).create();
        // a fire the far cron should not make comes at the start, as a misfire, or within its first second
        assertThat(any.matches(1, TimeUnit.SECONDS)).isFalse();
        running.app().configTable().set("job.greeter.cron", "0/1 * * * * ?", false, null, "test");
        assertThat(fired.matches(15, TimeUnit.SECONDS)).isTrue();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_secret_value_never_appears_in_the_log(TestDatabase db) throws Exception {
        String secret = "s3cr3t-" + db + "-" + System.nanoTime();
        String leaky = """
                - route:
                    id: leaky
                    from:
                      uri: "quartz:test/leaky"
                      parameters:
                        cron: "0/1 * * * * ?"
                      steps:
                        - log: "calling with key {{analytics.key}}"
                        - throwException:
                            exceptionType: "java.lang.IllegalStateException"
                            message: "refused key ${properties:analytics.key}"
                """;
        FactoryHome home = factory.home(db).applicationProperties("analytics.key = placeholder\n");
        try (var running = factory.start(home)) {
            running.app().configTable().set("analytics.key", secret, true, "API key", "test");
        }
        home.route("leaky.camel.yaml", leaky);
        var running = factory.start(home);
        // the failure goes through the dead-letter channel into the error table
        NotifyBuilder failed = new NotifyBuilder(running.app().context()).fromRoute("leaky").whenDone(1)
                .create();
        assertThat(failed.matches(10, TimeUnit.SECONDS)).isTrue();
        await().atMost(Duration.ofSeconds(5))
                .until(() -> CapturedLog.text().contains("refused key ******"));
        assertThat(CapturedLog.text()).contains("calling with key ******").doesNotContain(secret);
        assertThat(Sql.rows(running.dataSource(), "SELECT message, stack_trace FROM factory_error")).first()
                .satisfies(r -> {
                    assertThat((String) r.get("message")).contains("refused key ******").doesNotContain(secret);
                    assertThat((String) r.get("stack_trace")).doesNotContain(secret);
                });
        assertThat(running.app().configReport()).filteredOn(l -> l.key().equals("analytics.key"))
                .singleElement().satisfies(l -> assertThat(l.value()).isEqualTo("******"));
    }

    static final String TICK_JOB = """
            - route:
                id: tick
                from:
                  uri: "job:tick"
                  parameters:
                    cron: "{{job.tick.cron}}"
                    chunkSize: "{{tick.size}}"
                  steps:
                    - log: "tick"
            """;

    private static JobEndpoint tickEndpoint(FactoryApplication app) {
        return (JobEndpoint) app.context().getRoute("tick").getEndpoint();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_bad_value_written_to_the_table_is_refused_recorded_once_and_the_job_keeps_running(TestDatabase db)
            throws Exception {
        var running = factory.start(factory.home(db)
                .applicationProperties("job.tick.cron = 0 0 0 1 1 ? 2099\ntick.size = 10\n")
                .route("tick.camel.yaml", TICK_JOB));
        FactoryApplication app = running.app();
        DataSource ds = app.database().dataSource();
        app.configTable().set("job.tick.cron", "0 5 * * *", false, "five fields", "test");
        app.configWatcher().poll();
        app.configWatcher().poll();

        assertThat(app.context().getRouteController().getRouteStatus("tick").isStarted()).isTrue();
        assertThat(tickEndpoint(app).getCron()).isEqualTo("0 0 0 1 1 ? 2099");
        assertThat(app.context().resolvePropertyPlaceholders("{{job.tick.cron}}")).isEqualTo("0 0 0 1 1 ? 2099");
        assertThat(Sql.rows(ds, "SELECT job, category, message FROM factory_error")).singleElement()
                .satisfies(r -> {
                    assertThat(r.get("job")).isEqualTo("tick");
                    assertThat(r.get("category")).isEqualTo("configuration");
                    assertThat((String) r.get("message")).contains("job.tick.cron").contains("0 5 * * *");
                });
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'error_opened'")).isEqualTo(1);
        assertThat(CapturedLog.text()).contains("Configuration key 'job.tick.cron' has value '0 5 * * *'")
                .contains("the factory keeps the value it had");

        app.configTable().set("job.tick.cron", "0 0 0 1 1 ? 2098", false, "fixed", "test");
        app.configWatcher().poll();
        assertThat(tickEndpoint(app).getCron()).isEqualTo("0 0 0 1 1 ? 2098");
        assertThat(app.context().getRouteController().getRouteStatus("tick").isStarted()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_value_the_route_cannot_take_puts_the_route_back_as_it_was(TestDatabase db) throws Exception {
        var running = factory.start(factory.home(db)
                .applicationProperties("job.tick.cron = 0 0 0 1 1 ? 2099\ntick.size = 10\n")
                .route("tick.camel.yaml", TICK_JOB));
        FactoryApplication app = running.app();
        DataSource ds = app.database().dataSource();
        app.configTable().set("tick.size", "ten", false, "not a number", "test");
        app.configWatcher().poll();
        Consumer putBack = app.context().getRoute("tick").getConsumer();
        app.configWatcher().poll();
        app.configWatcher().poll();
        assertThat(app.context().getRoute("tick").getConsumer()).as("the route after later polls")
                .isSameAs(putBack);

        assertThat(app.context().getRouteController().getRouteStatus("tick").isStarted()).isTrue();
        assertThat(tickEndpoint(app).getChunkSize()).isEqualTo(10);
        assertThat(Sql.rows(ds, "SELECT category, message FROM factory_error")).singleElement()
                .satisfies(r -> assertThat((String) r.get("message")).contains("Route 'tick'")
                        .contains("tick.size"));

        app.configTable().set("tick.size", "25", false, "a number", "test");
        app.configWatcher().poll();
        assertThat(tickEndpoint(app).getChunkSize()).isEqualTo(25);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_bad_value_in_the_table_at_start_names_the_key_the_value_and_the_statement_that_fixes_it(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db)
                .applicationProperties("job.tick.cron = 0 0 0 1 1 ? 2099\ntick.size = 10\n")
                .route("tick.camel.yaml", TICK_JOB);
        try (var running = factory.start(home)) {
            running.app().configTable().set("job.tick.cron", "0 5 * * *", false, "five fields", "test");
        }
        FactoryApplication app = home.app(FactoryApplication.Mode.RUN);
        assertThatThrownBy(app::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("'job.tick.cron' has value '0 5 * * *'")
                .hasMessageContaining("UPDATE factory_config SET config_value = '<a valid value>'"
                        + " WHERE config_key = 'job.tick.cron'");
    }

    @Test
    void a_stale_after_within_two_heartbeats_is_refused_at_start_naming_both_keys() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2).applicationProperties("""
                factory.node.heartbeat = 5s
                factory.node.stale-after = 8s
                """);
        FactoryApplication app = home.app(FactoryApplication.Mode.RUN);
        assertThatThrownBy(app::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("Configuration key 'factory.node.stale-after' has value '8s', not more than"
                        + " twice factory.node.heartbeat ('5s')")
                .hasMessageContaining("Give it more than 10s");
    }

    @Test
    void in_a_cluster_a_node_timeout_within_two_heartbeats_is_refused_at_start() throws Exception {
        FactoryHome home = factory.home(TestDatabase.POSTGRESQL).property("factory.cluster.enabled", "true")
                .property("factory.node.heartbeat", "2s").property("factory.cluster.node-timeout", "4000");
        FactoryApplication app = home.app(FactoryApplication.Mode.RUN);
        assertThatThrownBy(app::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("Configuration key 'factory.cluster.node-timeout' has value '4000', not more"
                        + " than twice factory.node.heartbeat ('2s')")
                .hasMessageContaining("declared lost")
                .message().doesNotContain("factory.node.stale-after");
    }

    @Test
    void a_stale_after_or_heartbeat_written_to_the_table_within_two_heartbeats_is_refused_and_the_old_kept()
            throws Exception {
        // in the file, below the table
        try (var running = factory.start(factory.home(TestDatabase.H2).applicationProperties("""
                factory.node.heartbeat = 5s
                factory.node.stale-after = 1m
                """))) {
            FactoryApplication app = running.app();
            app.configTable().set("factory.node.stale-after", "10s", false, "shorter", "test");
            assertThat(app.configWatcher().poll()).containsOnlyKeys("factory.node.stale-after")
                    .extractingByKey("factory.node.stale-after").asString()
                    .contains("has value '10s', not more than twice factory.node.heartbeat ('5s')");
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.stale-after}}")).isEqualTo("1m");

            app.configTable().set("factory.node.heartbeat", "30s", false, "less often", "test");
            assertThat(app.configWatcher().poll()).extractingByKey("factory.node.heartbeat").asString()
                    .contains("'factory.node.heartbeat' has value '30s', and factory.node.stale-after ('1m') would be"
                            + " no more than twice it");
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.heartbeat}}")).isEqualTo("5s");

            app.configTable().set("factory.node.stale-after", "11s", false, "just enough", "test");
            assertThat(app.configWatcher().poll()).doesNotContainKey("factory.node.stale-after");
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.stale-after}}")).isEqualTo("11s");
        }
    }

    /**
     * A heartbeat raised together with the span that must exceed it, in one write to the table, is held against the
     * span as written beside it: both are applied. Beside a span that is refused (not a duration), the heartbeat is
     * held against the span kept, and refused too.
     */
    @Test
    void a_heartbeat_and_its_span_raised_in_one_write_to_the_table_are_both_applied() throws Exception {
        try (var running = factory.start(factory.home(TestDatabase.H2).applicationProperties("""
                factory.node.heartbeat = 5s
                factory.node.stale-after = 1m
                """))) {
            FactoryApplication app = running.app();
            Map<String, String> refused = app.configWatcher().writeAndPoll(() -> {
                app.configTable().set("factory.node.heartbeat", "45s", false, "less often", "test");
                app.configTable().set("factory.node.stale-after", "2m", false, "room for two", "test");
            });
            assertThat(refused).isEmpty();
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.heartbeat}}")).isEqualTo("45s");
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.stale-after}}")).isEqualTo("2m");

            refused = app.configWatcher().writeAndPoll(() -> {
                app.configTable().set("factory.node.heartbeat", "90s", false, "rarer", "test");
                app.configTable().set("factory.node.stale-after", "three minutes", false, "typo", "test");
            });
            assertThat(refused).containsOnlyKeys("factory.node.heartbeat", "factory.node.stale-after");
            assertThat(refused.get("factory.node.heartbeat")).contains("'factory.node.heartbeat' has value '90s', and"
                    + " factory.node.stale-after ('2m') would be no more than twice it");
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.heartbeat}}")).isEqualTo("45s");
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.stale-after}}")).isEqualTo("2m");

            // the span mended: both apply at the next poll
            refused = app.configWatcher().writeAndPoll(() -> app.configTable().set("factory.node.stale-after", "4m",
                    false, "fixed", "test"));
            assertThat(refused).isEmpty();
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.heartbeat}}")).isEqualTo("90s");
            assertThat(app.context().resolvePropertyPlaceholders("{{factory.node.stale-after}}")).isEqualTo("4m");
        }
    }

    @Test
    void a_node_timeout_is_not_held_to_the_heartbeat_outside_a_cluster() throws Exception {
        try (var running = factory.start(factory.home(TestDatabase.H2).property("factory.node.heartbeat", "2s")
                .property("factory.cluster.node-timeout", "3s"))) {
            assertThat(running.app().context().getStatus().isStarted()).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_quartz_route_created_again_while_it_fires_keeps_firing_on_its_own_endpoint(TestDatabase db)
            throws Exception {
        var running = factory.start(factory.home(db).applicationProperties("greeting = v0\n")
                .route("fast.camel.yaml", """
                        - route:
                            id: fast
                            from:
                              uri: "quartz:test/fast?triggerStartDelay=0&trigger.repeatInterval=15&trigger.repeatCount=-1"
                              steps:
                                - setBody:
                                    constant: "{{greeting}}"
                        """));
        CamelContext context = running.app().context();
        for (int i = 1; i <= 25; i++) {
            String value = "v" + i;
            NotifyBuilder fired = new NotifyBuilder(context).fromRoute("fast")
                    .whenAnyDoneMatches(e -> value.equals(e.getMessage().getBody(String.class))).create();
            // created again while it fires every 15 ms
            running.app().configTable().set("greeting", value, false, null, "test");
            running.app().configWatcher().poll();
            assertThat(fired.matches(20, TimeUnit.SECONDS)).as("fired with %s", value).isTrue();
        }
        // a fire that found no route would have left an endpoint of its own, scheduling behind the route's back
        assertThat(context.getEndpoints()).filteredOn(e -> e.getEndpointUri().startsWith("quartz://test/fast"))
                .containsExactly(context.getRoute("fast").getEndpoint());
    }
}
