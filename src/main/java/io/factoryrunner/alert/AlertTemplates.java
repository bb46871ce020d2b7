package io.factoryrunner.alert;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Mail templates: {@code config/mail/<kind>.txt} when the operator has one, else the one shipped in the jar. The
 * first line is {@code Subject: ...}, then a blank line, then the body; {@code ${name}} is replaced by the value of
 * that name (an unknown name is left as it is). Named substitution is all a notification needs, so no template
 * engine is pulled in for it.
 */
public final class AlertTemplates {

    /** A rendered mail. */
    public record Mail(String subject, String body) {
    }

    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z0-9_.-]+)}");

    /** How much of a message a subject shows. */
    private static final int HEADLINE_LENGTH = 100;

    private final Path operatorDir;

    public AlertTemplates(Path operatorDir) {
        this.operatorDir = operatorDir;
    }

    public Mail render(AlertKind kind, Map<String, ?> values) {
        String template = load(kind);
        String text = substitute(template, values);
        String subject = kind.db();
        String body = text;
        if (text.startsWith("Subject:")) {
            int end = text.indexOf('\n');
            subject = (end < 0 ? text.substring(8) : text.substring(8, end)).trim();
            body = end < 0 ? "" : text.substring(end + 1).replaceFirst("^\\r?\\n", "");
        }
        return new Mail(subject, body);
    }

    private String load(AlertKind kind) {
        Path file = operatorDir.resolve(kind.template());
        try {
            if (Files.isRegularFile(file)) {
                return Files.readString(file, StandardCharsets.UTF_8);
            }
            try (InputStream in = AlertTemplates.class.getClassLoader().getResourceAsStream("mail/" + kind.template())) {
                if (in == null) {
                    throw new IllegalStateException("No mail template mail/" + kind.template() + " in the jar");
                }
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read mail template " + file, e);
        }
    }

    /**
     * The start of a message, fit for a subject: its first line, cut to {@value #HEADLINE_LENGTH} characters. A
     * subject is one line, and mail programs show its start.
     */
    public static String headline(String message) {
        if (message == null || message.isBlank()) {
            return "-";
        }
        String line = message.strip().lines().findFirst().orElse("").strip();
        return line.length() <= HEADLINE_LENGTH ? line : line.substring(0, HEADLINE_LENGTH - 1) + "…";
    }

    static String substitute(String template, Map<String, ?> values) {
        Matcher m = VARIABLE.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            Object value = values.get(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(value == null ? m.group() : String.valueOf(value)));
        }
        m.appendTail(out);
        return out.toString();
    }
}
