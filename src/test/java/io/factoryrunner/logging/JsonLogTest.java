package io.factoryrunner.logging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.StartupException;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** {@code factory.log.format = json}: each line an object, with the job, run and item it was logged for. */
class JsonLogTest {

    static final String ROUTE = """
            - route:
                id: greet
                from:
                  uri: "job:greet"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - log: "greeting ${header.FactoryItemKey}"
            """;

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @AfterEach
    void backToText() {
        LogFormat.use("text");
    }

    @Test
    void a_line_logged_while_an_item_runs_is_json_with_its_job_run_and_item() throws Exception {
        FactoryHome home = new FactoryHome(dir, TestDatabase.H2).route("greet.camel.yaml", ROUTE)
                .property("factory.log.format", "json");
        int logged = CapturedLog.text().length();
        try (var running = home.start()) {
            running.offer("greet", "alice", "{}");
            long run = running.trigger("greet");
            List<String> lines = CapturedLog.text().substring(logged).lines().toList();

            String greeting = lines.stream().filter(l -> l.contains("greeting alice")).findFirst().orElseThrow();
            JsonNode line = JSON.readTree(greeting);
            assertThat(line.path("message").asText()).isEqualTo("greeting alice");
            assertThat(line.path("job").asText()).isEqualTo("greet");
            assertThat(line.path("run").asText()).isEqualTo(String.valueOf(run));
            assertThat(line.path("item").asText()).isEqualTo("alice");
            assertThat(line.path("item_version").asText()).isEqualTo("v1");
            assertThat(line.path("level").asText()).isEqualTo("INFO");
            assertThat(line.path("logger").asText()).isEqualTo("greet");
            assertThat(line.has("time")).isTrue();

            String runEnd = lines.stream().filter(l -> l.contains("items done")).findFirst().orElseThrow();
            assertThat(JSON.readTree(runEnd).has("item")).as("logged after the item: " + runEnd).isFalse();
            assertThat(lines).allSatisfy(l -> assertThat(JSON.readTree(l).isObject()).as(l).isTrue());
        }
    }

    @Test
    void a_secret_and_a_stack_trace_are_masked_in_json_as_in_text() throws Exception {
        LogFormat.use("json");
        Secrets.register("s3cr3t-value");
        int logged = CapturedLog.text().length();

        LoggerFactory.getLogger("masking").warn("calling with s3cr3t-value",
                new IllegalStateException("refused s3cr3t-value"));

        JsonNode line = JSON.readTree(CapturedLog.text().substring(logged).lines().findFirst().orElseThrow());
        assertThat(line.path("message").asText()).doesNotContain("s3cr3t-value").startsWith("calling with ");
        assertThat(line.path("stack_trace").asText()).contains("IllegalStateException").doesNotContain("s3cr3t");
    }

    @Test
    void a_format_that_is_neither_text_nor_json_stops_the_start_naming_the_key() {
        FactoryHome home = new FactoryHome(dir, TestDatabase.H2).property("factory.log.format", "xml");

        assertThatThrownBy(home::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("'factory.log.format' has value 'xml' that is neither text nor json");
    }
}
