package io.factoryrunner.process;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.config.ConfigType;
import io.factoryrunner.process.ProcessStore.Next;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What an activity answered, read by the process: the {@code data} its next activities get (the task's own input
 * when it gives none) and the {@code next_activities} to call, {@code {"definitions": [{"name", "url"}]}}. An empty
 * answer ends the branch. Anything else is an {@link ActivityAnswerException} naming the field that is wrong.
 */
record ActivityAnswer(Optional<String> data, List<Next> next) {

    /** The largest input a task holds, as its column does. */
    static final int MAX_DATA = 1_000_000;

    static final ObjectMapper JSON = new ObjectMapper();

    static ActivityAnswer parse(String body) {
        if (body == null || body.isBlank()) {
            return new ActivityAnswer(Optional.empty(), List.of());
        }
        JsonNode answer;
        try {
            answer = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new ActivityAnswerException("The answer is not valid JSON: " + e.getOriginalMessage());
        }
        if (!answer.isObject()) {
            throw new ActivityAnswerException("The answer must be a JSON object; got " + type(answer));
        }
        Optional<String> data = Optional.empty();
        if (answer.has("data")) {
            String text = answer.get("data").toString();
            if (text.length() > MAX_DATA) {
                throw new ActivityAnswerException("The answer's data is " + text.length() + " characters of JSON;"
                        + " a task's input holds at most " + MAX_DATA);
            }
            data = Optional.of(text);
        }
        return new ActivityAnswer(data, next(answer.get("next_activities")));
    }

    private static List<Next> next(JsonNode next) {
        if (next == null || next.isNull()) {
            return List.of();
        }
        if (!next.isObject() || !next.has("definitions") || !next.get("definitions").isArray()) {
            throw new ActivityAnswerException("The answer's next_activities must be an object with an array"
                    + " 'definitions' of {\"name\", \"url\"}; got " + excerpt(next.toString()));
        }
        List<Next> activities = new ArrayList<>();
        JsonNode definitions = next.get("definitions");
        for (int i = 0; i < definitions.size(); i++) {
            String where = "next_activities.definitions[" + i + "]";
            JsonNode d = definitions.get(i);
            if (!d.isObject()) {
                throw new ActivityAnswerException("The answer's " + where + " must be an object {\"name\", \"url\"};"
                        + " got " + type(d));
            }
            String name = text(d, "name", where);
            String url = text(d, "url", where);
            if (name.length() > 200) {
                throw new ActivityAnswerException("The answer's " + where + ".name is longer than 200 characters");
            }
            Optional<String> problem = url.length() > 2000 ? Optional.of("is longer than 2000 characters")
                    : ConfigType.HTTP_URL.problem(url);
            if (problem.isPresent()) {
                throw new ActivityAnswerException("The answer's " + where + ".url '" + excerpt(url) + "' "
                        + problem.get());
            }
            activities.add(new Next(name, url.trim()));
        }
        return activities;
    }

    private static String text(JsonNode definition, String field, String where) {
        JsonNode value = definition.get(field);
        if (value == null || !value.isTextual() || value.asText().isBlank()) {
            throw new ActivityAnswerException("The answer's " + where + "." + field + " must be a non-empty string");
        }
        return value.asText();
    }

    private static String type(JsonNode node) {
        return node.getNodeType().name().toLowerCase(Locale.ROOT);
    }

    private static String excerpt(String text) {
        return text.length() <= 200 ? text : text.substring(0, 199) + "…";
    }
}
