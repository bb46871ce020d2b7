package io.factoryrunner.demo;

import io.factoryrunner.logging.Secrets;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.camel.Exchange;
import org.apache.camel.spi.PropertiesComponent;

/**
 * DEMO ONLY: an in-process stand-in for the analytics product, served on the factory's own HTTP port under
 * {@code /demo-api} when {@code factory.demo.enabled = true}. It stores data sets, runs "builds" that finish after a
 * few status polls, scores each customer from the CSV, and fails on purpose every build of a data set whose name
 * contains {@code factory.demo.fail-dataset} (default "apac"), so the demo shows the error table and an alert.
 * Like the real product it answers only requests that carry the factory's API key ({@link #lacksApiKey}).
 */
public final class DemoAnalyticsApi {

    private final Map<String, String> datasets = new ConcurrentHashMap<>();
    private final Map<String, Map<String, Object>> builds = new ConcurrentHashMap<>();
    private final AtomicInteger ids = new AtomicInteger(100);
    /** Read at each status call, so that an operator can tell the stand-in to let a failed data set pass. */
    private final Supplier<String> failDataset;

    public DemoAnalyticsApi(Supplier<String> failDataset) {
        this.failDataset = failDataset;
    }

    /**
     * True unless the request carries, in the header {@code analytics.api-key-header}, the key the factory sends
     * ({@code analytics.api-key}), both read at each request so that a key changed in the table applies at once.
     */
    public boolean lacksApiKey(Exchange exchange) {
        PropertiesComponent properties = exchange.getContext().getPropertiesComponent();
        String header = properties.resolveProperty("analytics.api-key-header").orElse("X-API-Key");
        String expected = properties.resolveProperty(DemoApiKey.KEY).orElse("");
        String given = exchange.getMessage().getHeader(header, String.class);
        return Secrets.isPlaceholder(expected) || given == null || !MessageDigest.isEqual(
                expected.getBytes(StandardCharsets.UTF_8), given.getBytes(StandardCharsets.UTF_8));
    }

    public Map<String, Object> createDataset(Exchange exchange) {
        String id = "ds-" + ids.incrementAndGet();
        datasets.put(id, exchange.getMessage().getBody(String.class));
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 201);
        return Map.of("id", id);
    }

    public Map<String, Object> startBuild(Map<String, Object> request, Exchange exchange) {
        String datasetId = String.valueOf(request.get("dataset_id"));
        if (!datasets.containsKey(datasetId)) {
            exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 400);
            return Map.of("error", "unknown dataset_id " + datasetId);
        }
        String id = "b-" + ids.incrementAndGet();
        Map<String, Object> build = new ConcurrentHashMap<>();
        build.put("id", id);
        build.put("dataset_id", datasetId);
        build.put("status", "queued");
        build.put("polls", 0);
        builds.put(id, build);
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 202);
        return Map.of("id", id, "status", "queued");
    }

    public Map<String, Object> buildStatus(String id, Exchange exchange) {
        Map<String, Object> build = builds.get(id);
        if (build == null) {
            exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 404);
            return Map.of("error", "no build " + id);
        }
        int polls = (Integer) build.get("polls") + 1;
        build.put("polls", polls);
        String csv = datasets.getOrDefault((String) build.get("dataset_id"), "");
        boolean fail = csv.toLowerCase().contains("," + failDataset.get() + ",");
        String status = polls < 2 ? "running" : fail ? "failed" : "complete";
        build.put("status", status);
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("status", status);
        if (status.equals("failed")) {
            answer.put("error", "model did not converge on data set " + build.get("dataset_id") + " (demo failure)");
        }
        if (status.equals("complete")) {
            answer.put("quality", 0.91);
        }
        return answer;
    }

    public Object results(String id, Exchange exchange) {
        Map<String, Object> build = builds.get(id);
        if (build == null || !"complete".equals(build.get("status"))) {
            exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 404);
            return Map.of("error", "no results for " + id);
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        String[] lines = datasets.getOrDefault((String) build.get("dataset_id"), "").split("\\R");
        if (lines.length > 1) {
            List<String> header = List.of(lines[0].split(","));
            for (int i = 1; i < lines.length; i++) {
                String[] cells = lines[i].split(",");
                Map<String, String> row = new LinkedHashMap<>();
                for (int c = 0; c < header.size() && c < cells.length; c++) {
                    row.put(header.get(c), cells[c]);
                }
                double spend = Double.parseDouble(row.getOrDefault("spend", "0"));
                int visits = Integer.parseInt(row.getOrDefault("visits", "0"));
                double score = Math.min(1.0, (spend / 5000.0) * 0.7 + (visits / 40.0) * 0.3);
                rows.add(Map.of("customer_id", row.getOrDefault("customer_id", "?"),
                        "score", Math.round(score * 10000) / 10000.0,
                        "segment", score > 0.5 ? "high" : score > 0.15 ? "medium" : "low"));
            }
        }
        return rows;
    }

    public Map<String, Object> delete(String kind, String id, Exchange exchange) {
        boolean removed = kind.equals("builds") ? builds.remove(id) != null : datasets.remove(id) != null;
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, removed ? 200 : 404);
        return Map.of("deleted", removed);
    }
}
