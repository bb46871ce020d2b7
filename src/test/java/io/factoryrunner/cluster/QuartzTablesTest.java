package io.factoryrunner.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.quartz.Scheduler;

/**
 * The migration that makes the clustered job store's tables holds the statements of the Quartz jar the factory runs
 * with: a Quartz upgrade whose tables differ fails here, before a cluster meets it.
 */
class QuartzTablesTest {

    @Test
    void the_quartz_tables_migration_matches_the_tables_of_the_quartz_jar_on_the_classpath() throws IOException {
        List<String> quartz = statements(read(Scheduler.class.getClassLoader(),
                "org/quartz/impl/jdbcjobstore/tables_postgres.sql"));
        List<String> migration = statements(read(QuartzTablesTest.class.getClassLoader(),
                "db/migration/postgresql/V18__quartz_cluster_tables.sql"));

        assertThat(quartz).isNotEmpty();
        assertThat(migration).containsExactlyElementsOf(quartz.stream()
                .filter(s -> !s.startsWith("DROP ") && !s.equals("COMMIT")).toList());
    }

    private static String read(ClassLoader loader, String resource) throws IOException {
        try (InputStream in = loader.getResourceAsStream(resource)) {
            assertThat(in).as(resource).isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The statements of a script, comments left out and white space made single. */
    private static List<String> statements(String script) {
        String code = script.lines().filter(l -> !l.trim().startsWith("--")).reduce("", (a, b) -> a + " " + b);
        return Arrays.stream(code.split(";")).map(s -> s.trim().replaceAll("\\s+", " ")).filter(s -> !s.isEmpty())
                .toList();
    }
}
