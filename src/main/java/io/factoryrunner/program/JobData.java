package io.factoryrunner.program;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.camel.Exchange;

/**
 * The {@code jobData} bean: a program job's durable progress. Each write is committed at once, so a job tried again
 * after a retryable failure, or after a crash, reads what it stored:
 * <pre>
 * - bean:
 *     ref: jobData
 *     method: "set('currentPage', ${header.page})"
 * </pre>
 * The step's job data is also the exchange property {@code FactoryJobData} (a Map), which every write changes too:
 * {@code ${exchangeProperty.FactoryJobData[currentPage]}}. A value given as text is stored as the JSON it reads as
 * ({@code 50} a number, {@code true}, {@code {"a": 1}} an object), else as text.
 */
public final class JobData {

    private static final TypeReference<LinkedHashMap<String, Object>> OBJECT = new TypeReference<>() { };

    /** One value of the step's job data; null when it has none. The bean's answer becomes the body. */
    public Object get(String key, Exchange exchange) {
        return step(exchange).jobData().get(key);
    }

    /** The step's job data, the whole map. */
    public Map<String, Object> all(Exchange exchange) {
        return step(exchange).jobData();
    }

    /** Sets one value and commits it; the body is left as it was. */
    public void set(String key, Object value, Exchange exchange) throws SQLException {
        if (key == null || key.isBlank()) {
            throw new IllegalArgumentException("jobData.set needs a key: set('currentPage', 50)");
        }
        StepContext step = step(exchange);
        step.jobData().put(key, value(value));
        step.saveJobData();
    }

    /** Merges a map (or a JSON object's text) into the step's job data and commits it; the body is left as it was. */
    public void merge(Object values, Exchange exchange) throws SQLException {
        StepContext step = step(exchange);
        step.jobData().putAll(object(values));
        step.saveJobData();
    }

    /** Removes one value and commits it. */
    public void remove(String key, Exchange exchange) throws SQLException {
        StepContext step = step(exchange);
        step.jobData().remove(key);
        step.saveJobData();
    }

    private static StepContext step(Exchange exchange) {
        StepContext step = exchange == null ? null
                : exchange.getProperty(ProgramConsumer.STEP_CONTEXT, StepContext.class);
        if (step == null) {
            throw new IllegalStateException("The jobData bean works in a program job's route (from: program:NAME)"
                    + " only; route " + (exchange == null ? "?" : exchange.getFromRouteId()) + " is not one");
        }
        return step;
    }

    private static Object value(Object value) {
        if (!(value instanceof String text)) {
            return value;
        }
        try {
            return ProgramJson.JSON.readValue(text, Object.class);
        } catch (JsonProcessingException notJson) {
            return text;
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object values) {
        if (values instanceof Map<?, ?> map) {
            Map<String, Object> copy = new LinkedHashMap<>();
            map.forEach((k, v) -> copy.put(String.valueOf(k), v));
            return copy;
        }
        if (values instanceof String text) {
            try {
                return ProgramJson.JSON.readValue(text, OBJECT);
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("jobData.merge takes a map or a JSON object; got '" + text + "': "
                        + e.getOriginalMessage(), e);
            }
        }
        throw new IllegalArgumentException("jobData.merge takes a map or a JSON object; got "
                + (values == null ? "null" : values.getClass().getSimpleName()));
    }
}
