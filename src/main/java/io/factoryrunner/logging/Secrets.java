package io.factoryrunner.logging;

import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The secret values known to this process. Log lines, error messages and anything shown to a person pass through
 * {@link #mask(String)}, so a secret never leaves the process in clear, whichever code printed it.
 */
public final class Secrets {

    public static final String MASK = "******";

    /** Shorter values would mask ordinary words; such secrets are refused by the configuration validator. */
    public static final int MIN_LENGTH = 4;

    private static final List<String> VALUES = new CopyOnWriteArrayList<>();

    private Secrets() {
    }

    public static void register(String value) {
        if (value == null || value.length() < MIN_LENGTH || VALUES.contains(value)) {
            return;
        }
        VALUES.add(value);
        // longest first, so a secret that contains another is masked whole
        VALUES.sort(Comparator.comparingInt(String::length).reversed());
    }

    /**
     * True for keys whose value is a secret by name: Camel's list of sensitive names (password, secret, token,
     * api key, ...), less user names, which are shown.
     */
    public static boolean isSecretKey(String key) {
        String lower = key.toLowerCase(java.util.Locale.ROOT);
        return org.apache.camel.util.SensitiveUtils.containsSensitive(lower) && !lower.endsWith("user")
                && !lower.endsWith("username");
    }

    public static String mask(String text) {
        if (text == null || VALUES.isEmpty()) {
            return text;
        }
        String answer = text;
        for (String secret : VALUES) {
            if (answer.contains(secret)) {
                answer = answer.replace(secret, MASK);
            }
        }
        return answer;
    }

    /** Masks a JDBC URL: known secrets and any password parameter. */
    public static String maskUrl(String url) {
        if (url == null) {
            return null;
        }
        return mask(url).replaceAll("(?i)(password|pwd)=([^&;]*)", "$1=" + MASK);
    }
}
