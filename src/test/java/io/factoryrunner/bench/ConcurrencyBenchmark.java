package io.factoryrunner.bench;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.job.Trigger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.ToDoubleFunction;
import org.apache.camel.ProducerTemplate;
import org.slf4j.LoggerFactory;

/**
 * Items in parallel, run by hand ({@code bench/concurrency.sh}); not a unit test. A job whose step POSTs each item
 * to a local stand-in API that answers after LATENCY ms (WireMock), N items, one run at each concurrency: items/s
 * against the limit {@code concurrency / latency} (target: at least 80% of it at concurrency 16). The factory runs on
 * its embedded H2 database, a fresh one per run.
 *
 * <p>It also says where the rest of the time went. Before each run the same number of threads call the stand-in
 * straight, with the JDK's HTTP client and with camel-http (the job's own endpoint) but no job: what a call costs
 * above LATENCY without the factory, and how much of it the stand-in spends itself (WireMock's own timing). During the
 * run a step around the call notes when each call started and ended, which splits the pool's time (concurrency x the
 * run's wall time) into: calls under way; no call under way between two calls (a chunk being written, the next
 * claimed); some threads idle while others call (a chunk's last calls, which hold the next chunk when chunks are
 * written one after the other); and the run's start and end. items/s = concurrency x busy share / mean call time.
 *
 * <p>Settings from the environment or {@code KEY=value} arguments: {@code N} (2000), {@code LATENCY} (50),
 * {@code CONCURRENCY} (1,4,16,64), {@code CHUNK} (the job's chunk size, 100 as a job's default), {@code ROUNDS}
 * (1: each round runs every concurrency once; the summary gives each figure's median over the rounds).
 */
public final class ConcurrencyBenchmark {

    private static final String NEVER = "0 0 0 1 1 ? 2099";
    private static final String BODY = "{\"id\": 1}";

    /** What one run at one concurrency measured. */
    record Run(int concurrency, double seconds, double itemsPerSecond, double limit, Calls direct, Calls camel,
            Calls roundTrip, Calls job, Pool pool) {

        double ofLimit() {
            return itemsPerSecond / limit;
        }
    }

    /**
     * Calls made: their mean time at the client, what the stand-in spent on each beside the delay it was asked for
     * (WireMock's own timing), and the most calls the stand-in had under way at once.
     */
    record Calls(int count, double meanMs, double standInMs, int mostAtStandIn) {
    }

    /**
     * The pool's time, as shares of concurrency x the run's wall time: calls under way; no call under way between the
     * first call and the last ({@code gaps} times); part of the pool idle while the rest called; before the first call
     * and after the last.
     */
    record Pool(double busy, double empty, int gaps, double partial, double edges) {
    }

