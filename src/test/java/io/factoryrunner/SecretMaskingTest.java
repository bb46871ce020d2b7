package io.factoryrunner;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.GreenMailUtil;
import io.factoryrunner.alert.Notifier;
import io.factoryrunner.config.ConfigReport;
import io.factoryrunner.job.Trigger;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import jakarta.mail.MessagingException;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/** Secrets named by the documented key pattern never leave the factory in clear; placeholders are no secrets. */
class SecretMaskingTest {

    /** A job that logs, sends and fails with every secret: in its log line, its body, its URL and the answer. */
    static final String CALLER = """
            - route:
                id: call
                from:
                  uri: "job:call"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - log: "calling with {{customer.db-password}} {{smtp-pwd}} {{partner.bearer-token}}"
                    - setBody:
                        simple: "{{webhook.shared-secret}},{{ftp.credentials}},{{sftp.private-key}}"
                    - setHeader:
                        name: CamelHttpMethod
                        constant: POST
                    - toD: "http://localhost:{{api.port}}/api/items/{{partner.api-token}}?sig={{webhook.shared-secret}}"
            """;

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final WireMockServer api = factory.api();
    final GreenMail smtp = factory.mail();

    /** Key to value, the values unique to this test so that no other test registered them before. */
    final Map<String, String> secrets = new LinkedHashMap<>();

    @BeforeEach
    void secrets() {
        String run = Long.toString(System.nanoTime(), 36);
        for (String key : new String[] {"customer.db-password", "smtp-pwd", "partner.api-token",
                "partner.bearer-token", "webhook.shared-secret", "ftp.credentials", "sftp.private-key"}) {
            secrets.put(key, key.replaceAll("\\W", "") + "-" + run);
        }
    }

    FactoryHome home() {
        String file = secrets.entrySet().stream().map(e -> e.getKey() + " = " + e.getValue())
                .collect(Collectors.joining("\n", "", "\n"));
        return factory.home(TestDatabase.H2).applicationProperties(file).route("call.camel.yaml", CALLER);
    }

    @Test
    void the_config_command_masks_every_key_named_like_a_secret() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = FactoryRunner.validate(home().app(FactoryApplication.Mode.VALIDATE),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream()), true);
        String printed = out.toString(StandardCharsets.UTF_8);
        assertThat(code).isZero();
        secrets.forEach((key, value) -> assertThat(printed).contains(key + " = ******").doesNotContain(value));
    }

    @Test
    void secrets_named_like_secrets_are_masked_in_the_log_the_error_row_the_alert_and_the_mail() throws Exception {
        api.stubFor(post(urlPathMatching("/api/items/.*")).willReturn(aResponse().withStatus(401)
                .withBody("{\"detail\": \"refused " + String.join(" ", secrets.values()) + "\"}")));
        try (var running = home().start()) {
            FactoryApplication app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);

            Map<String, Object> error = rows(ds, "SELECT * FROM factory_error").get(0);
            assertThat((String) error.get("http_url")).contains("/api/items/******?sig=******");
            assertThat((String) error.get("payload_excerpt")).isEqualTo("******,******,******");
            String alerts = rows(ds, "SELECT * FROM alerts").toString();
            String mail = mailText(smtp.getReceivedMessages()[0]);
            assertThat(CapturedLog.text()).contains("calling with ****** ****** ******");
            for (String secret : secrets.values()) {
                assertThat(error.values()).as("error row").allSatisfy(v -> assertThat(String.valueOf(v))
                        .doesNotContain(secret));
                assertThat(alerts).as("alerts").doesNotContain(secret);
                assertThat(mail).as("mail").doesNotContain(secret);
                assertThat(CapturedLog.text()).as("log").doesNotContain(secret);
            }
        }
    }

    @Test
    void a_secret_in_the_path_of_a_failed_call_is_masked_in_the_error_rows_url() throws Exception {
        String path = "path-" + System.nanoTime();
        api.stubFor(get(urlPathMatching("/api/items/.*")).willReturn(aResponse().withStatus(404)));
        try (var running = home().route("call.camel.yaml", """
                - route:
                    id: call
                    from:
                      uri: "job:call"
                      parameters:
                        cron: "0 0 0 1 1 ? 2099"
                      steps:
                        - setHeader:
                            name: CamelHttpMethod
                            constant: GET
                        - toD: "http://localhost:{{api.port}}/api/items/${properties:partner.path}"
                """).start()) {
            FactoryApplication app = running.app();
            // a secret by the table's flag, under a name that says nothing: known by its value only
            app.configTable().set("partner.path", path, true, "the partner's path", "test");
            app.configWatcher().poll();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            Map<String, Object> error = rows(app.database().dataSource(), "SELECT * FROM factory_error").get(0);
            assertThat((String) error.get("message")).contains("/api/items/******").doesNotContain(path);
            assertThat((String) error.get("http_url")).endsWith("/api/items/******").doesNotContain(path);
        }
    }

    @Test
    void a_value_set_in_the_table_under_a_secret_name_is_masked_from_the_next_poll() throws Exception {
        String token = secrets.get("partner.api-token");
        var running = factory.start(factory.home(TestDatabase.H2));
        running.app().configTable().set("partner.api-token", token, false, null, "test");
        running.app().configWatcher().poll();
        LoggerFactory.getLogger(SecretMaskingTest.class).info("the new token is {}", token);
        assertThat(CapturedLog.text()).contains("the new token is ******").doesNotContain(token);
    }

    @Test
    void with_the_shipped_defaults_the_word_none_is_logged_as_it_is() {
        factory.start(factory.home(TestDatabase.H2));
        LoggerFactory.getLogger(SecretMaskingTest.class).info("phone=none; nonetheless");
        assertThat(CapturedLog.text()).contains("phone=none; nonetheless");
    }

    @Test
    void with_the_shipped_defaults_a_mail_shows_none_as_it_is() throws Exception {
        var running = factory.start(factory.home(TestDatabase.H2));
        running.app().context().getRegistry().lookupByNameAndType("notifier", Notifier.class).digest(new Date());
        await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
        assertThat(mailText(smtp.getReceivedMessages()[0])).contains("(none)").doesNotContain("******");
    }

    @Test
    void a_placeholder_under_a_secret_name_masks_nothing_and_is_shown_as_it_is() {
        var running = factory.start(factory.home(TestDatabase.H2)
                .applicationProperties("analytics.api-key = changeme\n"));
        LoggerFactory.getLogger(SecretMaskingTest.class).info("please changeme before going live");
        assertThat(CapturedLog.text()).contains("please changeme before going live");
        assertThat(running.app().configReport()).filteredOn(l -> l.key().equals("analytics.api-key"))
                .singleElement().extracting(ConfigReport.Line::value).isEqualTo("changeme");
    }

    private static String mailText(MimeMessage m) throws MessagingException {
        return m.getSubject() + "\n" + GreenMailUtil.getBody(m);
    }
}
