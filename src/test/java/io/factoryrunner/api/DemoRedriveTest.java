package io.factoryrunner.api;

import static io.factoryrunner.testsupport.Sql.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.GreenMailUtil;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import jakarta.mail.internet.MimeMessage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The loop an operator closes from a failure mail: look, fix, redrive through the API, and get the recovery mail. */
class DemoRedriveTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final GreenMail smtp = factory.mail();
    final HttpClient http = TestHttp.client();
    final ObjectMapper json = new ObjectMapper();

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_demo_s_failed_apac_build_redriven_through_the_api_reaches_the_scores_and_closes_with_a_recovery_mail(
            TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db)
                .applicationProperties(Files.readString(Path.of("config/application.properties")))
                .withoutOverride("factory.routes.shipped");
        int port = home.withHttpServer();
        String base = "http://127.0.0.1:" + port;
        var running = factory.start(home);
        DataSource ds = running.dataSource();
        String token = Files.readString(factory.dir().resolve("data/admin.token")).trim();

        MimeMessage opened = await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
                .until(() -> mail(false), Optional::isPresent).orElseThrow();
        String openedText = GreenMailUtil.getBody(opened);
        JsonNode failed = call("GET", base + "/api/items/check?status=failed", null, token).get("items");
        assertThat(failed).hasSize(1);
        String key = failed.get(0).get("key").asText();
        assertThat(openedText).contains("java -jar factory-runner.jar redrive check " + key)
                .contains("POST http://localhost:" + port + "/api/items/check/" + key + "/redrive");

        call("PUT", base + "/api/config/factory.demo.fail-dataset", "{\"value\": \"none\"}", token);
        JsonNode redriven = call("POST", base + "/api/items/check/" + key + "/redrive",
                "{\"note\": \"stand-in fixed\"}", token);
        assertThat(redriven.get("redriven").asInt()).isEqualTo(1);

        // NA and EMEA (10 customers) were scored at once; APAC's 3 follow the redrive
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
                .until(() -> count(ds, "SELECT COUNT(*) FROM customer_scores") == 13);
        MimeMessage recovered = await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                .until(() -> mail(true), Optional::isPresent).orElseThrow();
        assertThat(GreenMailUtil.getBody(recovered)).contains("admin redrove item check/" + key)
                .contains("stand-in fixed");
    }

    /** The first mail about job check: its failure, or its recovery. */
    private Optional<MimeMessage> mail(boolean recovery) throws Exception {
        return Arrays.stream(smtp.getReceivedMessages()).filter(m -> {
            try {
                return m.getSubject().contains("] " + (recovery ? "recovered: " : "") + "check:");
            } catch (Exception e) {
                return false;
            }
        }).findFirst();
    }

    private JsonNode call(String method, String url, String body, String token) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json").build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(method + " " + url + ": " + response.body()).isBetween(200, 299);
        return json.readTree(response.body());
    }
}
