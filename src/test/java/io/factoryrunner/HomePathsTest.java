package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A relative path in the configuration is taken from the home ({@code --home}), never from the directory the
 * factory was started in: the tests run in the project directory, with the home elsewhere.
 */
class HomePathsTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    @Test
    void a_query_file_given_as_a_relative_file_uri_is_read_from_the_home() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2)
                .applicationProperties("probe.query-file = file:config/sql/probe.sql\n")
                .write("config/sql/probe.sql", "SELECT 'read from the home' AS answer")
                .route("probe.camel.yaml", """
                        - route:
                            id: probe
                            from:
                              uri: "direct:probe"
                              steps:
                                - to: "sql:{{probe.query-file}}"
                        """);
        assertThat(Path.of("config/sql/probe.sql")).doesNotExist();
        try (var running = factory.start(home)) {
            List<?> rows = running.app().context().createProducerTemplate()
                    .requestBody("direct:probe", null, List.class);
            assertThat(rows).singleElement().isEqualTo(Map.of("ANSWER", "read from the home"));
        }
    }

    @Test
    void a_relative_folder_of_a_file_endpoint_is_the_one_in_the_home() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2)
                .applicationProperties("inbox.dir = inbox\noutbox.dir = outbox\n")
                .write("inbox/hello.txt", "hello")
                .route("relay.camel.yaml", """
                        - route:
                            id: relay
                            from:
                              uri: "file:{{inbox.dir}}"
                              parameters:
                                initialDelay: 0
                              steps:
                                - to: "file:{{outbox.dir}}"
                        """);
        try (var running = factory.start(home)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(dir.resolve("outbox/hello.txt")));
        }
        assertThat(Path.of("inbox")).doesNotExist();
        assertThat(Path.of("outbox")).doesNotExist();
    }
}
