package io.factoryrunner.bench;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Status page benchmark, run by hand ({@code bench/page.sh}); not a unit test. On a database holding RUNS runs,
 * STATES item states and ERRORS errors, headless Chromium opens the page LOADS times; for each it measures the time
 * from navigation until every panel is filled (the page's "updated" stamp, set once all its calls answered), and then
 * the server's share of one refresh, the one the page makes every 5 seconds: from the first of its API calls sent to
 * the last answered (Resource Timing), and each call's time to its first byte; then the same calls one at a time from
 * here, without the browser, and the sum of their median times: the server's own time for a refresh.
 * Targets: the page complete within 1 s; a refresh costs the server under 50 ms.
 */
public final class PageBenchmark {

    /** How often each call of a refresh is made again alone. */
    private static final int ALONE = 50;

    public static void main(String[] args) throws Exception {
        BenchSettings settings = BenchSettings.read(args, "RUNS", "100000", "STATES", "1000000", "ERRORS", "10000",
                "LOADS", "10", "DB", "both");
        PipelineBenchmark.quietLogging();
        System.out.println("Status page benchmark " + settings + ", load average " + PipelineBenchmark.loadAverage());
        List<String> lines = settings.onEachDatabase(server -> List.of(measure(server, settings)));
        System.out.println();
        System.out.println(String.format(Locale.ROOT, "%-11s %14s %14s %18s %18s %18s", "database", "complete p50",
                "complete max", "server/refresh p50", "server/refresh max", "one at a time"));
        lines.forEach(System.out::println);
        System.out.println("load average at the end " + PipelineBenchmark.loadAverage());
    }

    private static String measure(PipelineBenchmark.Server server, BenchSettings settings) throws Exception {
        int loads = settings.number("LOADS");
        try (ApiBenchmark.SeededFactory factory = ApiBenchmark.SeededFactory.start(server, settings)) {
            ChromeDriver browser = browser(Files.createTempDirectory("page-bench-"));
            try {
                WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(60), Duration.ofMillis(10));
                JavascriptExecutor js = browser;
                browser.get(factory.base() + "/");
                js.executeScript("sessionStorage.setItem('factoryRunner.token', arguments[0])", factory.token());
                List<Double> complete = new ArrayList<>();
                List<Double> serverMs = new ArrayList<>();
                Map<String, List<Double>> calls = new TreeMap<>();
                List<String> urls = List.of();
                for (int i = 0; i <= loads; i++) {
                    long start = System.nanoTime();
                    browser.navigate().refresh();
                    wait.until(d -> String.valueOf(js.executeScript(
                            "return document.getElementById('refreshed').textContent")).startsWith("updated"));
                    double ms = (System.nanoTime() - start) / 1e6;
                    // one refresh as the page's timer makes it, alone: from the first request sent to the last answer
                    @SuppressWarnings("unchecked")
                    Map<String, Object> refresh = (Map<String, Object>) js.executeAsyncScript("""
                            const done = arguments[arguments.length - 1];
                            performance.clearResourceTimings();
                            refresh().then(() => {
                              const calls = performance.getEntriesByType('resource')
                                .filter(e => e.name.includes('/api/'));
                              done({span: Math.max(...calls.map(e => e.responseEnd))
                                  - Math.min(...calls.map(e => e.requestStart)),
                                urls: calls.map(e => e.name),
                                calls: Object.fromEntries(calls.map(e => [e.name.replace(/^.*\\/api\\//, '/api/')
                                  .replace(/\\?.*/, ''), e.responseStart - e.requestStart]))});
                            });""");
                    if (i > 0) {
                        // the first load warms the page's and the server's caches
                        complete.add(ms);
                        serverMs.add(((Number) refresh.get("span")).doubleValue());
                        ((Map<String, Object>) refresh.get("calls")).forEach((call, took) -> calls
                                .computeIfAbsent(call, c -> new ArrayList<>()).add(((Number) took).doubleValue()));
                        urls = (List<String>) refresh.get("urls");
                    }
                }
                StringBuilder each = new StringBuilder();
                calls.forEach((call, took) -> each.append(each.isEmpty() ? "" : ", ").append(call).append(' ')
                        .append(String.format(Locale.ROOT, "%.1f ms", median(took))));
                System.out.println(server.name() + ", a refresh's calls (median time to first byte): " + each);
                double alone = oneAtATime(urls, factory.token());
                return String.format(Locale.ROOT, "%-11s %11.0f ms %11.0f ms %15.1f ms %15.1f ms %15.1f ms",
                        server.name(), median(complete), Collections.max(complete), median(serverMs),
                        Collections.max(serverMs), alone);
            } finally {
                browser.quit();
            }
        }
    }

    /**
     * The server's own time for a refresh, however busy the machine's cores are with the browser and the rest: the
     * calls of the last refresh made again from here, one after the other, {@code ALONE} times each; the sum of their
     * median answer times.
     */
    private static double oneAtATime(List<String> urls, String token) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        Map<String, List<Double>> took = new TreeMap<>();
        for (int i = 0; i < ALONE; i++) {
            for (String url : urls) {
                long start = System.nanoTime();
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url))
                        .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() != 200) {
                    throw new IllegalStateException(url + " answered " + response.statusCode());
                }
                took.computeIfAbsent(url, u -> new ArrayList<>()).add((System.nanoTime() - start) / 1e6);
            }
        }
        StringBuilder each = new StringBuilder();
        double sum = 0;
        for (Map.Entry<String, List<Double>> e : took.entrySet()) {
            double median = median(e.getValue());
            sum += median;
            each.append(each.isEmpty() ? "" : ", ").append(e.getKey().replaceAll("^.*/api/", "/api/"))
                    .append(String.format(Locale.ROOT, " %.1f ms", median));
        }
        System.out.println("  the same calls one at a time (median of " + ALONE + "): " + each);
        return sum;
    }

    private static ChromeDriver browser(Path profile) {
        ChromeOptions options = new ChromeOptions().setBinary(new File("/usr/bin/chromium"));
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,1800", "--user-data-dir=" + profile);
        ChromeDriverService driver = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File("/usr/bin/chromedriver")).usingAnyFreePort().build();
        return new ChromeDriver(driver, options);
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }
}
