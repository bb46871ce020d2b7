package io.factoryrunner;

import static io.factoryrunner.CommandRun.execute;
import static io.factoryrunner.CommandRun.validate;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.factoryrunner.db.DatabaseSettings;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** {@code validate} refuses what {@code run} would refuse, changes nothing, and prints its verdict and reasons. */
class ValidateCommandTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension().settings(home -> home
            .applicationProperties("job.fine.cron = 0 0 * * * ?\n").route("fine.camel.yaml", BadInputTest.VALID_ROUTE));
    final Path dir = factory.dir();

    static final String CRON_PROBLEM = "is not a valid Quartz cron expression (seconds minutes hours day-of-month"
            + " month day-of-week [year], e.g. '0 0/5 * * * ?'): Unexpected end of expression.";

    private FactoryHome home() {
        return factory.home(TestDatabase.H2);
    }

    // ---------------------------------------------------------------------------------------------------------
    // a cron written in a route

    @Test
    void a_five_field_cron_written_in_a_quartz_uri_is_refused_naming_the_route_and_its_file() {
        FactoryHome home = home().route("nightly.camel.yaml", """
                - route:
                    id: nightly
                    from:
                      uri: "quartz:x?cron=0 5 * * *"
                      steps:
                        - log: "x"
                """);
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(FactoryRunner.FAILED);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("Invalid: Route 'nightly' in config/routes/nightly.camel.yaml: cron '0 5 * * *' "
                + CRON_PROBLEM + "\n");
    }

    @Test
    void a_five_field_cron_given_to_a_job_is_refused_naming_the_route_and_its_file() {
        FactoryHome home = home().route("ship.camel.yaml", """
                - route:
                    id: ship
                    from:
                      uri: "job:ship"
                      parameters:
                        cron: "0 5 * * *"
                      steps:
                        - log: "x"
                """);
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(FactoryRunner.FAILED);
        assertThat(r.err()).isEqualTo("Invalid: Route 'ship' in config/routes/ship.camel.yaml: cron '0 5 * * *' "
                + CRON_PROBLEM + "\n");
    }

    @Test
    void a_cron_read_from_a_key_of_no_known_type_is_refused_naming_the_key_as_the_route_writes_it() {
        FactoryHome home = home().property("nightly.schedule", "0 5 * * *").route("ship.camel.yaml", """
                - route:
                    id: ship
                    from:
                      uri: "job:ship?cron={{nightly.schedule}}"
                      steps:
                        - log: "x"
                """);
        assertThat(validate(home).err()).isEqualTo("Invalid: Route 'ship' in config/routes/ship.camel.yaml: cron"
                + " '0 5 * * *' ({{nightly.schedule}}) " + CRON_PROBLEM + "\n");
    }

    @Test
    void run_refuses_a_five_field_cron_written_in_a_route_naming_the_route_and_its_file() {
        FactoryHome home = home().route("ship.camel.yaml", """
                - route:
                    id: ship
                    from:
                      uri: "job:ship"
                      parameters:
                        cron: "0 5 * * *"
                      steps:
                        - log: "x"
                """);
        FactoryApplication app = home.app(FactoryApplication.Mode.RUN);
        assertThatThrownBy(app::start).isInstanceOf(StartupException.class).hasMessage(
                "Route 'ship' in config/routes/ship.camel.yaml: cron '0 5 * * *' " + CRON_PROBLEM);
    }

    @Test
    void validate_refuses_a_cluster_on_the_embedded_h2_database_naming_the_setting() {
        FactoryHome home = home().property("factory.cluster.enabled", "true");

        CommandRun r = validate(home);

        assertThat(r.code()).isEqualTo(FactoryRunner.FAILED);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).startsWith("Invalid: Configuration key 'factory.cluster.enabled' is true, but a cluster"
                + " needs PostgreSQL and factory.db.url is jdbc:h2:file:").contains("factory.cluster.enabled = false");
    }

    @Test
    void validate_accepts_a_cluster_on_postgresql() {
        CommandRun r = validate(factory.home(TestDatabase.POSTGRESQL).property("factory.cluster.enabled", "true"));

        assertThat(r.err()).isEmpty();
        assertThat(r.code()).isZero();
    }

    @Test
    void a_query_file_that_is_not_there_is_refused_naming_the_key_and_where_it_was_looked_for() {
        FactoryHome home = home().property("source.sql.query-file", "file:config/sql/source.sql");
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(FactoryRunner.FAILED);
        assertThat(r.err()).isEqualTo("Invalid: Configuration key 'source.sql.query-file' has value"
                + " 'file:config/sql/source.sql' that names no file (looked for file:"
                + dir.resolve("config/sql/source.sql") + ")\n");
    }

    // ---------------------------------------------------------------------------------------------------------
    // a database run would refuse

    /** A customer's tables made before the first start do not stop it: validate says so too. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void validate_accepts_a_database_that_holds_a_customers_tables_as_run_does(TestDatabase db) {
        FactoryHome home = factory.home(db).onEmptyDatabase().execute("CREATE TABLE customer (id INTEGER)");
        CommandRun r = validate(home);
        assertThat(r.code()).as(r.err()).isEqualTo(FactoryRunner.OK);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void validate_and_run_refuse_a_schema_history_that_does_not_match_this_version(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db);
        try (var running = factory.start(home)) {
            running.app().jobStore();
        }
        // a migration that failed halfway, as an interrupted upgrade leaves it
        home.execute("UPDATE \"flyway_schema_history\" SET \"success\" = FALSE WHERE \"version\" = '12'");
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(FactoryRunner.FAILED);
        assertThat(r.err()).startsWith("Invalid: Database ").contains("has a schema history that does not match"
                + " the migrations of this version of the factory").containsIgnoringCase("failed");
        FactoryApplication app = home.app(FactoryApplication.Mode.RUN);
        assertThatThrownBy(app::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("has a schema history that does not match");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_statement_validate_gives_for_a_bad_table_value_fixes_it(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db);
        try (var running = factory.start(home)) {
            running.app().configTable().set("job.fine.cron", "every hour", false, null, "test");
        }
        CommandRun refused = validate(home);
        assertThat(refused.code()).isEqualTo(FactoryRunner.FAILED);
        String statement = refused.err().substring(refused.err().indexOf("UPDATE factory_config"),
                refused.err().indexOf("; or remove the row"));
        assertThat(statement).isEqualTo("UPDATE factory_config SET config_value = '<a valid value>'"
                + " WHERE config_key = 'job.fine.cron'");

        home.execute(statement.replace("<a valid value>", "0 30 * * * ?"));

        assertThat(validate(home).code()).isEqualTo(FactoryRunner.OK);
    }

    // ---------------------------------------------------------------------------------------------------------
    // nothing changes

    @Test
    void validate_of_a_new_installation_creates_no_file() {
        FactoryHome home = home().withoutOverride("factory.db.url");
        Map<String, String> before = files(dir);
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(FactoryRunner.OK);
        assertThat(r.out()).isEqualTo("Configuration valid. Routes (5): analytics-call, digest, fine, housekeeping, notify\n"
                + "Database: " + DatabaseSettings.embeddedUrl(dir.resolve("data"))
                + " does not exist yet; the first start creates it\n");
        assertThat(files(dir)).isEqualTo(before);
    }

    @Test
    void validate_of_an_installation_that_ran_changes_no_file() {
        FactoryHome home = home().withoutOverride("factory.db.url");
        factory.start(home).close();
        Map<String, String> before = files(dir);
        CommandRun r = validate(home);
        assertThat(r.code()).isEqualTo(FactoryRunner.OK);
        assertThat(r.out()).endsWith("Database: " + DatabaseSettings.embeddedUrl(dir.resolve("data"))
                + " reachable, schema up to date\n");
        assertThat(files(dir)).isEqualTo(before);
    }

    @Test
    void a_job_that_validate_created_stops_without_an_error() {
        FactoryHome home = home().route("ship.camel.yaml", """
                - route:
                    id: ship
                    from:
                      uri: "job:ship"
                      parameters:
                        cron: "0 5 * * * ?"
                      steps:
                        - log: "x"
                """);
        int logged = CapturedLog.text().length();
        assertThat(validate(home).code()).isEqualTo(FactoryRunner.OK);
        assertThat(CapturedLog.text().substring(logged)).doesNotContain("NullPointerException")
                .doesNotContain("Error occurred while shutting down service");
    }

    // ---------------------------------------------------------------------------------------------------------
    // the command line

    @Test
    void the_command_prints_its_verdict_and_no_log() {
        home().applicationProperties("job.fine.cron = 0 0 * * * ?\n");
        int logged = CapturedLog.text().length();
        CommandRun r = execute("validate", "--home", dir.toString());
        assertThat(r.code()).isEqualTo(FactoryRunner.OK);
        assertThat(r.out()).isEqualTo("Configuration valid. Routes (5): analytics-call, digest, fine, housekeeping, notify\n"
                + "Database: " + DatabaseSettings.embeddedUrl(dir.resolve("data"))
                + " does not exist yet; the first start creates it\n");
        assertThat(r.err()).isEmpty();
        assertThat(CapturedLog.text().substring(logged)).doesNotContain("Apache Camel")
                .doesNotContain("FactoryApplication");
    }

    @Test
    void the_command_prints_the_log_too_when_verbose() {
        home().applicationProperties("job.fine.cron = 0 0 * * * ?\n");
        int logged = CapturedLog.text().length();
        CommandRun r = execute("validate", "--home", dir.toString(), "--verbose");
        assertThat(r.code()).isEqualTo(FactoryRunner.OK);
        assertThat(CapturedLog.text().substring(logged)).contains("Apache Camel");
    }

    // ---------------------------------------------------------------------------------------------------------

    /** Every file under a directory with a digest of its content. */
    private static Map<String, String> files(Path root) {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.toList()) {
                files.put(root.relativize(p).toString(), Files.isDirectory(p) ? "directory" : digest(p));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return files;
    }

    private static String digest(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
