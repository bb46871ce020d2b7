package io.factoryrunner.program;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The JSON of the program table's columns: objects as maps in their order, arrays as lists. */
final class ProgramJson {

    static final ObjectMapper JSON = new ObjectMapper();

    private ProgramJson() {
    }

    static String write(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot be written as JSON: " + e.getOriginalMessage(), e);
        }
    }

    static Object read(String json) {
        if (json == null) {
            return null;
        }
        try {
            return JSON.readValue(json, Object.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("not JSON: " + e.getOriginalMessage(), e);
        }
    }

    static Map<String, Object> object(String json) {
        try {
            return JSON.readValue(json, new TypeReference<LinkedHashMap<String, Object>>() { });
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("not a JSON object: " + e.getOriginalMessage(), e);
        }
    }

    static List<String> names(String json) {
        try {
            return JSON.readValue(json, new TypeReference<ArrayList<String>>() { });
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("not a JSON array of names: " + e.getOriginalMessage(), e);
        }
    }

    static List<Map<String, Object>> objects(String json) {
        try {
            return JSON.readValue(json, new TypeReference<ArrayList<Map<String, Object>>>() { });
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("not a JSON array of objects: " + e.getOriginalMessage(), e);
        }
    }
}
