package io.factoryrunner.reference;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Turns a build's results (a JSON array of rows) into the parameter rows of the output table's insert. */
public final class Results {

    public List<Map<String, Object>> rows(Object results, String dataset, String buildId) {
        if (!(results instanceof List<?> list)) {
            throw new IllegalArgumentException("results of build " + buildId + " are not a JSON array: "
                    + (results == null ? "null" : results.getClass().getSimpleName()));
        }
        List<Map<String, Object>> rows = new ArrayList<>(list.size());
        for (Object entry : list) {
            if (!(entry instanceof Map<?, ?> map) || map.get("customer_id") == null || map.get("score") == null) {
                throw new IllegalArgumentException("a result row of build " + buildId
                        + " lacks customer_id or score: " + entry);
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("dataset", dataset);
            row.put("build_id", buildId);
            row.put("customer_id", map.get("customer_id").toString());
            row.put("score", new BigDecimal(map.get("score").toString()));
            row.put("segment", map.get("segment") == null ? "unknown" : map.get("segment").toString());
            rows.add(row);
        }
        return rows;
    }
}
