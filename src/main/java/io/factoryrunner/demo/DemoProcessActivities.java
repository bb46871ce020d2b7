package io.factoryrunner.demo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.spi.PropertiesComponent;

/**
 * DEMO ONLY: the activities of the process {@code demo} ({@code process.demo.start-url} in the shipped
 * {@code config/application.properties}), served by the stand-in under {@code /demo-api/process}. The start activity
 * names three next activities, called in parallel: {@code score} and {@code segment} answer, {@code export} fails on
 * purpose (HTTP 500), so the demo shows a run that ends done with errors, its error row and its alert.
 */
public final class DemoProcessActivities {

    /** The start activity: the customer it was given, and the three activities to call next. */
    public Map<String, Object> start(Map<String, Object> request, Exchange exchange) {
        PropertiesComponent properties = exchange.getContext().getPropertiesComponent();
        String base = "http://" + properties.resolveProperty("camel.server.host").orElse("127.0.0.1") + ":"
                + properties.resolveProperty("camel.server.port").orElse("8080") + "/demo-api/process/";
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("customer", request.get("key"));
        data.put("request", request.get("data"));
        return Map.of("data", data, "next_activities", Map.of("definitions", List.of(
                Map.of("name", "score", "url", base + "score"),
                Map.of("name", "segment", "url", base + "segment"),
                Map.of("name", "export", "url", base + "export"))));
    }

    /** A score for the customer, from the length of its key: the demo's stand-in for a model. */
    public Map<String, Object> score(Map<String, Object> request) {
        double score = Math.min(1.0, String.valueOf(customer(request)).length() / 20.0);
        return Map.of("data", Map.of("customer", customer(request), "score", score));
    }

    public Map<String, Object> segment(Map<String, Object> request) {
        return Map.of("data", Map.of("customer", customer(request), "segment", "high"));
    }

    /** Fails on purpose: the export target of the demo is never there. */
    public Map<String, Object> export(Map<String, Object> request, Exchange exchange) {
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 500);
        return Map.of("error", "the export target refused customer " + customer(request) + " (demo failure)");
    }

    @SuppressWarnings("unchecked")
    private static Object customer(Map<String, Object> request) {
        Object data = request.get("data");
        return data instanceof Map<?, ?> map && map.get("customer") != null ? ((Map<String, Object>) map)
                .get("customer") : request.get("key");
    }
}
