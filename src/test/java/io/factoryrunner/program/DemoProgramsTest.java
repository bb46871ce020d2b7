package io.factoryrunner.program;

import static io.factoryrunner.program.ProgramApiClient.events;
import static io.factoryrunner.program.ProgramApiClient.steps;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The README's program calls, against the demo's program jobs. */
class DemoProgramsTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();

    ProgramApiClient api;

    FactoryHome.Running startDemo() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2)
                .applicationProperties(Files.readString(Path.of("config/application.properties")))
                .withoutOverride("factory.routes.shipped")
                .property("program.retry.backoff", "200");
        int port = home.withHttpServer();
        FactoryHome.Running running = factory.start(home);
        api = new ProgramApiClient(port, factory.dir());
        return running;
    }

    @Test
    void the_demo_program_keeps_its_progress_across_a_retryable_failure_and_sends_its_report() throws Exception {
        try (var running = startDemo()) {
            JsonNode library = api.get("/api/program-jobs").body().get("jobs");
            assertThat(library.findValuesAsText("name")).containsExactly("build_report", "fetch_orders",
                    "send_report");
            assertThat(library.get(1).get("file").asText()).isEqualTo("jar:routes/demo/programs.camel.yaml");
            assertThat(library.get(1).get("description").asText()).contains("currentPage");

            // README: the program of the quick try
            String runId = api.submit("""
                    {"jobs": ["fetch_orders", "build_report", "send_report"],
                     "programData": {"customer": "acme", "recipient": "ops@example.com", "flaky": true},
                     "jobData": {"fetch_orders": {"currentPage": 0, "totalPages": 5}}}""");
            JsonNode done = api.awaitStatus(runId, "finished");
            assertThat(events(done)).containsExactly("0:fetch_orders:1:retrying", "0:fetch_orders:2:succeeded",
                    "1:build_report:1:succeeded", "2:send_report:1:succeeded");
            assertThat(done.at("/events/0/jobData/currentPage").asInt()).isEqualTo(2);
            assertThat(done.at("/events/0/error").asText()).contains("the order service is busy at page 3");
            assertThat(done.at("/program/result").asText()).isEqualTo("sent to ops@example.com");

            // README: the steps form, and a program that ends with an error
            String failing = api.submit("""
                    {"steps": [["fetch_orders"], ["build_report", {"title": "Q3"}], ["send_report"]],
                     "programData": {"customer": "globex"}}""");
            JsonNode ended = api.awaitStatus(failing, "errored");
            assertThat(steps(ended)).containsExactly("fetch_orders:done", "build_report:done",
                    "send_report:failed");
            assertThat(ended.at("/steps/0/jobData/totalPages").asInt()).isEqualTo(5);
            assertThat(ended.at("/program/errorMessage").asText()).contains("no recipient in the program data");
            assertThat(ended.at("/events/1/arguments/title").asText()).isEqualTo("Q3");
        }
    }
}
