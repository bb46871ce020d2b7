package io.factoryrunner.error;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static io.factoryrunner.testsupport.Sql.rows;
import static io.factoryrunner.testsupport.Sql.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.GreenMailUtil;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.alert.Notifier;
import io.factoryrunner.job.Trigger;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.MutableClock;
import io.factoryrunner.testsupport.TestDatabase;
import jakarta.mail.internet.MimeMessage;
import java.sql.Connection;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** Failures through the dead-letter channel into the error table, alerts and mail; real HTTP and SMTP servers. */
class ErrorHandlingTest {

    static final String SECRET = "api-key-7f3c9e21-secret";

    static final String CALLER = """
            - route:
                id: call
                from:
                  uri: "job:call"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                    transaction: "{{job.call.transaction}}"
                  steps:
                    - choice:
                        when:
                          - simple: "${body} == 'build-failed'"
                            steps:
                              - throwException:
                                  exceptionType: "io.factoryrunner.error.BuildFailedException"
                                  message: "build of ${header.FactoryItemKey} failed"
                          - simple: "${body} == 'refused'"
                            steps:
                              - throwException:
                                  exceptionType: "io.factoryrunner.error.JobInitializationException"
                                  message: "analytics refused job for ${header.FactoryItemKey}"
                          - simple: "${body} == 'sql'"
                            steps:
                              - to: "sql:SELECT * FROM no_such_table"
                          - simple: "${body} == 'lookup'"
                            steps:
                              - toD: "http://localhost:{{api.port}}/api/lookup/${header.FactoryItemKey}?httpMethod=GET"
                    - setHeader:
                        name: CamelHttpMethod
                        constant: GET
                    - toD: "http://localhost:{{api.port}}/api/items/${header.FactoryItemKey}?apiKey={{api.key}}"
            """;

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension().settings(home -> home
            .applicationProperties("api.key = placeholder\n")
            .property("factory.alerts.retry-delay", "100")
            .property("factory.alerts.max-retry-delay", "200")
            .property("factory.retry.initial-delay", "20")
            .property("factory.retry.max-delay", "2s")
            .property("job.call.transaction", "claim")
            .route("call.camel.yaml", CALLER));
    final WireMockServer api = factory.api();
    GreenMail smtp = factory.mail();

    FactoryHome home(TestDatabase db) {
        return factory.home(db);
    }

    FactoryHome.Running start(FactoryHome home) throws Exception {
        return start(home, Clock.systemUTC());
    }

    FactoryHome.Running start(FactoryHome home, Clock clock) throws Exception {
        FactoryHome.Running running = factory.start(home, clock);
        running.app().configTable().set("api.key", SECRET, true, "analytics API key", "test");
        running.app().configWatcher().poll();
        return running;
    }



    private void answer(int status) {
        api.stubFor(get(urlPathMatching("/api/items/.*")).willReturn(aResponse().withStatus(status)
                .withHeader("Content-Type", "application/json").withBody("{\"detail\":\"status " + status + "\"}")));
    }

