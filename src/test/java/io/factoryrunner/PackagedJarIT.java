package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.db.DatabaseSettings;
import io.factoryrunner.testsupport.TestHttp;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packaged jar, run as a user runs it: {@code java -jar target/factory-runner.jar}. */
class PackagedJarIT {

    @TempDir
    Path home;

    record Result(int code, String output) {
    }

    private Result runJar(String... args) throws Exception {
        Path jar = Path.of("target/factory-runner.jar").toAbsolutePath();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-jar", jar.toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).directory(home.toFile()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(90, TimeUnit.SECONDS)).isTrue();
        return new Result(process.exitValue(), output);
    }

    private void copyShippedConfig() throws IOException {
        Path source = Path.of("config").toAbsolutePath();
        try (var walk = Files.walk(source)) {
            for (Path p : walk.toList()) {
                Path target = home.resolve("config").resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    @Test
    void validate_of_the_shipped_configuration_prints_its_verdict_and_nothing_else() throws Exception {
        copyShippedConfig();
        Result r = runJar("validate");
        assertThat(r.code()).as(r.output()).isZero();
        assertThat(r.output()).isEqualTo("""
                Configuration valid. Routes (12): analytics-call, build, check, cleanup, digest, housekeeping, notify, \
                prepare, prepare-drop, prepare-intake, process, ready
                Database: %s does not exist yet; the first start creates it
                """.formatted(DatabaseSettings.embeddedUrl(home.toRealPath().resolve("data"))));
    }

    @Test
    void validate_of_a_refused_value_prints_its_verdict_and_nothing_else() throws Exception {
        copyShippedConfig();
        Files.writeString(home.resolve("config/application.properties"), "factory.node.heartbeat = 30s\n",
                StandardOpenOption.APPEND);
        Result r = runJar("validate");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.output().lines()).singleElement().asString().startsWith("Invalid: Configuration key"
                + " 'factory.node.stale-after' has value '1m', not more than twice factory.node.heartbeat ('30s')");
    }

    @Test
    void validate_creates_no_file_in_the_home() throws Exception {
        copyShippedConfig();
        runJar("validate");
        try (var files = Files.list(home)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("config");
        }
    }

    @Test
    void validate_with_verbose_prints_the_log_as_well() throws Exception {
        copyShippedConfig();
        Result r = runJar("validate", "--verbose");
        assertThat(r.code()).as(r.output()).isZero();
        assertThat(r.output()).contains("Apache Camel").contains("Configuration valid").doesNotContain("Exception");
    }

    @Test
    void validate_of_a_broken_route_file_exits_one_naming_file_and_line() throws Exception {
        copyShippedConfig();
        Files.writeString(home.resolve("config/routes/broken.yaml"), "- route:\n    id: x\n\tfrom: y\n");
        Result r = runJar("validate");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.output()).contains("config/routes/broken.yaml").contains("line 3");
    }

    @Test
    void help_lists_the_commands() throws Exception {
        Result r = runJar("help");
        assertThat(r.code()).isZero();
        assertThat(r.output()).contains("validate").contains("run");
    }

    @Test
    void the_running_jar_serves_the_operator_api_and_its_command_line_talks_to_it() throws Exception {
        copyShippedConfig();
        int port = freePort();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String jar = Path.of("target/factory-runner.jar").toAbsolutePath().toString();
        ProcessBuilder builder = new ProcessBuilder(java, "-jar", jar).directory(home.toFile())
                .redirectErrorStream(true).redirectOutput(home.resolve("run.log").toFile());
        builder.environment().put("CAMEL_SERVER_PORT", String.valueOf(port));
        builder.environment().put("FACTORY_DB_H2_TCP_PORT", String.valueOf(freePort()));
        Process factory = builder.start();
        try {
            HttpClient http = TestHttp.client();
            Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500))
                    .ignoreExceptions().until(() -> http.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + port + "/api/openapi.json")).build(),
                            HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
            assertThat(Files.readString(home.resolve("run.log"))).contains("Admin API token (shown once");

            Result jobs = runJar("jobs", "--url", "http://127.0.0.1:" + port);
            assertThat(jobs.code()).as(jobs.output()).isZero();
            assertThat(jobs.output()).contains("JOB").contains("prepare").contains("cleanup");
        } finally {
            factory.destroy();
            assertThat(factory.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
