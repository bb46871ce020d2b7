package io.factoryrunner;

import static io.factoryrunner.CommandRun.execute;
import static io.factoryrunner.CommandRun.validate;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Every bad input stops the start (and {@code validate}) with a message that names what is wrong and where. */
class BadInputTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();

    static final String VALID_ROUTE = """
            - route:
                id: fine
                from:
                  uri: "quartz:test/fine"
                  parameters:
                    cron: "{{job.fine.cron}}"
                  steps:
                    - log: "fine"
            """;

    private FactoryHome home() {
        return factory.home(TestDatabase.H2).applicationProperties("job.fine.cron = 0 0 * * * ?\n")
                .route("fine.camel.yaml", VALID_ROUTE);
    }

    private StartupException startFails(FactoryHome home) {
        var app = home.app(FactoryApplication.Mode.RUN);
        StartupException[] caught = new StartupException[1];
        assertThatThrownBy(app::start).isInstanceOfSatisfying(StartupException.class, e -> caught[0] = e);
        assertThat(app.context() == null || !app.context().isStarted()).isTrue();
        return caught[0];
    }

    @Test
    void valid_installation_validates_with_exit_code_zero() {
        CommandRun r = validate(home());
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Configuration valid").contains("fine");
    }

    @Test
    void validate_starts_no_job_and_creates_no_schema() throws Exception {
        FactoryHome home = home().onEmptyDatabase();
        var app = home.app(FactoryApplication.Mode.VALIDATE);
        try {
            app.start();
            assertThat(app.context().getRouteController().getRouteStatus("fine").isStarted()).isFalse();
            assertThat(app.pendingMigrations()).isPositive();
        } finally {
            app.stop();
        }
    }

    @Test
    void a_second_route_taking_the_same_job_stops_the_start_naming_both_files() {
        FactoryHome home = home().route("ship.camel.yaml", """
                - route:
                    id: ship
                    from:
                      uri: "job:ship"
                      steps:
                        - log: "ship"
                """).route("ship-again.camel.yaml", """
                - route:
                    id: ship-again
                    from:
                      uri: "job:ship?upstream=fine"
                      steps:
                        - log: "again"
                """);
        StartupException e = startFails(home);
        assertThat(e.getMessage()).contains("Job 'ship'").contains("'ship' in config/routes/ship.camel.yaml")
                .contains("'ship-again' in config/routes/ship-again.camel.yaml");
    }

    @Test
    void an_unknown_job_option_stops_the_start_naming_the_option_and_the_route() {
        FactoryHome home = home().route("ship.camel.yaml", """
                - route:
                    id: ship
                    from:
                      uri: "job:ship"
                      parameters:
                        batchSize: "10"
                      steps:
                        - log: "ship"
                """);
        StartupException e = startFails(home);
        assertThat(e.getMessage()).contains("Route 'ship' in config/routes/ship.camel.yaml").contains("batchSize");
    }

    @Test
    void max_runs_below_one_stops_the_start_and_validate_naming_the_option_and_the_route() {
        FactoryHome home = home().route("ship.camel.yaml", """
                - route:
                    id: ship
                    from:
                      uri: "job:ship"
                      parameters:
                        maxRuns: "0"
                      steps:
                        - log: "ship"
                """);
        assertThat(startFails(home).getMessage()).isEqualTo("Route 'ship' in config/routes/ship.camel.yaml: maxRuns"
                + " of job ship must be at least 1, not 0");
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("Route 'ship' in config/routes/ship.camel.yaml: maxRuns of job ship must be at"
                + " least 1, not 0");
    }

    @Test
    void several_runs_of_a_job_committing_a_chunk_at_once_stop_the_start_naming_both_options_and_the_route() {
        FactoryHome home = home().route("load.camel.yaml", """
                - route:
                    id: load
                    from:
                      uri: "job:load"
                      parameters:
                        maxRuns: "3"
                        transaction: chunk
                      steps:
                        - log: "load"
                """);
        assertThat(startFails(home).getMessage()).isEqualTo("Route 'load' in config/routes/load.camel.yaml: maxRuns 3"
                + " of job load needs transaction claim, not chunk: runs that share a job's items take them through"
                + " claims committed apart; set transaction: claim, or maxRuns: 1");
    }

    @Test
    void a_job_that_follows_no_upstream_stops_the_start_naming_the_option_and_the_route() {
        FactoryHome home = home().route("intake.camel.yaml", """
                - route:
                    id: intake
                    from:
                      uri: "job:intake"
                      parameters:
                        follow: "true"
                      steps:
                        - log: "intake"
                """);
        assertThat(startFails(home).getMessage()).isEqualTo("Route 'intake' in config/routes/intake.camel.yaml: follow"
                + " of job intake needs an upstream to follow: set upstream, or remove follow");
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("Route 'intake' in config/routes/intake.camel.yaml: follow of job intake needs"
                + " an upstream to follow");
    }

    @Test
    void malformed_yaml_names_the_file_and_line() {
        FactoryHome home = home().route("broken.camel.yaml", """
                - route:
                    id: broken
                    from:
                      uri: "timer:x"
                      steps:
                      - log: "x"
                   oops: [
                """);
        assertThat(startFails(home).getMessage()).contains("config/routes/broken.camel.yaml").contains("line 7");
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("config/routes/broken.camel.yaml").contains("line 7");
    }

    @Test
    void unknown_dsl_element_names_the_file_and_line() {
        FactoryHome home = home().route("typo.camel.yaml", """
                - route:
                    id: typo
                    from:
                      uri: "timer:x"
                      steps:
                        - too: "log:x"
                """);
        assertThat(startFails(home).getMessage()).contains("typo.camel.yaml").contains("line 6").contains("too");
        assertThat(validate(home).code()).isEqualTo(1);
    }

    @Test
    void unknown_placeholder_names_the_key_and_the_route() {
        FactoryHome home = home().route("needs.camel.yaml", """
                - route:
                    id: needs-key
                    from:
                      uri: "timer:x?repeatCount=1"
                      steps:
                        - to: "log:{{customer.missing.key}}"
                """);
        String message = startFails(home).getMessage();
        assertThat(message).contains("customer.missing.key").contains("needs-key")
                .contains("config/routes/needs.camel.yaml");
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("customer.missing.key").contains("needs-key");
    }

    @Test
    void invalid_cron_names_the_key_and_the_value() {
        FactoryHome home = home().applicationProperties("job.fine.cron = 0 0 * * *\n");
        assertThat(startFails(home).getMessage()).contains("job.fine.cron").contains("'0 0 * * *'")
                .contains("cron");
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("job.fine.cron").contains("0 0 * * *");
    }

    @Test
    void invalid_cron_in_the_table_is_refused_too() throws Exception {
        FactoryHome home = home();
        try (var running = factory.start(home)) {
            running.app().configTable().set("job.fine.cron", "every hour", false, null, "test");
        }
        assertThat(startFails(home).getMessage()).contains("job.fine.cron").contains("'every hour'");
    }

    @Test
    void value_of_the_wrong_type_names_the_key_and_the_value() {
        FactoryHome home = home().applicationProperties("""
                job.fine.cron = 0 0 * * * ?
                job.fine.chunk-size = lots
                job.fine.enabled = maybe
                """);
        String message = startFails(home).getMessage();
        assertThat(message).contains("job.fine.chunk-size").contains("'lots'").contains("whole number");
        assertThat(message).contains("job.fine.enabled").contains("'maybe'").contains("true or false");
    }

    @Test
    void a_retention_that_is_not_a_duration_names_the_key_at_start_not_at_the_first_housekeeping() {
        FactoryHome home = home().property("factory.retention.state", "three weeks");
        assertThat(startFails(home).getMessage()).contains("factory.retention.state").contains("'three weeks'");
    }

    @Test
    void a_drop_size_limit_that_is_not_a_number_of_bytes_names_the_key() {
        FactoryHome home = home().property("source.drop.max-size", "500KB");
        assertThat(startFails(home).getMessage()).contains("source.drop.max-size").contains("'500KB'")
                .contains("whole number");
    }

    @Test
    void wrong_type_of_a_database_setting_names_the_key() {
        FactoryHome home = home().property("factory.db.pool-size", "ten");
        assertThat(startFails(home).getMessage()).contains("factory.db.pool-size").contains("'ten'");
    }

    @Test
    void a_secret_shorter_than_four_characters_is_refused_naming_the_key_but_not_the_value() {
        FactoryHome home = home().applicationProperties("""
                job.fine.cron = 0 0 * * * ?
                factory.mail.password = abc
                """);
        assertThat(startFails(home).getMessage()).contains("'factory.mail.password'").contains("3 characters")
                .doesNotContain("abc");
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("factory.mail.password").doesNotContain("abc");
    }

    @Test
    void a_short_secret_marked_in_the_configuration_table_is_refused_too() throws Exception {
        FactoryHome home = home();
        try (var running = factory.start(home)) {
            running.app().configTable().set("partner.pin", "42", true, null, "test");
        }
        assertThat(startFails(home).getMessage()).contains("'partner.pin'").contains("2 characters");
    }

    @Test
    void an_empty_or_placeholder_secret_is_accepted() {
        CommandRun r = validate(home().applicationProperties("""
                job.fine.cron = 0 0 * * * ?
                factory.mail.password =
                partner.api-token = none
                partner.shared-secret = n/a
                """));
        assertThat(r.code()).isZero();
    }

    @Test
    void refused_database_connection_names_the_url_without_password() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        FactoryHome home = home().property("factory.db.url",
                        "jdbc:postgresql://127.0.0.1:" + port + "/factory?password=hunter22")
                .property("factory.db.user", "factory").property("factory.db.password", "hunter22")
                .property("factory.db.connect-timeout", "2s");
        String message = startFails(home).getMessage();
        assertThat(message).contains("jdbc:postgresql://127.0.0.1:" + port + "/factory")
                .contains("'factory'").doesNotContain("hunter22");
    }

    @Test
    void database_that_never_answers_fails_within_the_timeout_instead_of_hanging() throws Exception {
        List<Socket> accepted = new ArrayList<>();
        try (ServerSocket silent = new ServerSocket(0)) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept());
                    }
                } catch (Exception closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            FactoryHome home = home()
                    .property("factory.db.url", "jdbc:postgresql://127.0.0.1:" + silent.getLocalPort() + "/factory")
                    .property("factory.db.connect-timeout", "2s");
            long started = System.nanoTime();
            String message = startFails(home).getMessage();
            long seconds = (System.nanoTime() - started) / 1_000_000_000L;
            assertThat(message).contains("127.0.0.1:" + silent.getLocalPort());
            assertThat(seconds).as("seconds until the start gave up").isLessThan(30);
        } finally {
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    @Test
    void unknown_command_is_a_usage_error() {
        CommandRun r = execute("frobnicate");
        assertThat(r.code()).isEqualTo(FactoryRunner.USAGE);
        assertThat(r.err()).contains("frobnicate").contains("Usage");
    }
}