    private List<String> subjects() {
        List<String> subjects = new ArrayList<>();
        for (MimeMessage m : smtp.getReceivedMessages()) {
            try {
                subjects.add(m.getSubject());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return subjects;
    }

    private static String mailText(MimeMessage m) {
        try {
            return m.getSubject() + "\n" + GreenMailUtil.getBody(m);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void awaitOutboxEmpty(DataSource ds) {
        await().atMost(Duration.ofSeconds(20))
                .until(() -> count(ds, "SELECT COUNT(*) FROM alerts WHERE status = 'pending'") == 0);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void transient_failures_then_success_leave_no_error_row_and_visible_retries(TestDatabase db) throws Exception {
        api.stubFor(get(urlPathMatching("/api/items/.*")).inScenario("flaky").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(aResponse().withStatus(503)).willSetStateTo("second"));
        api.stubFor(get(urlPathMatching("/api/items/.*")).inScenario("flaky").whenScenarioStateIs("second")
                .willReturn(aResponse().withStatus(500)).willSetStateTo("up"));
        api.stubFor(get(urlPathMatching("/api/items/.*")).inScenario("flaky").whenScenarioStateIs("up")
                .willReturn(aResponse().withStatus(200).withBody("{\"ok\":true}")));
        try (var running = start(home(db))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
            assertThat(rows(ds, "SELECT status, retries, items_done FROM job_run WHERE job = 'call'"))
                    .singleElement().satisfies(r -> {
                        assertThat(r.get("status")).isEqualTo("succeeded");
                        assertThat(((Number) r.get("retries")).intValue()).isEqualTo(2);
                    });
            api.verify(3, getRequestedFor(urlPathMatching("/api/items/item-1")));
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void http_401_is_recorded_once_without_retry_and_without_the_api_key(TestDatabase db) throws Exception {
        answer(401);
        try (var running = start(home(db))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            api.verify(1, getRequestedFor(urlPathMatching("/api/items/item-1")));
            api.verify(0, getRequestedFor(urlPathMatching("/api/items/.*")).withHeader("FactoryJob",
                    WireMock.matching(".*")));
            assertThat(rows(ds, "SELECT * FROM factory_error")).singleElement().satisfies(r -> {
                assertThat(r.get("category")).isEqualTo("http_api");
                assertThat(r.get("job")).isEqualTo("call");
                assertThat(r.get("item_key")).isEqualTo("item-1");
                assertThat(((Number) r.get("http_status")).intValue()).isEqualTo(401);
                assertThat(r.get("http_method")).isEqualTo("GET");
                assertThat((String) r.get("http_url")).contains("/api/items/item-1").doesNotContain(SECRET);
                assertThat((String) r.get("http_response")).contains("status 401");
                assertThat(((Number) r.get("attempts")).intValue()).isEqualTo(1);
                assertThat(r.get("exception_class")).isEqualTo(
                        "org.apache.camel.http.base.HttpOperationFailedException");
                assertThat(r.values()).allSatisfy(v -> assertThat(String.valueOf(v)).doesNotContain(SECRET));
            });
            assertThat(rows(ds, "SELECT status FROM job_state WHERE job = 'call'")).singleElement()
                    .satisfies(r -> assertThat(r.get("status")).isEqualTo("failed"));
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
            String mail = mailText(smtp.getReceivedMessages()[0]);
            assertThat(mail).contains("call").contains("item-1").contains("remote service answered HTTP 401")
                    .doesNotContain(SECRET);
            assertThat(CapturedLog.text()).doesNotContain(SECRET);
        }
    }

    @Test
    void retry_after_of_a_429_is_honoured() throws Exception {
        api.stubFor(get(urlPathMatching("/api/items/.*")).inScenario("busy").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(aResponse().withStatus(429).withHeader("Retry-After", "1")).willSetStateTo("free"));
        api.stubFor(get(urlPathMatching("/api/items/.*")).inScenario("busy").whenScenarioStateIs("free")
                .willReturn(aResponse().withStatus(200)));
        try (var running = start(home(TestDatabase.H2))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            var requests = api.getAllServeEvents().stream().map(e -> e.getRequest().getLoggedDate().getTime())
                    .sorted().toList();
            assertThat(requests).hasSize(2);
            assertThat(requests.get(1) - requests.get(0)).as("ms between the 429 and the next try")
                    .isGreaterThanOrEqualTo(950);
            assertThat(count(app.database().dataSource(), "SELECT COUNT(*) FROM factory_error")).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void each_category_lands_in_the_error_table(TestDatabase db) throws Exception {
        answer(200);
        try (var running = start(home(db))) {
            var app = running.app();
            app.jobStore().offer("call", "a", "v1", "build-failed", true);
            app.jobStore().offer("call", "b", "v1", "refused", true);
            app.jobStore().offer("call", "c", "v1", "sql", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            api.stop();
            app.jobStore().offer("call", "d", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            Map<String, String> categories = new LinkedHashMap<>();
            rows(app.database().dataSource(), "SELECT item_key, category, attempts FROM factory_error ORDER BY item_key")
                    .forEach(r -> categories.put((String) r.get("item_key"), (String) r.get("category")));
            assertThat(categories).containsExactly(Map.entry("a", "build_failure"),
                    Map.entry("b", "job_initialization"), Map.entry("c", "sql"), Map.entry("d", "http_api"));
            // connection refused is transient: it was retried up to the limit before it was recorded
            assertThat(rows(app.database().dataSource(), "SELECT attempts FROM factory_error WHERE item_key = 'd'"))
                    .singleElement().satisfies(r -> assertThat(((Number) r.get("attempts")).intValue()).isEqualTo(3));
        }
    }

    @Test
    void each_failure_mail_has_a_subject_of_its_own_naming_the_job_the_kind_and_the_start_of_the_message()
            throws Exception {
        answer(404);
        try (var running = start(home(TestDatabase.H2))) {
            var app = running.app();
            app.jobStore().offer("call", "a", "v1", "build-failed", true);
            app.jobStore().offer("call", "b", "v1", "refused", true);
            app.jobStore().offer("call", "c", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(app.database().dataSource());
            assertThat(subjects()).hasSize(3).contains(
                    "[factory factory-runner] call: analytics product: build failure - build of a failed",
                    "[factory factory-runner] call: analytics product: job initialization failure"
                            + " - analytics refused job for b");
            assertThat(subjects()).anySatisfy(s -> assertThat(s).startsWith("[factory factory-runner] call:"
                    + " remote service answered HTTP 404 - HTTP 404 from http://localhost:" + api.port()
                    + "/api/items/c?apiKey=")
                    .endsWith(": {\"detail\":\"status 404\"}").doesNotContain(SECRET));
        }
    }

    @Test
    void a_remote_services_error_status_is_labelled_as_its_answer_not_as_an_internal_error() throws Exception {
        api.stubFor(get(urlPathMatching("/api/items/refused")).willReturn(aResponse().withStatus(403)));
        api.stubFor(get(urlPathMatching("/api/items/broken")).willReturn(aResponse().withStatus(500)));
        try (var running = start(home(TestDatabase.H2))) {
            var app = running.app();
            app.jobStore().offer("call", "refused", "v1", "go", true);
            app.jobStore().offer("call", "broken", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(app.database().dataSource());
            List<String> mails = new ArrayList<>();
            for (MimeMessage m : smtp.getReceivedMessages()) {
                mails.add(mailText(m));
            }
            assertThat(mails).hasSize(2).noneSatisfy(m -> assertThat(m).contains("internal error"));
            assertThat(mails).anySatisfy(m -> assertThat(m)
                    .contains("call: remote service answered HTTP 403 - HTTP 403 from")
                    .contains("Category:    remote service answered HTTP 403"));
            assertThat(mails).anySatisfy(m -> assertThat(m)
                    .contains("call: remote service answered HTTP 500 - HTTP 500 from")
                    .contains("Category:    remote service answered HTTP 500"));
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_failed_sql_statement_is_recorded_and_mailed_with_the_databases_own_message(TestDatabase db)
            throws Exception {
        try (var running = start(home(db))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "sql", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            assertThat(rows(ds, "SELECT category, message FROM factory_error")).singleElement().satisfies(r -> {
                assertThat(r.get("category")).isEqualTo("sql");
                assertThat((String) r.get("message")).containsIgnoringCase("no_such_table")
                        .doesNotContain("bad SQL grammar");
            });
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
            assertThat(smtp.getReceivedMessages()[0].getSubject())
                    .startsWith("[factory factory-runner] call: internal error: SQL / stored procedure - ")
                    .containsIgnoringCase("no_such_table");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_hundred_identical_failures_send_exactly_one_mail(TestDatabase db) throws Exception {
        answer(404);
        try (var running = start(home(db))) {
            var app = running.app();
            for (int i = 1; i <= 100; i++) {
                app.jobStore().offer("call", "item-" + i, "v1", "go", true);
            }
            app.jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isEqualTo(100);
            assertThat(rows(ds, "SELECT occurrences, status FROM error_fingerprint")).singleElement()
                    .satisfies(r -> assertThat(((Number) r.get("occurrences")).intValue()).isEqualTo(100));
            awaitOutboxEmpty(ds);
            assertThat(smtp.getReceivedMessages()).hasSize(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_good_run_while_an_item_is_still_failed_sends_no_recovery_and_keeps_the_failure_open(TestDatabase db)
            throws Exception {
        answer(404);
        try (var running = start(home(db))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            answer(200);
            app.jobStore().offer("call", "item-2", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(ds);
            assertThat(subjects()).singleElement().satisfies(s -> assertThat(s).doesNotContain("recovered"));
            assertThat(rows(ds, "SELECT status FROM error_fingerprint")).singleElement()
                    .satisfies(r -> assertThat(r.get("status")).isEqualTo("open"));
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_failure_is_resolved_once_all_its_items_are_redriven_and_done_and_the_recovery_mail_lists_them(
            TestDatabase db) throws Exception {
        answer(404);
        try (var running = start(home(db))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobStore().offer("call", "item-2", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            answer(200);
            app.jobStore().redrive("call", "item-1", "v1");
            long firstRedriveRun = app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(rows(ds, "SELECT status FROM error_fingerprint")).singleElement()
                    .as("item-2 is still failed").satisfies(r -> assertThat(r.get("status")).isEqualTo("open"));
            app.jobStore().redrive("call", "item-2", "v1");
            long lastRun = app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(ds);
            assertThat(rows(ds, "SELECT status FROM error_fingerprint")).singleElement()
                    .satisfies(r -> assertThat(r.get("status")).isEqualTo("resolved"));
            assertThat(smtp.getReceivedMessages()).hasSize(2);
            String recovery = mailText(smtp.getReceivedMessages()[1]);
            assertThat(recovery).startsWith("[factory factory-runner] recovered: call: remote service answered"
                    + " HTTP 404 - HTTP 404 from http://localhost:" + api.port() + "/api/items/")
                    .contains("  item-1 version v1: done in run " + firstRedriveRun)
                    .contains("  item-2 version v1: done in run " + lastRun);
            // a failure that is over stays quiet
            app.jobStore().offer("call", "item-3", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(ds);
            assertThat(smtp.getReceivedMessages()).hasSize(2);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_failure_of_an_item_put_back_by_an_outage_is_resolved_when_a_later_run_does_the_item(TestDatabase db)
            throws Exception {
        answer(503);
        MutableClock clock = new MutableClock();
        try (var running = start(home(db), clock)) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            answer(200);
            app.jobStore().offer("call", "item-2", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(rows(ds, "SELECT status FROM error_fingerprint")).singleElement()
                    .as("item-1 waits for its next attempt").satisfies(r -> assertThat(r.get("status"))
                            .isEqualTo("open"));
            clock.advance(Duration.ofMinutes(1));
            long run = app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(ds);
            assertThat(subjects()).hasSize(2).last().satisfies(s -> assertThat(s)
                    .startsWith("[factory factory-runner] recovered: call: remote service answered HTTP 503"));
            assertThat(mailText(smtp.getReceivedMessages()[1])).contains("  item-1 version v1: done in run " + run)
                    .doesNotContain("item-2");
        }
    }

    @Test
    void a_failure_of_no_item_is_resolved_when_the_job_succeeds_after_a_failed_run() throws Exception {
        answer(404);
        try (var running = start(home(TestDatabase.H2))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.context().getRegistry().lookupByNameAndType("factoryErrors", ErrorRecorder.class)
                    .recordRefusedValue("job.call.chunk-size", "'many' is not a number");
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            answer(200);
            app.jobStore().offer("call", "item-2", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(ds);
            Map<String, String> statuses = new LinkedHashMap<>();
            rows(ds, "SELECT category, status FROM error_fingerprint ORDER BY category")
                    .forEach(r -> statuses.put((String) r.get("category"), (String) r.get("status")));
            assertThat(statuses).containsExactly(Map.entry("configuration", "resolved"),
                    Map.entry("http_api", "open"));
            assertThat(subjects()).hasSize(3).filteredOn(s -> s.contains("recovered")).singleElement()
                    .satisfies(s -> assertThat(s).startsWith(
                            "[factory factory-runner] recovered: call: configuration: a value refused - "));
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void alerts_wait_for_smtp_and_are_all_delivered_once_when_it_comes_back(TestDatabase db) throws Exception {
        answer(200);
        smtp.stop();
        try (var running = start(home(db))) {
            var app = running.app();
            String letters = "abcdefghijklmnopqrst";
            for (char ch : letters.toCharArray()) {
                app.jobStore().offer("call", "build" + ch, "v1", "build-failed", true);
            }
            app.jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            await().atMost(Duration.ofSeconds(20)).until(() -> count(ds,
                    "SELECT COUNT(*) FROM alerts WHERE status = 'pending' AND attempts > 0") == 20);
            smtp = factory.mailAgain();
            awaitOutboxEmpty(ds);
            List<String> bodies = new ArrayList<>();
            for (MimeMessage m : smtp.getReceivedMessages()) {
                bodies.add(mailText(m));
            }
            assertThat(bodies).hasSize(20);
            for (char ch : letters.toCharArray()) {
                assertThat(bodies).as("mails naming build" + ch).filteredOn(b -> b.contains("Item:        build" + ch
                        + " ")).hasSize(1);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_restart_keeps_the_mail_budget(TestDatabase db) throws Exception {
        answer(404);
        FactoryHome home = home(db);
        try (var running = start(home)) {
            running.app().jobStore().offer("call", "item-1", "v1", "go", true);
            running.app().jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(running.app().database().dataSource());
        }
        try (var running = start(home)) {
            running.app().jobStore().offer("call", "item-2", "v1", "go", true);
            running.app().jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = running.app().database().dataSource();
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isEqualTo(2);
            awaitOutboxEmpty(ds);
            assertThat(smtp.getReceivedMessages()).hasSize(1);
        }
    }

    @Test
    void a_reminder_follows_after_the_quiet_period() throws Exception {
        answer(404);
        try (var running = start(home(TestDatabase.H2).property("factory.alerts.reminder-after", "0"))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobStore().offer("call", "item-2", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(app.database().dataSource());
            assertThat(subjects()).hasSize(2).anySatisfy(s -> assertThat(s).contains("still failing"));
        }
    }

    @Test
    void digest_lists_runs_items_and_open_failures() throws Exception {
        answer(404);
        try (var running = start(home(TestDatabase.H2))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            awaitOutboxEmpty(app.database().dataSource());
            app.context().getRegistry().lookupByNameAndType("notifier", Notifier.class).digest(new Date());
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 2);
            String digest = mailText(smtp.getReceivedMessages()[1]);
            assertThat(digest).contains("digest").contains("call").contains("1 runs").contains("1 items failed")
                    .contains("HttpOperationFailedException");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void job_is_paused_after_n_failed_runs_with_a_notice(TestDatabase db) throws Exception {
        answer(404);
        // the configuration table is not polled during the test: the pause must apply at once
        try (var running = start(home(db).property("job.call.auto-pause-after", "2")
                .property("factory.config.poll-interval", "1h"))) {
            var app = running.app();
            for (int run = 1; run <= 2; run++) {
                app.jobStore().offer("call", "item-" + run, "v1", "go", true);
                app.jobs().trigger("call", Trigger.MANUAL);
            }
            assertThat(app.jobs().trigger("call", Trigger.SCHEDULE)).as("a fire right after the pause").isEqualTo(-1);
            assertThat(app.configTable().loadAll().get("job.call.paused").value()).isEqualTo("true");
            awaitOutboxEmpty(app.database().dataSource());
            assertThat(subjects()).anySatisfy(s -> assertThat(s).contains("paused: call after 2 failed runs"));
            assertThat(subjects()).filteredOn(s -> s.contains("paused")).hasSize(1);
            assertThat(app.jobs().trigger("call", Trigger.MANUAL)).isEqualTo(-1);
        }
    }

    @Test
    void without_an_smtp_host_alerts_stay_in_the_outbox_and_nothing_fails() throws Exception {
        answer(404);
        try (var running = start(home(TestDatabase.H2).property("factory.mail.host", ""))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            await().atMost(Duration.ofSeconds(10)).until(() -> count(ds,
                    "SELECT COUNT(*) FROM alerts WHERE status = 'pending' AND last_error = 'no SMTP host configured'")
                    == 1);
            assertThat(CapturedLog.text()).contains("kept in the outbox (no SMTP host");
            assertThat(app.context().getRouteController().getRouteStatus("notify").isStarted()).isTrue();
            assertThat(smtp.getReceivedMessages()).isEmpty();
        }
    }

    @Test
    void an_alert_written_before_any_recipient_was_set_goes_to_the_recipients_set_later() throws Exception {
        answer(404);
        try (var running = start(home(TestDatabase.H2).withoutOverride("factory.alerts.to"))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            await().atMost(Duration.ofSeconds(10)).until(() -> count(ds,
                    "SELECT COUNT(*) FROM alerts WHERE last_error = 'no recipients configured'") == 1);
            assertThat(smtp.getReceivedMessages()).isEmpty();

            app.configTable().set("factory.alerts.to", "ops@example.com", false, "who gets the alerts", "test");
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
            assertThat(smtp.getReceivedMessages()[0].getAllRecipients()[0].toString()).isEqualTo("ops@example.com");
            awaitOutboxEmpty(ds);
        }
    }

    @ParameterizedTest
    @CsvSource({"H2, claim", "H2, chunk", "POSTGRESQL, claim", "POSTGRESQL, chunk"})
    void when_the_error_row_cannot_be_written_the_item_waits_for_the_next_run(TestDatabase db, String transaction)
            throws Exception {
        answer(404);
        try (var running = start(home(db).property("job.call.transaction", transaction))) {
            FactoryApplication app = running.app();
            DataSource ds = app.database().dataSource();
            try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
                s.execute("ALTER TABLE factory_error RENAME TO factory_error_away");
            }
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            // not failed and not lost: left claimed for the next run, or back in the inbox when its chunk's
            // transaction put it there
            if (transaction.equals("claim")) {
                assertThat(rows(ds, "SELECT status FROM job_state WHERE job = 'call'")).singleElement()
                        .satisfies(r -> assertThat(r.get("status")).isEqualTo("claimed"));
            } else {
                assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'call'")).isZero();
                assertThat(count(ds, "SELECT COUNT(*) FROM job_inbox WHERE job = 'call'")).isEqualTo(1);
            }
            assertThat(CapturedLog.text()).contains("Cannot write the error row").contains("item=item-1/v1");
            try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
                s.execute("ALTER TABLE factory_error_away RENAME TO factory_error");
            }
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(rows(ds, "SELECT status FROM job_state WHERE job = 'call'")).singleElement()
                    .satisfies(r -> assertThat(r.get("status")).isEqualTo("failed"));
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_item_whose_transient_failure_outlasts_the_retries_waits_for_the_next_run(TestDatabase db)
            throws Exception {
        api.stubFor(get(urlPathMatching("/api/items/.*")).inScenario("down").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(aResponse().withStatus(503)));
        MutableClock clock = new MutableClock();
        try (var running = start(home(db), clock)) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'call'")).isZero();
            assertThat(count(ds, "SELECT COUNT(*) FROM job_inbox WHERE job = 'call'")).isEqualTo(1);
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error WHERE http_status = 503")).isEqualTo(1);
            assertThat(rows(ds, "SELECT items_deferred, retries FROM job_run")).singleElement().satisfies(r -> {
                assertThat(((Number) r.get("items_deferred")).intValue()).isEqualTo(1);
                assertThat(((Number) r.get("retries")).intValue()).isEqualTo(2);
            });
            api.resetAll();
            answer(200);
            clock.advance(Duration.ofMinutes(1));
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(rows(ds, "SELECT status, attempts FROM job_state WHERE job = 'call'")).singleElement()
                    .satisfies(r -> {
                        assertThat(r.get("status")).isEqualTo("done");
                        assertThat(((Number) r.get("attempts")).intValue()).isEqualTo(2);
                    });
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_mail_of_a_transient_failure_says_when_the_item_is_tried_again_by_itself(TestDatabase db)
            throws Exception {
        answer(503);
        try (var running = start(home(db))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            Instant availableAt = instant(rows(ds, "SELECT available_at FROM job_inbox").get(0).get("available_at"));
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
            String mail = mailText(smtp.getReceivedMessages()[0]);
            Matcher next = Pattern.compile("tried again by itself at (\\S+) \\(job_inbox.available_at\\)")
                    .matcher(mail);
            assertThat(next.find()).as(mail).isTrue();
            // the mail is written as the failure is recorded, the inbox row a moment later; the mail shows seconds
            assertThat(Instant.parse(next.group(1))).isBetween(availableAt.minusSeconds(2), availableAt);
            assertThat(mail).contains("when its failures have lasted retry.give-up-after, it is failed")
                    .doesNotContain("waits for a redrive: nothing tries it again");
        }
    }

    @Test
    void the_mail_of_a_permanent_failure_says_the_item_waits_for_a_redrive() throws Exception {
        answer(404);
        try (var running = start(home(TestDatabase.H2))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
            assertThat(mailText(smtp.getReceivedMessages()[0])).contains("What happens next: The item is failed in"
                    + " job call and waits for a redrive: nothing tries it again by itself. Once the cause is fixed:"
                    + " JobStore.redrive(\"call\", \"item-1\", \"v1\").").doesNotContain("tried again by itself at");
        }
    }

    @Test
    void the_mail_of_a_transient_failure_given_up_says_the_item_waits_for_a_redrive() throws Exception {
        answer(503);
        try (var running = start(home(TestDatabase.H2).property("factory.retry.give-up-after", "0s"))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(rows(app.database().dataSource(), "SELECT status FROM job_state")).singleElement()
                    .satisfies(r -> assertThat(r.get("status")).isEqualTo("failed"));
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
            assertThat(mailText(smtp.getReceivedMessages()[0])).contains("have lasted retry.give-up-after")
                    .contains("The item is failed in job call and waits for a redrive")
                    .doesNotContain("tried again by itself at");
        }
    }

    /** A normal stop while an item waits for its next attempt leaves the item for the next run, not failed. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_stop_during_a_retry_wait_leaves_the_item_for_the_next_run(TestDatabase db) throws Exception {
        answer(503);
        stopDuringTheFirstCallThenRunAgain(home(db).property("factory.retry.initial-delay", "1m")
                .property("factory.retry.max-delay", "1m"));
    }

    /**
     * Offers item-1 to job call and stops the factory once the API has its first call for it; then, with the API
     * answering 200, starts the factory again: no error was recorded, and the next run does the item.
     */
    private void stopDuringTheFirstCallThenRunAgain(FactoryHome home) throws Exception {
        try (var running = start(home)) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            CompletableFuture<Long> run = CompletableFuture.supplyAsync(
                    () -> app.jobs().trigger("call", Trigger.MANUAL));
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> api.findAll(getRequestedFor(urlPathMatching("/api/items/item-1"))).size() == 1);
            app.stop();
            run.get(30, TimeUnit.SECONDS);
        }
        api.resetAll();
        answer(200);
        try (var running = start(home)) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(rows(ds, "SELECT status FROM job_state WHERE job = 'call'")).singleElement()
                    .satisfies(r -> assertThat(r.get("status")).isEqualTo("done"));
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
        }
    }

    /** An item that keeps meeting an outage waits longer after each run, then is failed once, for a redrive. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_item_put_back_by_an_outage_waits_longer_each_run_and_is_given_up_with_one_error_row(TestDatabase db)
            throws Exception {
        answer(503);
        MutableClock clock = new MutableClock();
        FactoryHome home = home(db).property("factory.retry.give-up-after", "10m")
                .property("factory.retry.next-run-delay", "1m");
        try (var running = start(home, clock)) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(waitOfItem(ds)).isBetween(Duration.ofSeconds(55), Duration.ofSeconds(61));

            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(count(ds, "SELECT COUNT(*) FROM job_run WHERE items_taken > 0")).as("runs that took it")
                    .isEqualTo(1);

            clock.advance(Duration.ofSeconds(61));
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(waitOfItem(ds)).isBetween(Duration.ofSeconds(115), Duration.ofSeconds(121));

            clock.advance(Duration.ofMinutes(11));
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(rows(ds, "SELECT status, error_message FROM job_state WHERE job = 'call'")).singleElement()
                    .satisfies(r -> {
                        assertThat(r.get("status")).isEqualTo("failed");
                        assertThat((String) r.get("error_message")).startsWith("given up after 10m");
                    });
            assertThat(count(ds, "SELECT COUNT(*) FROM job_inbox")).isZero();
            assertThat(rows(ds, "SELECT occurrences, last_occurred_at FROM factory_error")).singleElement()
                    .satisfies(r -> {
                        assertThat(((Number) r.get("occurrences")).intValue()).isEqualTo(3);
                        assertThat(r.get("last_occurred_at")).isNotNull();
                    });
        }
    }

    /** How long the waiting item waits from when it was put back to its next attempt. */
    private static Duration waitOfItem(DataSource ds) throws Exception {
        Map<String, Object> row = rows(ds, "SELECT enqueued_at, available_at FROM job_inbox").get(0);
        return Duration.between(instant(row.get("enqueued_at")), instant(row.get("available_at")));
    }

    private static Instant instant(Object timestamp) {
        if (timestamp instanceof OffsetDateTime t) {
            return t.toInstant();
        }
        return ((Timestamp) timestamp).toInstant();
    }

    /**
     * A stop that begins while a call is under way, whose answer is then a 503: the error handler refuses the retry
     * the stop came before, and the item is left for the next run, with no error recorded.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_stop_during_a_call_that_then_fails_transiently_leaves_the_item_for_the_next_run(TestDatabase db)
            throws Exception {
        api.stubFor(get(urlPathMatching("/api/items/.*")).willReturn(aResponse().withStatus(503)
                .withFixedDelay(1_500)));
        stopDuringTheFirstCallThenRunAgain(home(db));
    }

    @Test
    void a_call_that_timed_out_is_recorded_and_mailed_with_its_method_and_url() throws Exception {
        api.stubFor(get(urlPathMatching("/api/items/.*")).willReturn(aResponse().withStatus(200)
                .withFixedDelay(10_000)));
        try (var running = start(home(TestDatabase.H2).property("factory.http.response-timeout", "300ms")
                .property("factory.retry.max-attempts", "1"))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            String url = "http://localhost:" + api.port() + "/api/items/item-1?apiKey=";
            assertThat(rows(ds, "SELECT message, http_method, http_url, http_status FROM factory_error"))
                    .singleElement().satisfies(r -> {
                        assertThat(r.get("http_method")).isEqualTo("GET");
                        assertThat((String) r.get("http_url")).startsWith(url).doesNotContain(SECRET);
                        assertThat(r.get("http_status")).isNull();
                        assertThat((String) r.get("message")).containsIgnoringCase("timed out").contains(url);
                    });
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
            assertThat(mailText(smtp.getReceivedMessages()[0])).contains("HTTP:        GET " + url)
                    .contains("-> no answer").doesNotContain(SECRET);
        }
    }

    @Test
    void the_http_method_recorded_is_the_one_sent_even_when_the_message_has_a_body() throws Exception {
        api.stubFor(any(urlPathMatching("/api/lookup/.*")).willReturn(aResponse().withStatus(404)));
        try (var running = start(home(TestDatabase.H2))) {
            var app = running.app();
            app.jobStore().offer("call", "item-1", "v1", "lookup", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            api.verify(1, getRequestedFor(urlPathMatching("/api/lookup/item-1")));
            assertThat(rows(app.database().dataSource(), "SELECT http_method FROM factory_error")).singleElement()
                    .satisfies(r -> assertThat(r.get("http_method")).isEqualTo("GET"));
            await().atMost(Duration.ofSeconds(20)).until(() -> smtp.getReceivedMessages().length == 1);
            assertThat(mailText(smtp.getReceivedMessages()[0]))
                    .contains("HTTP:        GET http://localhost:" + api.port() + "/api/lookup/item-1 -> 404");
        }
    }

    @Test
    void an_api_that_never_answers_fails_the_call_at_the_response_timeout() throws Exception {
        api.stubFor(get(urlPathMatching("/api/items/.*")).willReturn(aResponse().withStatus(200)
                .withFixedDelay(10_000)));
        try (var running = start(home(TestDatabase.H2).property("factory.http.response-timeout", "300ms")
                .property("factory.retry.max-attempts", "1"))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobStore().offer("call", "item-1", "v1", "go", true);
            app.jobs().trigger("call", Trigger.MANUAL);
            assertThat(rows(ds, "SELECT category, exception_class, message FROM factory_error")).singleElement()
                    .satisfies(r -> assertThat(r.get("exception_class") + " " + r.get("message"))
                            .containsIgnoringCase("timeout"));
            assertThat(count(ds, "SELECT COUNT(*) FROM job_inbox WHERE job = 'call'")).isEqualTo(1);
        }
    }
}
