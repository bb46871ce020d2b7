package io.factoryrunner.alert;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The lines that end an error mail: how to look at the item and the failure, redrive, and acknowledge, as commands of
 * the command line and as calls to the operator API under the factory's public URL.
 */
public final class NextSteps {

    private static final String CLI = "java -jar factory-runner.jar";

    private NextSteps() {
    }

    /** The steps for a failure of {@code job}, of item {@code key} when it is an item's (else null). */
    public static String of(String publicUrl, String job, String key, String fingerprint) {
        String api = strip(publicUrl) + "/api";
        List<String> lines = new ArrayList<>();
        if (job != null && key != null) {
            lines.add(step("See the item's path", CLI + " item " + arg(job) + " " + arg(key),
                    "GET " + api + "/items/" + path(job) + "/" + path(key)));
            lines.add(step("Redrive the item", CLI + " redrive " + arg(job) + " " + arg(key),
                    "POST " + api + "/items/" + path(job) + "/" + path(key) + "/redrive"));
            lines.add(step("Redrive every item it failed", null,
                    "POST " + api + "/errors/" + fingerprint + "/redrive"));
        }
        lines.add(step("See the failure", CLI + " errors", "GET " + api + "/errors/" + fingerprint));
        lines.add(step("Acknowledge it", CLI + " ack " + fingerprint,
                "POST " + api + "/errors/" + fingerprint + "/acknowledge"));
        return String.join("\n", lines);
    }

    private static String step(String what, String command, String call) {
        return "  " + what + ":\n" + (command == null ? "" : "      " + command + "\n") + "      " + call;
    }

    private static String strip(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    private static String path(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** A word of a shell command, quoted when it holds anything but letters, digits and . _ - : / @. */
    private static String arg(String text) {
        return text.matches("[A-Za-z0-9._\\-:/@]+") ? text : "'" + text.replace("'", "'\\''") + "'";
    }
}
