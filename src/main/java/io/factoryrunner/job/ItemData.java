package io.factoryrunner.job;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;

/** An item's data as its job's route gets it, by the endpoint's {@code dataFormat}: the text, or parsed from JSON. */
final class ItemData {

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private ItemData() {
    }

    /**
     * The item's data parsed as JSON, a Map or a List; null for an item without data.
     *
     * @throws IllegalArgumentException naming the job, the item and what is wrong, when the data is not a JSON object
     *         or array
     */
    static Object json(String job, JobStore.Item item) {
        if (item.data() == null) {
            return null;
        }
        Object parsed;
        try {
            parsed = JSON.readValue(item.data(), Object.class);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new IllegalArgumentException(refused(job, item) + "is not valid JSON: " + e.getOriginalMessage()
                    + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr()), e);
        }
        if (parsed instanceof Map || parsed instanceof List) {
            return parsed;
        }
        throw new IllegalArgumentException(refused(job, item) + "is JSON but neither an object nor an array");
    }

    private static String refused(String job, JobStore.Item item) {
        return "Job " + job + " (dataFormat=json): the data of item " + item.key() + " version " + item.version() + " ";
    }
}
