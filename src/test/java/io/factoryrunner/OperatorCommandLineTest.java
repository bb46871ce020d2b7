package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The operator commands when no factory answers: they say where they looked, and fail. */
class OperatorCommandLineTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    @Test
    void jobs_against_a_factory_that_is_down_names_the_url_it_tried_and_exits_1() {
        // a port nothing listens on: the factory is stopped
        String url = "http://127.0.0.1:" + FactoryHome.freePort();

        CommandRun r = CommandRun.execute("jobs", "--home", dir.toString(), "--url", url, "--token", "fr_any");

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("No factory answers at " + url + " (start it, or give --url / FACTORY_URL)\n");
    }

    @Test
    void without_a_url_the_command_tries_the_port_of_the_installation_and_names_it() throws Exception {
        int port = FactoryHome.freePort();
        Files.createDirectories(dir.resolve("config"));
        Files.writeString(dir.resolve("config/application.properties"), "camel.server.port = " + port + "\n");
        Files.createDirectories(dir.resolve("data"));
        Files.writeString(dir.resolve("data/admin.token"), "fr_written-at-the-first-start\n");

        CommandRun r = CommandRun.execute("errors", "--home", dir.toString());

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("No factory answers at http://localhost:" + port
                + " (start it, or give --url / FACTORY_URL)\n");
    }
}
