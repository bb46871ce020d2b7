package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Environment variables can only be set for a new process: this test runs the command line in one. */
class EnvironmentPrecedenceTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    @Test
    void environment_variable_overrides_the_table_and_the_file() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2)
                .applicationProperties("greeting = from file\nfarewell = from file\n");
        try (var running = factory.start(home)) {
            running.app().configTable().set("greeting", "from table", false, null, "test");
            running.app().configTable().set("farewell", "from table", false, null, "test");
        }
        String output = runConfigCommand(home, "GREETING", "from environment");
        assertThat(output).contains("greeting = from environment    [environment]");
        assertThat(output).contains("farewell = from table    [factory_config]");
    }

    private static String runConfigCommand(FactoryHome home, String envName, String envValue) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                FactoryRunner.class.getName(), "config", "--home", home.dir().toString()));
        pb.environment().put(envName, envValue);
        pb.environment().put("FACTORY_DB_URL", home.url());
        pb.redirectErrorStream(true);
        Process process = pb.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        return output;
    }
}
