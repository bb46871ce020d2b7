package io.factoryrunner.reference;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.deleteRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static io.factoryrunner.testsupport.Sql.rows;
import static io.factoryrunner.testsupport.Sql.column;
import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.execute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.job.Trigger;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.MutableClock;
import io.factoryrunner.testsupport.TestDatabase;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.apache.camel.Consumer;
import org.apache.camel.Exchange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The reference factory (routes/factory/: prepare -> build -> check -> ready -> process -> cleanup) end to end on
 * the seeded demo tables, with WireMock as the analytics product's API. Every job's cron lies in 2099: the test
 * drives the chain by running the intake route and triggering each job in turn, as an operator would.
 */
class ReferenceFactoryTest {

    static final String NEVER = "0 0 0 1 1 ? 2099";
    static final List<String> JOBS = List.of("prepare", "build", "check", "ready", "process", "cleanup");

    /** The seeded demo customers (db/demo/V1__demo_customer_data.sql) by region. */
    static final Map<String, List<String>> CUSTOMERS = Map.of(
            "na", List.of("C-1001", "C-1002", "C-1003", "C-1004", "C-1005"),
            "emea", List.of("C-2001", "C-2002", "C-2003", "C-2004", "C-2005"),
            "apac", List.of("C-3001", "C-3002", "C-3003"));

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();
    WireMockServer api = factory.api();
    final MutableClock clock = new MutableClock();

    // ---------------------------------------------------------------------------------------------------------
    // the happy path and re-runs, on both databases

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void customer_records_in_become_one_score_row_per_customer_out(TestDatabase db) throws Exception {
        analyticsWorks();
        FactoryApplication app = start(home(db)).app();
        runChain(app);
        DataSource ds = app.database().dataSource();

        assertThat(scoresByDataset(ds)).isEqualTo(Map.of(
                "customers-apac", CUSTOMERS.get("apac"),
                "customers-emea", CUSTOMERS.get("emea"),
                "customers-na", CUSTOMERS.get("na")));
        assertThat(rows(ds, "SELECT DISTINCT dataset, build_id FROM customer_scores ORDER BY dataset"))
                .extracting(r -> r.get("dataset") + "=" + r.get("build_id"))
                .containsExactly("customers-apac=b-apac", "customers-emea=b-emea", "customers-na=b-na");
        for (String job : List.of("prepare", "build", "check", "ready", "process")) {
            assertThat(statesOf(ds, job)).as("job_state of " + job).isEqualTo(Map.of(
                    "customers-apac", "done", "customers-emea", "done", "customers-na", "done"));
        }
        assertThat(rows(ds, "SELECT job, status FROM job_run")).isNotEmpty()
                .allSatisfy(r -> assertThat(r.get("status")).as("run of " + r.get("job")).isEqualTo("succeeded"));
        assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
        api.verify(3, postRequestedFor(urlPathEqualTo("/api/v1/datasets")));
        api.verify(3, postRequestedFor(urlPathEqualTo("/api/v1/builds")));
        api.verify(3, getRequestedFor(urlPathMatching("/api/v1/builds/[^/]+/results")));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void csv_files_dropped_in_the_folder_become_data_sets_for_prepare(TestDatabase db) throws Exception {
        FactoryApplication app = start(home(db)).app();
        DataSource ds = app.database().dataSource();
        Path drop = dir.resolve("drop");
        Files.createDirectories(drop);
        Files.writeString(drop.resolve("partners.csv"), "id,name\n1,Acme\n2,Globex\n");
        Files.writeString(drop.resolve("empty.csv"), "id,name\n");
        Files.write(drop.resolve("latin1.csv"), new byte[] {'i', 'd', '\n', '1', (byte) 0xE9, '\n'});
        Files.writeString(drop.resolve("notes.txt"), "not a data set");

        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(drop.resolve(".done/partners.csv"))
                && Files.exists(drop.resolve(".done/empty.csv")) && Files.exists(drop.resolve(".failed/latin1.csv")));
        assertThat(drop.resolve("notes.txt")).as("a file that is not CSV stays where it was").exists();
        // a file that cannot be read is kept aside, and the failure names it
        await().atMost(Duration.ofSeconds(10)).until(() -> count(ds, "SELECT COUNT(*) FROM factory_error"
                + " WHERE route_id = 'prepare-drop' AND category = 'external_system'"
                + " AND message LIKE '%latin1.csv is not UTF-8 text%' AND payload_excerpt LIKE 'file %latin1.csv'")
                == 1);

        trigger(app, "prepare");
        assertThat(statesOf(ds, "prepare")).isEqualTo(Map.of("partners", "done", "empty", "failed"));
        assertThat(rows(ds, "SELECT data FROM job_state WHERE job = 'prepare' AND item_key = 'partners'"))
                .singleElement().satisfies(r -> assertThat((String) r.get("data"))
                        .contains("\"rows\":2").contains("1,Acme"));
        assertThat(count(ds, "SELECT COUNT(*) FROM factory_error WHERE job = 'prepare'"
                + " AND message LIKE '%data set empty has no records%'")).isEqualTo(1);
        assertThat(waiting(ds, "build")).containsExactly("partners");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_dropped_file_above_the_size_limit_goes_to_failed_with_an_error_naming_its_size_and_the_limit(
            TestDatabase db) throws Exception {
        var running = start(home(db).property("source.drop.max-size", "1000"));
        DataSource ds = running.dataSource();
        Path drop = dir.resolve("drop");
        Files.createDirectories(drop);
        Files.writeString(drop.resolve("at-limit.csv"), "id\n" + "1".repeat(996) + "\n");
        Files.writeString(drop.resolve("above.csv"), "id\n" + "1".repeat(997) + "\n");

        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(drop.resolve(".done/at-limit.csv"))
                && Files.exists(drop.resolve(".failed/above.csv")));
        await().atMost(Duration.ofSeconds(10)).until(() -> count(ds, "SELECT COUNT(*) FROM factory_error"
                + " WHERE route_id = 'prepare-drop'") == 1);
        assertThat(rows(ds, "SELECT category, message, payload_excerpt FROM factory_error")).singleElement()
                .satisfies(r -> {
                    assertThat(r.get("category")).isEqualTo("external_system");
                    assertThat((String) r.get("message")).contains(drop.resolve("above.csv").toString())
                            .contains("1001 bytes").contains("source.drop.max-size").contains("1000 bytes");
                    assertThat((String) r.get("payload_excerpt")).endsWith("above.csv");
                });
        assertThat(waiting(ds, "prepare")).containsExactly("at-limit");
    }

