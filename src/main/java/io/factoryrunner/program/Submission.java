package io.factoryrunner.program;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A program as submitted: its steps (each a job and its arguments), the program data for every job, each step's own
 * job data, and whether it starts at once. Two forms, {@code {"jobs": ["a", "b"], "jobData": {"a": {...}}}} and
 * {@code {"steps": [["a", {...}], ["b"]]}}; each step starts from {@code jobData[job]} as submitted and keeps its own
 * copy, so a job listed twice does not see the progress of its other step. What is wrong with a submission is an
 * {@link IllegalArgumentException} naming the field.
 */
public record Submission(List<String> jobs, List<Map<String, Object>> arguments, Map<String, Object> programData,
        List<Map<String, Object>> jobData, boolean start) {

    private static final Set<String> FIELDS = Set.of("jobs", "steps", "programData", "jobData", "start");
    private static final TypeReference<LinkedHashMap<String, Object>> OBJECT = new TypeReference<>() { };
    /** The program table keeps each JSON column in at most this many characters. */
    private static final int MAX_JSON = 1_000_000;

    public static Submission parse(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new IllegalArgumentException("A program must be a JSON object with 'jobs' or 'steps'; got "
                    + kind(body));
        }
        Set<String> unknown = new LinkedHashSet<>();
        body.fieldNames().forEachRemaining(name -> {
            if (!FIELDS.contains(name)) {
                unknown.add(name);
            }
        });
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("Unknown field" + (unknown.size() > 1 ? "s " : " ") + quoted(unknown)
                    + " in the program; it takes 'jobs' or 'steps', 'programData', 'jobData' and 'start'");
        }
        JsonNode jobsNode = body.get("jobs");
        JsonNode stepsNode = body.get("steps");
        if (jobsNode != null && stepsNode != null) {
            throw new IllegalArgumentException("A program takes 'jobs' or 'steps', not both");
        }
        if (jobsNode == null && stepsNode == null) {
            throw new IllegalArgumentException("A program needs 'jobs' (a list of job names, [\"a\", \"b\"]) or"
                    + " 'steps' (a list of [job, arguments] pairs, [[\"a\", {\"page\": 1}], [\"b\"]])");
        }
        List<String> jobs = new ArrayList<>();
        List<Map<String, Object>> arguments = new ArrayList<>();
        if (jobsNode != null) {
            if (!jobsNode.isArray() || jobsNode.isEmpty()) {
                throw new IllegalArgumentException("'jobs' must be a non-empty list of job names; got "
                        + kind(jobsNode));
            }
            for (int i = 0; i < jobsNode.size(); i++) {
                jobs.add(jobName(jobsNode.get(i), "'jobs[" + i + "]'"));
                arguments.add(new LinkedHashMap<>());
            }
        } else {
            if (!stepsNode.isArray() || stepsNode.isEmpty()) {
                throw new IllegalArgumentException("'steps' must be a non-empty list of [job, arguments] pairs; got "
                        + kind(stepsNode));
            }
            for (int i = 0; i < stepsNode.size(); i++) {
                JsonNode step = stepsNode.get(i);
                String where = "steps[" + i + "]";
                if (!step.isArray() || step.isEmpty() || step.size() > 2) {
                    throw new IllegalArgumentException("'" + where + "' must be [job] or [job, {arguments}]; got "
                            + (step.isArray() ? "a list of " + step.size() : kind(step)));
                }
                jobs.add(jobName(step.get(0), "'" + where + "[0]'"));
                arguments.add(step.size() == 2 ? object(step.get(1), "'" + where + "[1]' (the step's arguments)")
                        : new LinkedHashMap<>());
            }
        }
        Map<String, Object> programData = body.hasNonNull("programData")
                ? object(body.get("programData"), "'programData'") : new LinkedHashMap<>();
        Map<String, Map<String, Object>> jobDataByJob = new LinkedHashMap<>();
        if (body.hasNonNull("jobData")) {
            JsonNode jobData = body.get("jobData");
            if (!jobData.isObject()) {
                throw new IllegalArgumentException("'jobData' must be a JSON object of job names to objects; got "
                        + kind(jobData));
            }
            Iterator<Map.Entry<String, JsonNode>> fields = jobData.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> e = fields.next();
                if (!jobs.contains(e.getKey())) {
                    throw new IllegalArgumentException("'jobData' names job '" + e.getKey() + "', which the program"
                            + " does not run (its jobs: " + String.join(", ", new LinkedHashSet<>(jobs)) + ")");
                }
                jobDataByJob.put(e.getKey(), object(e.getValue(), "'jobData." + e.getKey() + "'"));
            }
        }
        JsonNode start = body.get("start");
        if (start != null && !start.isBoolean()) {
            throw new IllegalArgumentException("'start' must be true or false; got " + kind(start));
        }
        List<Map<String, Object>> stepData = new ArrayList<>();
        for (String job : jobs) {
            // each step its own copy: a job listed twice keeps the progress of each step apart
            stepData.add(copy(jobDataByJob.getOrDefault(job, Map.of())));
        }
        Submission submission = new Submission(List.copyOf(jobs), arguments, programData, stepData,
                start == null || start.asBoolean());
        submission.checkSize();
        return submission;
    }

    private void checkSize() {
        Map<String, Object> columns = new LinkedHashMap<>();
        columns.put("programData", programData);
        columns.put("steps' arguments", arguments);
        columns.put("jobData", jobData);
        columns.forEach((name, value) -> {
            int length = ProgramJson.write(value).length();
            if (length > MAX_JSON) {
                throw new IllegalArgumentException("The program's " + name + " takes " + length + " characters as"
                        + " JSON; at most " + MAX_JSON + " are kept");
            }
        });
    }

    private static String jobName(JsonNode node, String where) {
        if (node == null || !node.isTextual() || node.asText().isBlank()) {
            throw new IllegalArgumentException(where + " must be a job's name; got " + kind(node));
        }
        return node.asText().trim();
    }

    private static Map<String, Object> object(JsonNode node, String where) {
        if (!node.isObject()) {
            throw new IllegalArgumentException(where + " must be a JSON object; got " + kind(node));
        }
        return ProgramJson.JSON.convertValue(node, OBJECT);
    }

    private static Map<String, Object> copy(Map<String, Object> map) {
        try {
            return ProgramJson.JSON.readValue(ProgramJson.JSON.writeValueAsString(map), OBJECT);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String kind(JsonNode node) {
        if (node == null || node.isNull()) {
            return "null";
        }
        String type = node.getNodeType().name().toLowerCase(Locale.ROOT);
        return switch (type) {
            case "array" -> node.isEmpty() ? "an empty list" : "a list";
            case "object" -> "an object";
            case "string" -> "the string \"" + node.asText() + "\"";
            case "number", "boolean" -> "the " + type + " " + node.asText();
            default -> type;
        };
    }

    private static String quoted(Set<String> names) {
        return "'" + String.join("', '", names) + "'";
    }
}