    public static void main(String[] args) throws Exception {
        ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger("ROOT").setLevel(Level.WARN);
        BenchSettings settings = BenchSettings.read(args, "N", "2000", "LATENCY", "50", "CONCURRENCY", "1,4,16,64",
                "CHUNK", "100", "ROUNDS", "1");
        int items = settings.number("N");
        int latency = settings.number("LATENCY");
        int chunk = settings.number("CHUNK");
        int rounds = settings.number("ROUNDS");
        List<Integer> levels = new ArrayList<>();
        for (String c : settings.text("CONCURRENCY").split(",")) {
            levels.add(Integer.parseInt(c.trim()));
        }
        System.out.printf(Locale.ROOT, "Concurrency benchmark: N=%d items, a stand-in API answering in %d ms,"
                + " concurrency %s, chunk size %d, %d round(s); %d CPUs, load average %s%n", items, latency, levels,
                chunk, rounds, Runtime.getRuntime().availableProcessors(), PipelineBenchmark.loadAverage());

        // the delay is served asynchronously: a call waiting out its delay holds none of Jetty's threads
        WireMockServer api = new WireMockServer(options().dynamicPort().containerThreads(200)
                .jettyAcceptors(2).asynchronousResponseEnabled(true).asynchronousResponseThreads(200));
        api.start();
        api.stubFor(post(urlEqualTo("/score")).willReturn(aResponse().withStatus(200).withFixedDelay(latency)
                .withHeader("Content-Type", "application/json").withBody("{\"score\": 1}")));
        // the same answer at once: what a call costs the client, the socket and the stand-in, without the delay
        api.stubFor(post(urlEqualTo("/now")).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "application/json").withBody("{\"score\": 1}")));
        Map<Integer, List<Run>> runs = new LinkedHashMap<>();
        try {
            for (int round = 1; round <= rounds; round++) {
                for (int concurrency : levels) {
                    Run run = measure(api, items, latency, chunk, concurrency);
                    runs.computeIfAbsent(concurrency, c -> new ArrayList<>()).add(run);
                    print(round, run, latency, chunk);
                }
            }
        } finally {
            api.stop();
        }
        System.out.printf(Locale.ROOT, "%n%s over %d round(s), chunk size %d (calls in ms; the pool's time in %%:"
                + " calling, none calling between calls, partly idle, start and end):%n%11s %8s %6s %9s %6s %7s %8s %5s"
                + " %7s %7s %7s %9s%n", rounds == 1 ? "Figures" : "Medians", rounds, chunk, "concurrency", "items/s",
                "limit", "of limit", "JDK", "camel", "no delay", "in job", "busy", "between", "partly",
                "start/end");
        for (List<Run> of : runs.values()) {
            System.out.printf(Locale.ROOT, "%11d %8.0f %6.0f %8.0f%% %6.1f %6.1f %8.1f %8.1f %6.1f%% %6.1f%% %6.1f%%"
                    + " %8.1f%%%n", of.get(0).concurrency(), median(of, Run::itemsPerSecond), of.get(0).limit(),
                    100 * median(of, Run::ofLimit), median(of, r -> r.direct().meanMs()),
                    median(of, r -> r.camel().meanMs()), median(of, r -> r.roundTrip().meanMs()),
                    median(of, r -> r.job().meanMs()),
                    100 * median(of, r -> r.pool().busy()), 100 * median(of, r -> r.pool().empty()),
                    100 * median(of, r -> r.pool().partial()), 100 * median(of, r -> r.pool().edges()));
        }
        System.out.printf(Locale.ROOT, "target: at least 80%% of the limit at concurrency 16%nload average at the end:"
                + " %s%n", PipelineBenchmark.loadAverage());
    }

    /** One run of the job at one concurrency, on a factory of its own, after the calls without the job. */
    private static Run measure(WireMockServer api, int items, int latency, int chunk, int concurrency)
            throws Exception {
        Path home = Files.createTempDirectory("factory-concurrency-");
        FactoryApplication app = start(home, api.port(), chunk, concurrency);
        try {
            for (int i = 0; i < items; i++) {
                app.jobStore().offer("call", "item-" + i, "v1", "{\"id\": " + i + "}", true);
            }
            int calibration = Math.min(items, Math.max(200, 20 * concurrency));
            HttpClient jdk = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + api.port() + "/score"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(BODY)).build();
            Calls direct = calls(api, concurrency, calibration,
                    () -> jdk.send(request, HttpResponse.BodyHandlers.ofString()).statusCode());
            ProducerTemplate template = app.context().createProducerTemplate();
            Calls camel;
            Calls roundTrip;
            try {
                camel = calls(api, concurrency, calibration, () -> template.requestBodyAndHeader(
                        uri(api.port()), BODY, "Content-Type", "application/json"));
                roundTrip = calls(api, concurrency, calibration, () -> template.requestBodyAndHeader(
                        "http://localhost:" + api.port() + "/now?httpMethod=POST", BODY, "Content-Type",
                        "application/json"));
            } finally {
                template.stop();
            }

            CallClock.reset();
            api.resetRequests();
            long t0 = System.nanoTime();
            app.jobs().trigger("call", Trigger.MANUAL);
            long t1 = System.nanoTime();
            List<long[]> made = CallClock.calls();
            if (made.size() != items) {
                throw new IllegalStateException("The run made " + made.size() + " calls, not " + items + "; its runs: "
                        + rows(app, "SELECT status, items_done, items_failed, items_deferred, retries, error_summary"
                        + " FROM job_run WHERE job = 'call'") + "; its errors: "
                        + rows(app, "SELECT item_key, message FROM factory_error ORDER BY 1 LIMIT 5"));
            }
            double seconds = (t1 - t0) / 1e9;
            List<ServeEvent> served = served(api, items);
            Calls job = new Calls(made.size(), made.stream().mapToLong(c -> c[1] - c[0]).average().orElse(0) / 1e6,
                    standInMs(served), mostAtOnce(served));
            api.resetRequests();
            return new Run(concurrency, seconds, items / seconds, concurrency * 1000.0 / latency, direct, camel,
                    roundTrip, job,
                    pool(made, t0, t1, concurrency));
        } finally {
            app.stop();
        }
    }

    private static void print(int round, Run r, int latency, int chunk) {
        System.out.printf(Locale.ROOT, "%nround %d, concurrency %d, chunk size %d: %.0f items/s, %.0f%% of the limit"
                + " %.0f%n", round, r.concurrency(), chunk, r.itemsPerSecond(), 100 * r.ofLimit(), r.limit());
        System.out.printf(Locale.ROOT, "  a call, %d at once, no job: JDK HttpClient %.1f ms, camel-http %.1f ms"
                + " (asked %d ms; %.1f ms without the delay; the stand-in's own time %.1f ms a call, up to %d calls at"
                + " once there)%n", r.concurrency(), r.direct().meanMs(), r.camel().meanMs(), latency,
                r.roundTrip().meanMs(),
                (r.direct().standInMs() + r.camel().standInMs()) / 2,
                Math.max(r.direct().mostAtStandIn(), r.camel().mostAtStandIn()));
        System.out.printf(Locale.ROOT, "  a call in the job: %.1f ms (the stand-in's own time %.1f ms, up to %d calls"
                + " at once there): %.0f%% of the limit at most%n", r.job().meanMs(), r.job().standInMs(),
                r.job().mostAtStandIn(), 100.0 * latency / r.job().meanMs());
        Pool p = r.pool();
        System.out.printf(Locale.ROOT, "  the pool's time: %.1f%% calling; %.1f%% with no call under way between"
                + " calls (%d times, %.1f ms each); %.1f%% partly idle (a chunk's last calls); %.1f%% before the first"
                + " call and after the last%n", 100 * p.busy(), 100 * p.empty(), p.gaps(),
                p.gaps() == 0 ? 0 : p.empty() * r.seconds() * 1000 / p.gaps(), 100 * p.partial(), 100 * p.edges());
    }

    /** {@code count} calls made by {@code threads} threads at once; their mean time and the stand-in's view. */
    private static Calls calls(WireMockServer api, int threads, int count, Callable<?> call) throws Exception {
        api.resetRequests();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Long>> made = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                made.add(pool.submit(() -> {
                    long start = System.nanoTime();
                    call.call();
                    return System.nanoTime() - start;
                }));
            }
            long total = 0;
            for (Future<Long> f : made) {
                total += f.get();
            }
            List<ServeEvent> events = served(api, count);
            Calls calls = new Calls(count, total / 1e6 / count, standInMs(events), mostAtOnce(events));
            api.resetRequests();
            return calls;
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The stand-in's record of the {@code count} calls just made, once it has timed each: it may finish timing a call
     * a moment after the client has read the answer.
     */
    private static List<ServeEvent> served(WireMockServer api, int count) {
        return await().atMost(Duration.ofSeconds(30)).until(api::getAllServeEvents, events -> events.size() == count
                && events.stream().allMatch(e -> e.getTiming().getTotalTime() != null));
    }

    /** What WireMock spent on a call beside the delay it added: matching, building and sending the answer. */
    private static double standInMs(List<ServeEvent> events) {
        return events.stream().mapToInt(e -> e.getTiming().getTotalTime() - e.getTiming().getAddedDelay())
                .average().orElse(0);
    }

    /** The most calls the stand-in had under way at once, from when it logged each and how long it took. */
    private static int mostAtOnce(List<ServeEvent> events) {
        long[][] marks = new long[events.size() * 2][];
        int i = 0;
        for (ServeEvent e : events) {
            long at = e.getRequest().getLoggedDate().getTime();
            marks[i++] = new long[] {at, 1};
            marks[i++] = new long[] {at + e.getTiming().getTotalTime(), -1};
        }
        // at the same millisecond an end comes before a start
        Arrays.sort(marks, (a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        int now = 0;
        int most = 0;
        for (long[] m : marks) {
            now += (int) m[1];
            most = Math.max(most, now);
        }
        return most;
    }

    /** Splits concurrency x (t1 - t0) by how many of the pool's threads were calling. */
    static Pool pool(List<long[]> calls, long t0, long t1, int concurrency) {
        long[][] marks = new long[calls.size() * 2][];
        int i = 0;
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        for (long[] c : calls) {
            marks[i++] = new long[] {c[0], 1};
            marks[i++] = new long[] {c[1], -1};
            first = Math.min(first, c[0]);
            last = Math.max(last, c[1]);
        }
        Arrays.sort(marks, (a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        double capacity = (double) concurrency * (t1 - t0);
        double busy = 0;
        double empty = 0;
        double partial = 0;
        int gaps = 0;
        int inFlight = 0;
        long at = first;
        for (long[] m : marks) {
            long dt = m[0] - at;
            if (inFlight == 0) {
                empty += (double) concurrency * dt;
            } else {
                busy += (double) inFlight * dt;
                partial += (double) Math.max(0, concurrency - inFlight) * dt;
            }
            inFlight += (int) m[1];
            if (inFlight == 0 && m[0] != last) {
                gaps++;
            }
            at = m[0];
        }
        double edges = (double) concurrency * ((first - t0) + (t1 - last));
        return new Pool(busy / capacity, empty / capacity, gaps, partial / capacity, edges / capacity);
    }

    private static double median(List<Run> runs, ToDoubleFunction<Run> figure) {
        double[] values = runs.stream().mapToDouble(figure).sorted().toArray();
        return values.length % 2 == 1 ? values[values.length / 2]
                : (values[values.length / 2 - 1] + values[values.length / 2]) / 2;
    }

    /** A query's rows, each as its values, for a message. */
    private static List<List<Object>> rows(FactoryApplication app, String sql) throws SQLException {
        List<List<Object>> rows = new ArrayList<>();
        try (Connection c = app.database().dataSource().getConnection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                List<Object> row = new ArrayList<>();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    row.add(rs.getObject(i));
                }
                rows.add(row);
            }
        }
        return rows;
    }

    private static String uri(int port) {
        return "http://localhost:" + port + "/score?httpMethod=POST";
    }

    private static FactoryApplication start(Path home, int port, int chunk, int concurrency) throws Exception {
        Files.createDirectories(home.resolve("config/routes"));
        Files.writeString(home.resolve("config/routes/call.camel.yaml"), """
                - route:
                    id: call
                    from:
                      uri: "job:call"
                      parameters:
                        cron: "%s"
                        chunkSize: %d
                        concurrency: %d
                      steps:
                        - setHeader:
                            name: Content-Type
                            constant: application/json
                        - bean:
                            beanType: io.factoryrunner.bench.CallClock
                            method: before
                        - to: "%s"
                        - bean:
                            beanType: io.factoryrunner.bench.CallClock
                            method: after
                """.formatted(NEVER, chunk, concurrency, uri(port)));
        Map<String, String> overrides = new LinkedHashMap<>();
        overrides.put("camel.server.enabled", "false");
        overrides.put("camel.management.enabled", "false");
        overrides.put("factory.routes.shipped", "framework/**");
        overrides.put("camel.main.shutdown-timeout", "5");
        FactoryApplication app = FactoryApplication.create(home, FactoryApplication.Mode.RUN, overrides);
        app.start();
        return app;
    }
}