    @Test
    void a_dropped_file_of_gigabytes_is_refused_by_its_size_without_being_read() throws Exception {
        var running = start(home(TestDatabase.H2));
        DataSource ds = running.dataSource();
        Path drop = dir.resolve("drop");
        Files.createDirectories(drop);
        // a sparse file: 3 GiB long, no disk used; reading it whole would fail with an OutOfMemoryError
        Path huge = drop.resolve("huge.csv.part");
        try (RandomAccessFile file = new RandomAccessFile(huge.toFile(), "rw")) {
            file.setLength(3L << 30);
        }
        Files.move(huge, drop.resolve("huge.csv"));

        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(drop.resolve(".failed/huge.csv")));
        await().atMost(Duration.ofSeconds(10)).until(() -> count(ds, "SELECT COUNT(*) FROM factory_error"
                + " WHERE route_id = 'prepare-drop' AND message LIKE '%huge.csv is 3221225472 bytes, more than"
                + " the 500000 bytes source.drop.max-size allows%'") == 1);
        assertThat(waiting(ds, "prepare")).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_dropped_file_whose_data_set_does_not_fit_an_item_is_refused_naming_the_item_limit(TestDatabase db)
            throws Exception {
        var running = start(home(db).property("source.drop.max-size", "2000000"));
        DataSource ds = running.dataSource();
        Path drop = dir.resolve("drop");
        Files.createDirectories(drop);
        // 800,000 bytes, within the raised limit; quotes and line ends take two characters each as JSON
        Files.writeString(drop.resolve("quoted.csv"), "\"a\"\n".repeat(200_000));

        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(drop.resolve(".failed/quoted.csv")));
        await().atMost(Duration.ofSeconds(10)).until(() -> count(ds, "SELECT COUNT(*) FROM factory_error"
                + " WHERE route_id = 'prepare-drop'") == 1);
        assertThat(rows(ds, "SELECT category, message FROM factory_error")).singleElement().satisfies(r -> {
            assertThat(r.get("category")).isEqualTo("external_system");
            assertThat((String) r.get("message")).contains("quoted.csv").contains("800000 bytes")
                    .contains("more than the 1000000 characters an item holds");
        });
        assertThat(waiting(ds, "prepare")).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_rerun_of_a_released_again_data_set_replaces_its_scores_instead_of_adding_to_them(TestDatabase db)
            throws Exception {
        analyticsWorks();
        FactoryApplication app = start(home(db)).app();
        runChain(app);
        DataSource ds = app.database().dataSource();
        // every NA record changes: a new version of data set customers-na, scored anew by the product
        execute(ds, "UPDATE demo_customer SET updated_at = TIMESTAMP '2026-02-01 08:00:00' WHERE region = 'NA'");
        api.stubFor(results("na", "0.1234", 1));
        runChain(app);

        assertThat(scoresByDataset(ds)).isEqualTo(Map.of(
                "customers-apac", CUSTOMERS.get("apac"),
                "customers-emea", CUSTOMERS.get("emea"),
                "customers-na", CUSTOMERS.get("na")));
        assertThat(rows(ds, "SELECT score FROM customer_scores WHERE dataset = 'customers-na'"))
                .extracting(r -> ((Number) r.get("score")).doubleValue()).containsOnly(0.1234);
        assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'process' AND item_key = 'customers-na'"
                + " AND status = 'done'")).as("both versions of customers-na processed").isEqualTo(2);
        api.verify(4, getRequestedFor(urlPathMatching("/api/v1/builds/[^/]+/results")));
    }

    // ---------------------------------------------------------------------------------------------------------
    // build: upload and start

    @Test
    void a_jobs_own_http_response_timeout_cuts_off_an_upload_that_never_answers() throws Exception {
        analyticsWorks();
        api.stubFor(post(urlPathEqualTo("/api/v1/datasets")).atPriority(1)
                .willReturn(aResponse().withStatus(201).withFixedDelay(10_000)));
        FactoryApplication app = start(home(TestDatabase.H2).property("job.build.http.response-timeout", "300ms")
                .property("job.build.retry.max-attempts", "1")).app();
        intake(app);
        trigger(app, "prepare", "build");
        DataSource ds = app.database().dataSource();
        assertThat(rows(ds, "SELECT job, exception_class, message FROM factory_error")).hasSize(3)
                .allSatisfy(r -> {
                    assertThat(r.get("job")).isEqualTo("build");
                    assertThat(r.get("exception_class") + " " + r.get("message")).containsIgnoringCase("timeout");
                });
        assertThat(waiting(ds, "build")).hasSize(3);
    }

    @Test
    void server_errors_on_the_upload_are_retried_and_leave_no_error_row() throws Exception {
        analyticsWorks();
        // the first two uploads (whichever data set) answer 500; every later one goes to the working stubs
        api.stubFor(post(urlPathEqualTo("/api/v1/datasets")).atPriority(1).inScenario("flaky")
                .whenScenarioStateIs(Scenario.STARTED).willReturn(aResponse().withStatus(500))
                .willSetStateTo("once more"));
        api.stubFor(post(urlPathEqualTo("/api/v1/datasets")).atPriority(1).inScenario("flaky")
                .whenScenarioStateIs("once more").willReturn(aResponse().withStatus(500)).willSetStateTo("up"));
        FactoryApplication app = start(home(TestDatabase.H2)).app();
        intake(app);
        trigger(app, "prepare", "build");
        DataSource ds = app.database().dataSource();

        assertThat(statesOf(ds, "build")).isEqualTo(Map.of(
                "customers-apac", "done", "customers-emea", "done", "customers-na", "done"));
        assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
        assertThat(rows(ds, "SELECT status, retries FROM job_run WHERE job = 'build'")).singleElement()
                .satisfies(r -> {
                    assertThat(r.get("status")).isEqualTo("succeeded");
                    assertThat(((Number) r.get("retries")).intValue()).isEqualTo(2);
                });
        api.verify(5, postRequestedFor(urlPathEqualTo("/api/v1/datasets")));
        api.verify(3, postRequestedFor(urlPathEqualTo("/api/v1/builds")));
    }

    @Test
    void a_refused_upload_is_one_job_initialization_error_and_is_not_retried() throws Exception {
        analyticsWorks();
        api.stubFor(post(urlPathEqualTo("/api/v1/datasets")).atPriority(1).withRequestBody(containing(",NA,"))
                .willReturn(json(401, "{\"detail\":\"invalid API key\"}")));
        FactoryApplication app = start(home(TestDatabase.H2)).app();
        intake(app);
        trigger(app, "prepare", "build");
        DataSource ds = app.database().dataSource();

        assertThat(rows(ds, "SELECT job, item_key, category, attempts, message FROM factory_error"))
                .singleElement().satisfies(r -> {
                    assertThat(r.get("job")).isEqualTo("build");
                    assertThat(r.get("item_key")).isEqualTo("customers-na");
                    assertThat(r.get("category")).isEqualTo("job_initialization");
                    assertThat(((Number) r.get("attempts")).intValue()).isEqualTo(1);
                    assertThat((String) r.get("message")).contains("HTTP 401");
                });
        assertThat(statesOf(ds, "build")).isEqualTo(Map.of(
                "customers-apac", "done", "customers-emea", "done", "customers-na", "failed"));
        api.verify(1, postRequestedFor(urlPathEqualTo("/api/v1/datasets")).withRequestBody(containing(",NA,")));
        api.verify(0, postRequestedFor(urlPathEqualTo("/api/v1/builds"))
                .withRequestBody(matchingJsonPath("$.dataset_id", equalTo("ds-na"))));
    }

    @Test
    void a_malformed_answer_to_the_build_start_is_an_internal_error_and_is_not_retried() throws Exception {
        analyticsWorks();
        api.stubFor(post(urlPathEqualTo("/api/v1/builds")).atPriority(1)
                .withRequestBody(matchingJsonPath("$.dataset_id", equalTo("ds-emea")))
                .willReturn(json(202, "{\"id\": \"b-emea\", \"status\": ")));
        FactoryApplication app = start(home(TestDatabase.H2)).app();
        intake(app);
        trigger(app, "prepare", "build");
        DataSource ds = app.database().dataSource();

        assertThat(rows(ds, "SELECT job, item_key, category, attempts FROM factory_error")).singleElement()
                .satisfies(r -> {
                    assertThat(r.get("job")).isEqualTo("build");
                    assertThat(r.get("item_key")).isEqualTo("customers-emea");
                    assertThat(r.get("category")).isEqualTo("internal");
                    assertThat(((Number) r.get("attempts")).intValue()).isEqualTo(1);
                });
        assertThat(statesOf(ds, "build")).containsEntry("customers-emea", "failed");
        api.verify(1, postRequestedFor(urlPathEqualTo("/api/v1/builds"))
                .withRequestBody(matchingJsonPath("$.dataset_id", equalTo("ds-emea"))));
    }

    // ---------------------------------------------------------------------------------------------------------
    // check: build status

    @Test
    void a_failed_build_is_a_build_failure_error() throws Exception {
        analyticsWorks();
        api.stubFor(get(urlPathEqualTo("/api/v1/builds/b-apac")).atPriority(1)
                .willReturn(json(200, "{\"id\": \"b-apac\", \"status\": \"failed\", \"error\": \"too few rows\"}")));
        FactoryApplication app = start(home(TestDatabase.H2)).app();
        intake(app);
        trigger(app, "prepare", "build", "check");
        DataSource ds = app.database().dataSource();

        assertThat(rows(ds, "SELECT job, item_key, category, message FROM factory_error")).singleElement()
                .satisfies(r -> {
                    assertThat(r.get("job")).isEqualTo("check");
                    assertThat(r.get("item_key")).isEqualTo("customers-apac");
                    assertThat(r.get("category")).isEqualTo("build_failure");
                    assertThat((String) r.get("message")).contains("b-apac").contains("too few rows");
                });
        assertThat(statesOf(ds, "check")).isEqualTo(Map.of(
                "customers-apac", "failed", "customers-emea", "done", "customers-na", "done"));
    }

    @Test
    void a_build_still_running_is_left_for_the_next_run_without_an_error() throws Exception {
        analyticsWorks();
        api.stubFor(get(urlPathEqualTo("/api/v1/builds/b-na")).atPriority(1)
                .willReturn(json(200, "{\"id\": \"b-na\", \"status\": \"running\"}")));
        FactoryApplication app = start(home(TestDatabase.H2)).app();
        intake(app);
        trigger(app, "prepare", "build", "check");
        DataSource ds = app.database().dataSource();

        assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
        assertThat(statesOf(ds, "check")).isEqualTo(Map.of("customers-apac", "done", "customers-emea", "done"));
        assertThat(waiting(ds, "check")).containsExactly("customers-na");

        api.stubFor(get(urlPathEqualTo("/api/v1/builds/b-na")).atPriority(1)
                .willReturn(json(200, "{\"id\": \"b-na\", \"status\": \"complete\", \"quality\": 0.8}")));
        trigger(app, "check");
        assertThat(statesOf(ds, "check")).containsEntry("customers-na", "done");
        assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
    }

    @Test
    void a_build_still_running_after_the_deadline_is_a_build_failure_error() throws Exception {
        analyticsWorks();
        api.stubFor(get(urlPathEqualTo("/api/v1/builds/b-na")).atPriority(1)
                .willReturn(json(200, "{\"id\": \"b-na\", \"status\": \"running\"}")));
        FactoryApplication app = start(home(TestDatabase.H2).property("check.deadline", "30m")).app();
        intake(app);
        trigger(app, "prepare", "build", "check");
        DataSource ds = app.database().dataSource();
        assertThat(waiting(ds, "check")).containsExactly("customers-na");

        clock.advance(Duration.ofMinutes(31));
        trigger(app, "check");

        assertThat(rows(ds, "SELECT job, item_key, category, message FROM factory_error")).singleElement()
                .satisfies(r -> {
                    assertThat(r.get("job")).isEqualTo("check");
                    assertThat(r.get("item_key")).isEqualTo("customers-na");
                    assertThat(r.get("category")).isEqualTo("build_failure");
                    assertThat((String) r.get("message")).contains("b-na").contains("still running after 30m");
                });
        assertThat(statesOf(ds, "check")).containsEntry("customers-na", "failed");
        assertThat(waiting(ds, "check")).isEmpty();
    }

    // ---------------------------------------------------------------------------------------------------------
    // process: results into the output table

    @Test
    void a_malformed_results_body_fails_the_item_and_its_redrive_writes_each_customer_once() throws Exception {
        analyticsWorks();
        api.stubFor(get(urlPathEqualTo("/api/v1/builds/b-na/results")).atPriority(1).inScenario("cut")
                .whenScenarioStateIs(Scenario.STARTED)
                .willReturn(json(200, "[{\"customer_id\": \"C-1001\", \"score\": 0.5, \"segment\": \"gold\"},"
                        + " {\"customer_id\": \"C-10"))
                .willSetStateTo("whole"));
        FactoryApplication app = start(home(TestDatabase.H2)).app();
        runChain(app);
        DataSource ds = app.database().dataSource();
        assertThat(statesOf(ds, "process")).containsEntry("customers-na", "failed");
        assertThat(rows(ds, "SELECT category FROM factory_error WHERE job = 'process'")).singleElement()
                .satisfies(r -> assertThat(r.get("category")).isEqualTo("internal"));
        assertThat(scoresByDataset(ds)).doesNotContainKey("customers-na");

        assertThat(app.jobStore().redrive("process", "customers-na", version(ds, "process", "customers-na")))
                .isTrue();
        trigger(app, "process");

        assertThat(statesOf(ds, "process")).containsEntry("customers-na", "done");
        assertThat(scoresByDataset(ds)).containsEntry("customers-na", CUSTOMERS.get("na"));
        assertThat(count(ds, "SELECT COUNT(*) FROM customer_scores")).isEqualTo(13);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_output_insert_failing_midway_then_redriven_writes_each_customer_once(TestDatabase db)
            throws Exception {
        analyticsWorks();
        // the fourth row's score does not fit the output column DECIMAL(8,4): the batch insert fails midway
        List<String> na = CUSTOMERS.get("na");
        StringBuilder bad = new StringBuilder("[");
        for (int i = 0; i < na.size(); i++) {
            bad.append(i == 0 ? "" : ", ").append("{\"customer_id\": \"").append(na.get(i))
                    .append("\", \"score\": ").append(i == 3 ? "123456789.5" : "0.5").append(", \"segment\": \"x\"}");
        }
        api.stubFor(get(urlPathEqualTo("/api/v1/builds/b-na/results")).atPriority(1).inScenario("overflow")
                .whenScenarioStateIs(Scenario.STARTED).willReturn(json(200, bad.append("]").toString()))
                .willSetStateTo("fixed"));
        FactoryApplication app = start(home(db)).app();
        runChain(app);
        DataSource ds = app.database().dataSource();
        assertThat(statesOf(ds, "process")).containsEntry("customers-na", "failed");
        assertThat(rows(ds, "SELECT category FROM factory_error WHERE job = 'process'")).singleElement()
                .satisfies(r -> assertThat(r.get("category")).isEqualTo("sql"));

        app.jobStore().redrive("process", "customers-na", version(ds, "process", "customers-na"));
        trigger(app, "process");

        assertThat(statesOf(ds, "process")).containsEntry("customers-na", "done");
        assertThat(scoresByDataset(ds)).containsEntry("customers-na", na);
        assertThat(count(ds, "SELECT COUNT(*) FROM customer_scores")).isEqualTo(13);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_rerun_whose_results_lack_a_score_fails_and_keeps_the_earlier_scores(TestDatabase db) throws Exception {
        analyticsWorks();
        FactoryApplication app = start(home(db)).app();
        runChain(app);
        DataSource ds = app.database().dataSource();
        execute(ds, "UPDATE demo_customer SET updated_at = TIMESTAMP '2026-02-01 08:00:00' WHERE region = 'NA'");
        api.stubFor(get(urlPathEqualTo("/api/v1/builds/b-na/results")).atPriority(1).willReturn(json(200,
                "[{\"customer_id\": \"C-1001\", \"score\": 0.2}, {\"customer_id\": \"C-1002\"}]")));
        runChain(app);

        assertThat(rows(ds, "SELECT item_version, status FROM job_state WHERE job = 'process'"
                + " AND item_key = 'customers-na' ORDER BY item_version"))
                .extracting(r -> r.get("item_version") + " " + r.get("status"))
                .containsExactly("2026-01-05T09:04:00Z done", "2026-02-01T08:00:00Z failed");
        assertThat(rows(ds, "SELECT category, message FROM factory_error")).singleElement().satisfies(r -> {
            assertThat(r.get("category")).isEqualTo("internal");
            assertThat((String) r.get("message")).contains("lacks customer_id or score");
        });
        assertThat(scoresByDataset(ds)).containsEntry("customers-na", CUSTOMERS.get("na"));
        assertThat(rows(ds, "SELECT score FROM customer_scores WHERE dataset = 'customers-na'"))
                .extracting(r -> ((Number) r.get("score")).doubleValue()).containsOnly(0.75);
    }

    // ---------------------------------------------------------------------------------------------------------
    // an outage of the whole API

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void when_the_api_is_down_for_a_whole_run_the_items_wait_and_complete_once_it_is_back(TestDatabase db)
            throws Exception {
        analyticsWorks();
        FactoryApplication app = start(home(db)).app();
        intake(app);
        trigger(app, "prepare");
        api.stop();
        trigger(app, "build");
        DataSource ds = app.database().dataSource();

        assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'build'")).as("no build state").isZero();
        assertThat(waiting(ds, "build")).containsExactlyInAnyOrder("customers-apac", "customers-emea",
                "customers-na");
        assertThat(rows(ds, "SELECT category, attempts FROM factory_error")).hasSize(3).allSatisfy(r -> {
            assertThat(r.get("category")).isEqualTo("http_api");
            assertThat(((Number) r.get("attempts")).intValue()).isEqualTo(3);
        });

        api = factory.apiAgain();
        analyticsWorks();
        // the items put back wait factory.retry.next-run-delay before their next attempt
        trigger(app, "build");
        assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'build'")).isZero();
        clock.advance(Duration.ofMinutes(1));
        trigger(app, "build", "check", "ready", "process");

        assertThat(statesOf(ds, "build")).isEqualTo(Map.of(
                "customers-apac", "done", "customers-emea", "done", "customers-na", "done"));
        assertThat(count(ds, "SELECT COUNT(*) FROM customer_scores")).isEqualTo(13);
    }

    // ---------------------------------------------------------------------------------------------------------
    // cleanup

    @Test
    void cleanup_leaves_builds_younger_than_the_retention_in_the_product() throws Exception {
        analyticsWorks();
        FactoryApplication app = start(home(TestDatabase.H2).property("cleanup.retention", "7d")).app();
        runChain(app);
        clock.advance(Duration.ofDays(6));
        trigger(app, "cleanup");
        DataSource ds = app.database().dataSource();

        api.verify(0, deleteRequestedFor(urlPathMatching("/api/v1/.*")));
        assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'cleanup'")).isZero();
        assertThat(waiting(ds, "cleanup")).containsExactlyInAnyOrder("customers-apac", "customers-emea",
                "customers-na");
    }

    @Test
    void cleanup_deletes_each_processed_build_and_its_data_set_once_after_the_retention() throws Exception {
        analyticsWorks();
        FactoryApplication app = start(home(TestDatabase.H2).property("cleanup.retention", "7d")).app();
        runChain(app);
        clock.advance(Duration.ofDays(7).plusMinutes(1));
        trigger(app, "cleanup", "cleanup");
        DataSource ds = app.database().dataSource();

        for (String region : CUSTOMERS.keySet()) {
            api.verify(1, deleteRequestedFor(urlPathEqualTo("/api/v1/builds/b-" + region)));
            api.verify(1, deleteRequestedFor(urlPathEqualTo("/api/v1/datasets/ds-" + region)));
        }
        api.verify(6, deleteRequestedFor(urlPathMatching("/api/v1/.*")));
        assertThat(statesOf(ds, "cleanup")).isEqualTo(Map.of(
                "customers-apac", "done", "customers-emea", "done", "customers-na", "done"));
    }

    // ---------------------------------------------------------------------------------------------------------
    // the installation, the API stand-in and the chain

    FactoryHome home(TestDatabase db) {
        return referenceFactory(factory.home(db), "http://localhost:" + api.port())
                .property("factory.retry.initial-delay", "20")
                .property("factory.retry.max-delay", "200");
    }

    /**
     * The reference factory on a home: its files dropped in the home's drop/, its intake and every job waiting for a
     * trigger, the analytics product at the URL (without the HTTP server the demo's stand-in API is not loaded).
     */
    static FactoryHome referenceFactory(FactoryHome home, String analyticsUrl) {
        home.property("factory.routes.shipped", "framework/**,factory/**")
                .property("factory.demo.enabled", "true")
                .property("analytics.url", analyticsUrl)
                .property("source.drop-dir", home.dir().resolve("drop").toString())
                .property("source.cron", NEVER);
        JOBS.forEach(job -> home.property("job." + job + ".cron", NEVER));
        return home;
    }

    FactoryHome.Running start(FactoryHome home) {
        return factory.start(home, clock);
    }

    /** Runs the prepare intake route once, as its Quartz trigger would: the changed customer records become items. */
    static void intake(FactoryApplication app) throws Exception {
        Consumer consumer = app.context().getRoute("prepare-intake").getConsumer();
        Exchange exchange = consumer.createExchange(false);
        try {
            consumer.getProcessor().process(exchange);
            assertThat(exchange.getException()).as("the intake's failure").isNull();
        } finally {
            consumer.releaseExchange(exchange, false);
        }
    }

    static void trigger(FactoryApplication app, String... jobs) {
        for (String job : jobs) {
            assertThat(app.jobs().trigger(job, Trigger.MANUAL)).as("run of " + job).isPositive();
        }
    }

    /** Intake, then one run of each job up to process. */
    static void runChain(FactoryApplication app) throws Exception {
        intake(app);
        trigger(app, "prepare", "build", "check", "ready", "process");
    }

    /** A working analytics API for the three seeded data sets (stubs at priority 5; tests override at 1). */
    void analyticsWorks() {
        for (String region : CUSTOMERS.keySet()) {
            String upper = region.toUpperCase(Locale.ROOT);
            api.stubFor(post(urlPathEqualTo("/api/v1/datasets")).atPriority(5)
                    .withRequestBody(containing("," + upper + ","))
                    .willReturn(json(201, "{\"id\": \"ds-" + region + "\"}")));
            api.stubFor(post(urlPathEqualTo("/api/v1/builds")).atPriority(5)
                    .withRequestBody(matchingJsonPath("$.dataset_id", equalTo("ds-" + region)))
                    .willReturn(json(202, "{\"id\": \"b-" + region + "\", \"status\": \"queued\"}")));
            api.stubFor(get(urlPathEqualTo("/api/v1/builds/b-" + region)).atPriority(5)
                    .willReturn(json(200, "{\"id\": \"b-" + region + "\", \"status\": \"complete\", \"quality\": 0.9}")));
            api.stubFor(results(region, "0.75", 5));
            api.stubFor(WireMock.delete(urlPathEqualTo("/api/v1/builds/b-" + region)).atPriority(5)
                    .willReturn(aResponse().withStatus(204)));
            api.stubFor(WireMock.delete(urlPathEqualTo("/api/v1/datasets/ds-" + region)).atPriority(5)
                    .willReturn(aResponse().withStatus(204)));
        }
    }

    /** The results of build b-{region}: one row per seeded customer of the region, each with {@code score}. */
    static MappingBuilder results(String region, String score, int priority) {
        String body = CUSTOMERS.get(region).stream()
                .map(id -> "{\"customer_id\": \"" + id + "\", \"score\": " + score + ", \"segment\": \"gold\"}")
                .collect(Collectors.joining(", ", "[", "]"));
        return get(urlPathEqualTo("/api/v1/builds/b-" + region + "/results")).atPriority(priority)
                .willReturn(json(200, body));
    }

    static ResponseDefinitionBuilder json(int status, String body) {
        return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
    }

    // ---------------------------------------------------------------------------------------------------------
    // what a user looks at in the tables

    /** customer_scores as data set -> its customer ids, sorted. */
    static Map<String, List<String>> scoresByDataset(DataSource ds) throws Exception {
        Map<String, List<String>> answer = new LinkedHashMap<>();
        for (var r : rows(ds, "SELECT dataset, customer_id FROM customer_scores ORDER BY dataset, customer_id")) {
            answer.computeIfAbsent((String) r.get("dataset"), k -> new ArrayList<>()).add((String) r.get("customer_id"));
        }
        return answer;
    }

    /** The job's job_state rows as item key -> status. */
    static Map<String, String> statesOf(DataSource ds, String job) throws Exception {
        Map<String, String> answer = new LinkedHashMap<>();
        for (var r : rows(ds, "SELECT item_key, status FROM job_state WHERE job = ? ORDER BY item_key", job)) {
            answer.put((String) r.get("item_key"), (String) r.get("status"));
        }
        return answer;
    }

    static List<String> waiting(DataSource ds, String job) throws Exception {
        return column(ds, "SELECT item_key FROM job_waiting WHERE job = ? ORDER BY item_key", job);
    }

    static String version(DataSource ds, String job, String key) throws Exception {
        List<String> versions = column(ds, "SELECT item_version FROM job_state WHERE job = ? AND item_key = ?", job,
                key);
        assertThat(versions).as("job_state row of " + job + "/" + key).isNotEmpty();
        return versions.get(0);
    }
}
