package io.factoryrunner.page;

import static org.assertj.core.api.Assertions.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.logging.Level;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The status page in a real browser (the machine's headless Chromium) against the shipped demo: it shows the demo's
 * failed APAC build and the programs submitted to it, and an operator acknowledges, redrives, resends an alert and
 * cancels a program from it while a viewer cannot.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StatusPageBrowserTest {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final String INSTALL = "apt-get install -y chromium chromium-driver";

    GreenMail smtp;
    ServerSetup smtpSetup;
    FactoryHome.Running factory;
    WebDriver browser;
    WebDriverWait wait;
    String base;
    String admin;
    final HttpClient http = TestHttp.client();
    final ObjectMapper json = new ObjectMapper();

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        boolean installed = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
        if (!installed && "1".equals(System.getenv("FACTORY_REQUIRE_BROWSER"))) {
            fail("The status page's browser tests need Chromium, and FACTORY_REQUIRE_BROWSER=1 requires them: "
                    + INSTALL);
        }
        assumeTrue(installed, "The status page's browser tests need Chromium; skipped. Install it: " + INSTALL);

        int smtpPort = FactoryHome.freePort();
        smtpSetup = new ServerSetup(smtpPort, "127.0.0.1", ServerSetup.PROTOCOL_SMTP);
        smtp = new GreenMail(smtpSetup);
        smtp.start();
        FactoryHome home = new FactoryHome(dir, TestDatabase.H2)
                .applicationProperties(Files.readString(Path.of("config/application.properties")))
                .withoutOverride("factory.routes.shipped")
                .property("factory.db.h2-tcp-port", "0")
                .property("factory.mail.host", "127.0.0.1")
                .property("factory.mail.port", String.valueOf(smtpPort))
                .property("factory.alerts.to", "ops@example.com")
                // an alert the mail server refused waits an hour for its next attempt: only a resend sends it sooner
                .property("factory.alerts.retry-delay", "1h");
        base = "http://127.0.0.1:" + home.withHttpServer();
        factory = home.start();
        admin = Files.readString(dir.resolve("data/admin.token")).trim();

        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,1800",
                "--user-data-dir=" + Files.createDirectories(dir.resolve("chromium")));
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService driver = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(CHROMEDRIVER.toString())).usingAnyFreePort().build();
        browser = new ChromeDriver(driver, options);
        wait = new WebDriverWait(browser, Duration.ofSeconds(120), Duration.ofMillis(250));
        wait.ignoring(StaleElementReferenceException.class);
    }

    @AfterAll
    void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (factory != null) {
            factory.close();
        }
        if (smtp != null) {
            smtp.stop();
        }
    }

    @Test
    @Order(1)
    void the_page_signs_in_with_a_token_kept_out_of_the_url_and_logs_no_console_error() {
        signIn(admin);

        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#jobs tr[data-job=process]")));
        assertThat(browser.findElement(By.id("who")).getText()).isEqualTo("admin (admin)");
        assertThat(browser.getCurrentUrl()).isEqualTo(base + "/").doesNotContain(admin);
        assertThat(script("return sessionStorage.getItem('factoryRunner.token')")).isEqualTo(admin);
        assertNoConsoleError();
    }

    @Test
    @Order(2)
    void the_jobs_are_listed_upstream_before_downstream() {
        signIn(admin);

        List<String> jobs = wait.until(d -> {
            List<String> names = d.findElements(By.cssSelector("#jobs tbody tr[data-job]")).stream()
                    .map(row -> row.getDomAttribute("data-job")).toList();
            return names.contains("cleanup") ? names : null;
        });
        assertThat(jobs).containsSubsequence("prepare", "build", "check", "ready", "process", "cleanup");
        assertNoConsoleError();
    }

    @Test
    @Order(3)
    void the_demo_s_failed_apac_build_shows_in_job_check_marked_failed_with_its_story() throws Exception {
        signIn(admin);

        failedApacItemKey();
        // read inside a wait: the page redraws a table whose data changed, and the demo keeps running
        assertThat(read(By.cssSelector(FAILED_APAC + " .badge"), WebElement::getText)).isEqualTo("failed");
        // the run that failed the item stands out in check's timeline
        assertThat(read(By.cssSelector("#jobs tr[data-job=check] .tick.with-failures"),
                e -> e.getDomAttribute("title"))).contains("1 failed");
        assertThat(read(By.cssSelector("#jobs tr[data-job=check] .count-failed"), WebElement::getText))
                .isEqualTo("fail 1");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#errors tr[data-fingerprint]")));
        screenshot("status-page.png");

        browser.manage().window().setSize(new Dimension(390, 844));
        assertThat((Long) script("return document.documentElement.scrollWidth - window.innerWidth"))
                .as("the page does not scroll sideways on a phone; its tables do").isLessThanOrEqualTo(0L);
        screenshot("status-page-phone.png");
        browser.manage().window().setSize(new Dimension(1280, 1800));

        click(By.cssSelector("#items tr[data-status=failed][data-key*=apac] td"));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector(
                "#story[open] .path li[data-job=check] .status-failed")));
        assertThat(read(By.cssSelector("#story .occurrence details.stack pre"), e -> e.getDomProperty("textContent")))
                .contains("at ");
        assertThat(read(By.cssSelector("#story .path"), WebElement::getText)).contains("build").contains("check");
        screenshot("status-page-item.png");
        browser.findElement(By.cssSelector("#story .close")).click();
        assertNoConsoleError();
    }

    @Test
    @Order(4)
    void acknowledging_a_fingerprint_on_the_page_writes_it_to_the_database() throws Exception {
        signIn(admin);
        new Select(browser.findElement(By.cssSelector("#errors .filters [name=job]"))).selectByValue("check");

        click(By.cssSelector("#errors tr[data-fingerprint] button[data-action=acknowledge]"));
        confirm("on it, from the page");

        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#answer.ok"), "acknowledged"));
        wait.until(d -> fingerprints("check", "acknowledged") == 1);
        assertThat(fingerprints("check", "open")).isZero();
        assertThat(jdbc().queryFirst("SELECT note FROM error_fingerprint WHERE job = 'check'", rs -> rs.getString(1)))
                .hasValue("on it, from the page");
        assertNoConsoleError();
    }

    @Test
    @Order(5)
    void redriving_an_item_on_the_page_puts_it_back_into_its_job() throws Exception {
        call("PUT", "/api/config/factory.demo.fail-dataset", "{\"value\": \"none\"}", admin);
        signIn(admin);
        String key = failedApacItemKey();

        click(By.cssSelector("#items tr[data-key='" + key + "'] button[data-action=redrive]"));
        confirm("stand-in fixed");

        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#answer.ok"), "redriven"));
        wait.until(d -> failedInCheck(key) == 0);
        assertThat(jdbc().queryFirst("SELECT outcome FROM factory_audit WHERE action = 'redrive' AND target LIKE ?",
                rs -> rs.getString(1), "item check/" + key + "/%")).hasValue("1 item put back");
        assertNoConsoleError();
    }

    @Test
    @Order(6)
    void resending_an_alert_the_mail_server_refused_on_the_page_mails_it_at_once() throws Exception {
        long mailed = wait.until(d -> alert("SELECT MIN(alert_id) FROM alerts WHERE status = 'sent'"));
        smtp.stop();
        long refused = call("POST", "/api/alerts/" + mailed + "/resend", "{}", admin).get("alertId").asLong();
        wait.until(d -> alert("SELECT alert_id FROM alerts WHERE alert_id = ? AND status = 'pending'"
                + " AND last_error IS NOT NULL", refused));
        smtp = new GreenMail(smtpSetup);
        smtp.start();
        signIn(admin);
        String row = "#alerts tr[data-alert='" + refused + "']";
        assertThat(read(By.cssSelector(row + " td.message.bad"), WebElement::getText)).isNotBlank();
        screenshot("status-page-alerts.png");

        click(By.cssSelector(row + " button[data-action=resend]"));
        confirm("mail server back");

        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#answer.ok"), "pending"));
        wait.until(d -> alert("SELECT alert_id FROM alerts WHERE alert_id = ? AND status = 'sent'", refused));
        String subject = jdbc().queryFirst("SELECT subject FROM alerts WHERE alert_id = ?", rs -> rs.getString(1),
                refused).orElseThrow();
        assertThat(smtp.getReceivedMessages()).extracting(m -> m.getSubject()).contains(subject);
        assertThat(jdbc().queryFirst("SELECT note FROM factory_audit WHERE action = 'resend' AND target = ?",
                rs -> rs.getString(1), "alert " + refused)).hasValue("mail server back");
        assertNoConsoleError();
    }

    @Test
    @Order(7)
    void the_programs_panel_shows_where_each_program_stands_and_its_story_shows_every_step() throws Exception {
        String finished = runId(call("POST", "/api/programs", """
                {"jobs": ["fetch_orders", "build_report", "send_report"],
                 "programData": {"customer": "acme", "recipient": "ops@example.com"},
                 "jobData": {"fetch_orders": {"currentPage": 0, "totalPages": 2}}}""", admin));
        // without a recipient send_report ends the program with an error
        String errored = runId(call("POST", "/api/programs", """
                {"steps": [["fetch_orders"], ["build_report", {"title": "Q3"}], ["send_report"]],
                 "programData": {"customer": "globex"}}""", admin));
        // added without starting: it stays in flight until started or cancelled
        String held = runId(call("POST", "/api/programs", "{\"jobs\": [\"fetch_orders\", \"send_report\"],"
                + " \"start\": false}", admin));
        signIn(admin);

        assertThat(read(By.cssSelector(program(finished) + "[data-status=finished] td.step"), WebElement::getText))
                .isEqualTo("all 3 done");
        assertThat(read(By.cssSelector(program(errored) + "[data-status=errored] td.message"), WebElement::getText))
                .endsWith("no recipient in the program data (programData.recipient)");
        assertThat(read(By.cssSelector(program(errored) + " td.step"), WebElement::getText))
                .isEqualTo("send_report 3 of 3");
        assertThat(read(By.cssSelector(program(held) + "[data-status=added] td.step"), WebElement::getText))
                .isEqualTo("fetch_orders 1 of 2");
        assertThat(read(By.cssSelector(program(held) + " td code"), WebElement::getText))
                .isEqualTo(held.substring(0, 8));
        // only a program that has not ended can be cancelled, and only an errored one resumed
        wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector(program(held) + " button[data-action=cancel]")));
        assertThat(browser.findElements(By.cssSelector(program(finished) + " button"))).isEmpty();
        assertThat(browser.findElements(By.cssSelector(program(errored) + " button")))
                .extracting(b -> b.getDomAttribute("data-action")).containsExactly("resume");
        assertThat(browser.findElements(By.cssSelector(program(held) + " button[data-action=resume]"))).isEmpty();
        screenshot("status-page-programs.png");

        programStatusFilter("errored");
        // read inside the wait: a refresh may redraw the rows between reading and checking them
        wait.until(d -> {
            List<String> shown = d.findElements(By.cssSelector("#programs tr[data-program]")).stream()
                    .map(row -> row.getDomAttribute("data-status")).toList();
            return d.findElements(By.cssSelector(program(finished))).isEmpty()
                    && !d.findElements(By.cssSelector(program(errored))).isEmpty()
                    && shown.stream().allMatch("errored"::equals);
        });

        click(By.cssSelector(program(errored) + " td"));
        String step = "#story[open] table.steps tr[data-step='%d']";
        assertThat(read(By.cssSelector(step.formatted(0) + " .badge"), WebElement::getText)).isEqualTo("done");
        assertThat(read(By.cssSelector(step.formatted(1)), WebElement::getText))
                .contains("build_report").contains("done").contains("{\"title\":\"Q3\"}");
        assertThat(read(By.cssSelector(step.formatted(2) + " .badge"), WebElement::getText)).isEqualTo("failed");
        assertThat(read(By.cssSelector(step.formatted(2) + " td.message"), WebElement::getText))
                .endsWith("no recipient in the program data (programData.recipient)");
        assertThat(read(By.cssSelector(step.formatted(2) + " td:nth-child(7)"), WebElement::getText))
                .matches("[0-9.]+ m?s");
        assertThat(browser.findElements(By.cssSelector("#story table.attempts tr[data-outcome]")))
                .extracting(row -> row.getDomAttribute("data-outcome"))
                .containsExactly("succeeded", "succeeded", "failed");
        assertThat(browser.findElements(By.cssSelector("#story button[data-action=cancel]"))).isEmpty();
        assertThat(browser.findElements(By.cssSelector("#story dl.facts button[data-action=resume]"))).hasSize(1);
        screenshot("status-page-program.png");
        browser.findElement(By.cssSelector("#story .close")).click();
        programStatusFilter("");
        assertNoConsoleError();
    }

    @Test
    @Order(8)
    void cancelling_a_program_on_the_page_ends_it_in_the_database() throws Exception {
        String held = runId(call("POST", "/api/programs", "{\"jobs\": [\"fetch_orders\"], \"start\": false}",
                admin));
        signIn(admin);
        programStatusFilter("");

        click(By.cssSelector(program(held) + " button[data-action=cancel]"));
        confirm("customer withdrew");

        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#answer.ok"), "cancelled"));
        wait.until(d -> "cancelled".equals(programColumn("status", held)));
        assertThat(programColumn("cancelled_at", held)).isNotNull();
        assertThat(jdbc().queryFirst("SELECT note FROM factory_audit WHERE action = 'program-cancel' AND target = ?",
                rs -> rs.getString(1), "program " + held)).hasValue("customer withdrew");
        // the list shows it once the page refreshes after the answer
        wait.until(ExpectedConditions.textToBe(By.cssSelector(program(held) + " .badge"), "cancelled"));
        wait.until(d -> d.findElements(By.cssSelector(program(held) + " button")).isEmpty());
        assertNoConsoleError();
    }

    /**
     * Resume on an errored program (send_report, which errors without a recipient) puts it back at that step: the
     * steps done are not run again, send_report runs once more (and errors again, the recipient still missing).
     */
    @Test
    @Order(8)
    void resuming_an_errored_program_on_the_page_runs_it_again_from_the_step_that_failed() throws Exception {
        String errored = runId(call("POST", "/api/programs", "{\"jobs\": [\"fetch_orders\", \"send_report\"]}",
                admin));
        wait.until(d -> "errored".equals(programColumn("status", errored)));
        signIn(admin);
        programStatusFilter("");

        click(By.cssSelector(program(errored) + " button[data-action=resume]"));
        confirm("recipient list restored");

        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#answer.ok"), "waiting"));
        assertThat(jdbc().queryFirst("SELECT note FROM factory_audit WHERE action = 'program-resume' AND target = ?",
                rs -> rs.getString(1), "program " + errored)).hasValue("recipient list restored");
        // send_report ran again and failed again; fetch_orders did not run again
        wait.until(d -> attempts(errored).equals(List.of("0:succeeded", "1:failed", "1:failed"))
                && "errored".equals(programColumn("status", errored)));
        wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector(program(errored) + "[data-status=errored] button[data-action=resume]")));
        assertNoConsoleError();
    }

    /**
     * The demo process's export activity fails every time: its run ends done_with_errors with export in error. The
     * panel shows the process's latest run, its story the runs, a run's story the tasks, and Retry calls export again
     * (which fails again, the demo's stand-in unchanged).
     */
    @Test
    @Order(9)
    void the_processes_panel_shows_each_process_s_latest_run_and_retry_calls_its_task_in_error_again()
            throws Exception {
        long runId = call("POST", "/api/processes/demo/start", "{\"key\": \"customer-7\", \"data\": {\"region\":"
                + " \"APAC\"}, \"requestor\": \"page test\"}", admin).get("runId").asLong();
        wait.until(d -> "done_with_errors".equals(processRunStatus(runId)));
        signIn(admin);

        String row = "#processes tr[data-process=demo][data-status=done_with_errors]";
        assertThat(read(By.cssSelector(row + " td.run"), WebElement::getText)).isEqualTo("run " + runId);
        assertThat(read(By.cssSelector(row + " td:nth-child(4)"), WebElement::getText)).isEqualTo("customer-7");
        // four tasks, none open, one in error
        assertThat(read(By.cssSelector(row + " td:nth-child(9)"), WebElement::getText)).isEqualTo("1");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector(row + " button[data-action=retry]")));
        screenshot("status-page-processes.png");

        click(By.cssSelector(row + " td"));
        String run = "#story[open] table.process-runs tr[data-run='" + runId + "']";
        assertThat(read(By.cssSelector(run + " .badge"), WebElement::getText)).isEqualTo("done_with_errors");
        assertThat(read(By.cssSelector(run + " td:nth-child(4)"), WebElement::getText)).isEqualTo("page test");
        assertThat(read(By.cssSelector("#story[open] dl.facts"), WebElement::getText))
                .contains("/demo-api/process/start").contains("1 m 0 s");

        click(By.cssSelector(run + " td"));
        String task = "#story[open] table.tasks tr[data-task=%s]";
        assertThat(read(By.cssSelector(task.formatted("export") + " .badge"), WebElement::getText))
                .isEqualTo("error");
        assertThat(read(By.cssSelector(task.formatted("export") + " td.message"), WebElement::getText))
                .contains("demo failure");
        assertThat(browser.findElements(By.cssSelector("#story table.tasks tr[data-task]")))
                .extracting(r -> r.getDomAttribute("data-task") + ":" + r.getDomAttribute("data-status"))
                .containsExactlyInAnyOrder("start:done", "score:done", "segment:done", "export:error");
        screenshot("status-page-process-run.png");

        click(By.cssSelector("#story dl.facts button[data-action=retry]"));
        confirm("export service mended");

        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#answer.ok"), "retried"));
        assertThat(jdbc().queryFirst("SELECT note FROM factory_audit WHERE action = 'process-retry' AND target = ?",
                rs -> rs.getString(1), "process demo run " + runId)).hasValue("export service mended");
        // export was called a second time, failed again, and the run ended again
        wait.until(d -> exportAttempts(runId) == 2 && "done_with_errors".equals(processRunStatus(runId)));
        // opened again, the run's story shows the second call
        browser.findElement(By.cssSelector("#story .close")).click();
        click(By.cssSelector(row + " td"));
        click(By.cssSelector(run + " td"));
        assertThat(read(By.cssSelector(task.formatted("export") + " td:nth-child(3)"), WebElement::getText))
                .isEqualTo("2");
        browser.findElement(By.cssSelector("#story .close")).click();
        assertNoConsoleError();
    }

    @Test
    @Order(9)
    void cancelling_a_program_that_ended_meanwhile_shows_the_refusal_and_its_story_then_shows_it_ended()
            throws Exception {
        String held = runId(call("POST", "/api/programs", "{\"jobs\": [\"fetch_orders\"], \"start\": false}",
                admin));
        signIn(admin);
        programStatusFilter("");
        click(By.cssSelector(program(held) + " td"));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector(
                "#story[open] dl.facts button[data-action=cancel]")));

        // someone else cancels it first
        call("POST", "/api/programs/" + held + "/cancel", "{}", admin);
        click(By.cssSelector("#story dl.facts button[data-action=cancel]"));
        confirm("too late");

        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#answer.failed"), "409"));
        assertThat(browser.findElement(By.id("answer")).getText()).contains("has ended (cancelled)");
        // the story is shown again, as the program now stands
        wait.until(d -> d.findElements(By.cssSelector("#story[open] dl.facts button[data-action=cancel]")).isEmpty()
                && "cancelled".equals(d.findElement(By.cssSelector("#story[open] dl.facts .badge")).getText()));
        browser.findElement(By.cssSelector("#story .close")).click();
        // the browser logs the refused call itself; nothing else
        assertThat(consoleErrors()).singleElement(as(InstanceOfAssertFactories.STRING))
                .contains("/api/programs/" + held + "/cancel").contains("409");
    }

    @Test
    @Order(10)
    void a_viewer_sees_no_action_and_the_server_refuses_one_made_with_its_token() throws Exception {
        JsonNode created = call("POST", "/api/tokens", "{\"name\": \"wall-screen\", \"role\": \"viewer\"}", admin);
        String viewer = created.get("token").asText();
        // a program in flight, which an operator could cancel
        String held = runId(call("POST", "/api/programs", "{\"jobs\": [\"fetch_orders\"], \"start\": false}",
                admin));
        // a process run with its export task in error, which an operator could call again
        long processRun = call("POST", "/api/processes/demo/start", "{\"key\": \"customer-9\"}", admin).get("runId")
                .asLong();
        wait.until(d -> "done_with_errors".equals(processRunStatus(processRun)));
        signIn(viewer);
        programStatusFilter("");

        wait.until(ExpectedConditions.textToBe(By.id("who"), "wall-screen (viewer)"));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#jobs tr[data-job=check] .tick")));
        new Select(browser.findElement(By.cssSelector("#errors .filters [name=status]"))).selectByValue("");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#errors tr[data-fingerprint]")));
        new Select(browser.findElement(By.cssSelector("#items .filters [name=job]"))).selectByValue("check");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#items tr[data-key]")));
        new Select(browser.findElement(By.cssSelector("#alerts .filters [name=status]"))).selectByValue("");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#alerts tr[data-alert]")));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector(program(held) + "[data-status=added]")));
        wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#processes tr[data-process=demo][data-status=done_with_errors]")));
        // an operator sees Trigger and Pause on every job, Resolve and Redrive on the error, Resend on an alert,
        // Cancel on a program in flight, Retry on the process run: a viewer none of them
        assertThat(browser.findElements(By.cssSelector("button.act"))).isEmpty();
        assertNoConsoleError();

        Object status = ((JavascriptExecutor) browser).executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                fetch('/api/jobs/check/trigger', {method: 'POST',
                    headers: {Authorization: 'Bearer ' + sessionStorage.getItem('factoryRunner.token')}})
                  .then(r => done(r.status));""");
        assertThat(status).isEqualTo(403L);
    }

    // ---- helpers

    private void signIn(String token) {
        browser.get(base + "/");
        script("sessionStorage.clear()");
        browser.navigate().refresh();
        WebElement field = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("token")));
        field.sendKeys(token);
        browser.findElement(By.cssSelector("#sign-in-form button[type=submit]")).click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("main")));
    }

    /** The demo's APAC item in job check's list of failed items. */
    static final String FAILED_APAC = "#items tr[data-status=failed][data-key*=apac]";

    /** The key of the demo's failed APAC item, shown in the items list of job check. */
    private String failedApacItemKey() {
        // the job filter's options come with the page's first answer from the API
        wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#items .filters [name=job] option[value=check]")));
        new Select(browser.findElement(By.cssSelector("#items .filters [name=job]"))).selectByValue("check");
        new Select(browser.findElement(By.cssSelector("#items .filters [name=status]"))).selectByValue("failed");
        return read(By.cssSelector(FAILED_APAC), e -> e.getDomAttribute("data-key"));
    }

    /** What {@code reading} finds on the element, found again if a refresh replaced it meanwhile. */
    private String read(By locator, Function<WebElement, String> reading) {
        return wait.until(d -> reading.apply(d.findElement(locator)));
    }

    /** Clicks what the locator finds, again if a refresh replaced it meanwhile. */
    private void click(By locator) {
        wait.until(d -> {
            d.findElement(locator).click();
            return true;
        });
    }

    private void confirm(String note) {
        WebElement dialog = wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#confirm[open]")));
        dialog.findElement(By.name("note")).sendKeys(note);
        dialog.findElement(By.cssSelector("button[value=ok]")).click();
    }

    private void assertNoConsoleError() {
        assertThat(consoleErrors()).as("the browser's console").isEmpty();
    }

    /** The warnings and errors the browser's console logged since the last look. */
    private List<String> consoleErrors() {
        return browser.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= Level.WARNING.intValue()).map(LogEntry::getMessage).toList();
    }

    private Object script(String script) {
        return ((JavascriptExecutor) browser).executeScript(script);
    }

    private void screenshot(String name) throws Exception {
        Path target = Files.createDirectories(Path.of("target"));
        Files.copy(((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath(), target.resolve(name),
                StandardCopyOption.REPLACE_EXISTING);
    }

    private Jdbc jdbc() {
        return Jdbc.of(factory.dataSource());
    }

    private long fingerprints(String job, String status) {
        try {
            return jdbc().queryFirst("SELECT COUNT(*) FROM error_fingerprint WHERE job = ? AND status = ?",
                    rs -> rs.getLong(1), job, status).orElse(0L);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The row of a program in the programs panel. */
    private static String program(String runId) {
        return "#programs tr[data-program='" + runId + "']";
    }

    private static String runId(JsonNode submitted) {
        return submitted.get("runId").asText();
    }

    /** A program's step attempts in order, each as step:outcome. */
    private List<String> attempts(String runId) {
        try {
            return jdbc().query("SELECT e.step, e.outcome FROM program_event e JOIN program p ON p.id = e.program_id"
                    + " WHERE p.run_id = ? ORDER BY e.event_id", rs -> rs.getInt(1) + ":" + rs.getString(2), runId);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The status of a process run, or null before it is written. */
    private String processRunStatus(long runId) {
        try {
            return jdbc().queryFirst("SELECT status FROM process_run WHERE run_id = ?", rs -> rs.getString(1), runId)
                    .orElse(null);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** How many times the run's export task was called. */
    private int exportAttempts(long runId) {
        try {
            return jdbc().queryFirst("SELECT attempts FROM process_task WHERE run_id = ? AND name = 'export'",
                    rs -> rs.getInt(1), runId).orElse(0);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** One column of a program's row. */
    private Object programColumn(String column, String runId) {
        try {
            return jdbc().queryFirst("SELECT " + column + " FROM program WHERE run_id = ?", rs -> rs.getObject(1),
                    runId).orElse(null);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Chooses a status in the programs panel (the browser may restore the last choice when the page reloads). */
    private void programStatusFilter(String status) {
        new Select(wait.until(ExpectedConditions.visibilityOfElementLocated(
                By.cssSelector("#programs .filters [name=status]")))).selectByValue(status);
    }

    /** The id the query answers, or null (a wait goes on) when it finds none. */
    private Long alert(String sql, Object... args) {
        try {
            return jdbc().queryFirst(sql, rs -> rs.getObject(1) == null ? null : rs.getLong(1), args).orElse(null);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private long failedInCheck(String key) {
        try {
            return jdbc().queryFirst("SELECT COUNT(*) FROM job_state WHERE job = 'check' AND item_key = ?"
                    + " AND status = 'failed'", rs -> rs.getLong(1), key).orElse(0L);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private JsonNode call(String method, String path, String body, String token) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base + path))
                .method(method, HttpRequest.BodyPublishers.ofString(body))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json").build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isBetween(200, 299);
        return json.readTree(response.body());
    }
}
