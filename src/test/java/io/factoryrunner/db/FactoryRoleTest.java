package io.factoryrunner.db;

import static io.factoryrunner.testsupport.Sql.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The role {@code config/sql/create-factory-role.sql} makes, run by psql as the README says, on a real PostgreSQL:
 * the factory runs as it, migrations included, with every table in the role's schema, and the role is refused a table
 * of another schema.
 */
class FactoryRoleTest {

    static final Path SCRIPT = Path.of("config/sql/create-factory-role.sql");

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();

    @Test
    void the_factory_runs_as_its_own_role_in_its_schema_and_is_refused_other_tables() throws Exception {
        String role = "factory_" + UUID.randomUUID().toString().substring(0, 8);
        String password = "role-" + UUID.randomUUID();
        FactoryHome home = factory.home(TestDatabase.POSTGRESQL).onEmptyDatabase();
        Matcher url = Pattern.compile("jdbc:postgresql://([^:/]+):(\\d+)/([^?]+)").matcher(home.url());
        assertThat(url.find()).as(home.url()).isTrue();
        home.execute("CREATE SCHEMA shop", "CREATE TABLE shop.orders (id INTEGER, total NUMERIC)",
                "INSERT INTO shop.orders VALUES (1, 100)", "CREATE TABLE public.payroll (name TEXT, salary NUMERIC)");

        psql(url.group(1), url.group(2), url.group(3), "-v", "role=" + role, "-v", "password=" + password, "-v",
                "schema=factory", "-f", SCRIPT.toString());

        var running = factory.start(home.property("factory.db.url", home.url().replaceFirst("\\?.*$", ""))
                .property("factory.db.user", role).property("factory.db.password", password)
                .property("factory.node.heartbeat", "200"));
        DataSource ds = running.dataSource();

        assertThat(Sql.column(ds, "SELECT CURRENT_USER")).containsExactly(role);
        assertThat(count(ds, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'factory' AND tableowner = ?",
                role)).as("the factory's tables, its role's").isGreaterThanOrEqualTo(10);
        assertThat(count(ds, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'factory' AND tablename IN"
                + " ('job_run', 'flyway_schema_history', 'qrtz_triggers')")).isEqualTo(3);
        assertThat(count(ds, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = ?",
                role)).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> count(ds, "SELECT COUNT(*) FROM factory_node") == 1);

        for (String statement : List.of("SELECT * FROM shop.orders", "SELECT * FROM public.payroll",
                "UPDATE public.payroll SET salary = 0", "CREATE TABLE shop.mine (id INTEGER)")) {
            assertThatThrownBy(() -> Sql.execute(ds, statement)).as(statement).isInstanceOf(SQLException.class)
                    .hasMessageContaining("permission denied");
        }
    }

    /** psql, as an administrator runs it, against the embedded server. */
    private static void psql(String host, String port, String database, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("psql", "-h", host, "-p", port, "-U",
                TestDatabase.POSTGRESQL.user(), "-d", database, "-X", "-q"));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("PGPASSWORD", TestDatabase.POSTGRESQL.password());
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
    }
}
