package io.factoryrunner.logging;

import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The secret values known to this process. Log lines, error messages and anything shown to a person pass through
 * {@link #mask(String)}, so a secret never leaves the process in clear, whichever code printed it.
 * <p>
 * A key is secret by name ({@link #isSecretKey}) when the part after its last {@code .}, read without case,
 * {@code -} and {@code _}, ends with one of {@link #SECRET_ENDINGS} ({@code db-password}, {@code api-token},
 * {@code bearer-token}, {@code shared-secret}, {@code credentials}, {@code private-key}, {@code apiKey}...), is
 * {@code key} itself, or when its last word is {@code pwd} after another word ({@code db-pwd}, {@code DB_PWD}; the
 * shell's {@code PWD} and {@code OLDPWD} hold directories).
 * <p>
 * A placeholder ({@link #isPlaceholder}) is never a secret, whatever its key: empty; {@code none}, {@code null},
 * {@code changeme} and the other words of {@link #PLACEHOLDER_WORDS}, in any case; anything in {@code <...>},
 * {@code ${...}} or {@code {{...}}}; one character three times or more ({@code xxx}, {@code ******}).
 */
public final class Secrets {

    public static final String MASK = "******";

    /** Shorter values would mask ordinary words; such secrets are refused by the configuration validator. */
    public static final int MIN_LENGTH = 4;

    public static final List<String> SECRET_ENDINGS = List.of("password", "passwd", "passphrase", "passcode",
            "secret", "token", "credential", "credentials", "apikey", "privatekey", "accesskey", "secretkey",
            "signingkey", "encryptionkey", "masterkey", "sharedkey", "authkey", "accountkey", "consumerkey",
            "subscriptionkey", "connectionstring", "jaasconfig");

    public static final Set<String> PLACEHOLDER_WORDS = Set.of("none", "null", "nil", "unset", "empty", "n/a",
            "changeme", "change-me", "change_me", "placeholder", "todo", "tbd", "secret", "password");

    private static final Pattern WORDS = Pattern.compile("[._-]+");
    private static final Pattern WRAPPED = Pattern.compile("<.*>|\\$\\{.*}|\\{\\{.*}}", Pattern.DOTALL);
    private static final Pattern ONE_CHARACTER = Pattern.compile("(.)\\1{2,}", Pattern.DOTALL);
    private static final Pattern URL_USER_INFO = Pattern.compile("(//[^/:@?#;]*):([^/@?#;]*)@");
    private static final Pattern URL_PARAMETER = Pattern.compile("([?&;])([^=&;?#/]+)=([^&;#]*)");

    private static final List<String> VALUES = new CopyOnWriteArrayList<>();

    private Secrets() {
    }

    /** Masks the value from now on, unless it is too short to be masked safely or a placeholder. */
    public static void register(String value) {
        if (value == null || value.length() < MIN_LENGTH || isPlaceholder(value) || VALUES.contains(value)) {
            return;
        }
        VALUES.add(value);
        // longest first, so a secret that contains another is masked whole
        VALUES.sort(Comparator.comparingInt(String::length).reversed());
    }

    /** True for keys whose value is a secret by name (see the class comment for the rule). */
    public static boolean isSecretKey(String key) {
        if (key == null || key.isBlank()) {
            return false;
        }
        String lower = key.trim().toLowerCase(Locale.ROOT);
        String last = lower.substring(lower.lastIndexOf('.') + 1).replace("-", "").replace("_", "");
        if (last.equals("key") || SECRET_ENDINGS.stream().anyMatch(last::endsWith)) {
            return true;
        }
        String[] words = WORDS.split(lower);
        return words.length > 1 && words[words.length - 1].equals("pwd");
    }

    /** True for values that stand in for a secret not set yet: never masked, never refused as too short. */
    public static boolean isPlaceholder(String value) {
        if (value == null) {
            return true;
        }
        String v = value.trim();
        return v.isEmpty() || PLACEHOLDER_WORDS.contains(v.toLowerCase(Locale.ROOT)) || WRAPPED.matcher(v).matches()
                || ONE_CHARACTER.matcher(v).matches();
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

    /**
     * Masks a URL (HTTP or JDBC): known secrets, the password of its user info, and every parameter whose name is
     * a secret name or {@code pwd} ({@code ?api_key=}, {@code &password=}, {@code ;PASSWORD=}).
     */
    public static String maskUrl(String url) {
        if (url == null) {
            return null;
        }
        String answer = URL_USER_INFO.matcher(mask(url)).replaceAll("$1:" + Matcher.quoteReplacement(MASK) + "@");
        Matcher parameter = URL_PARAMETER.matcher(answer);
        StringBuilder out = new StringBuilder();
        while (parameter.find()) {
            String name = parameter.group(2);
            boolean secret = isSecretKey(name) || name.equalsIgnoreCase("pwd");
            String value = secret && !parameter.group(3).isEmpty() ? MASK : parameter.group(3);
            parameter.appendReplacement(out, Matcher.quoteReplacement(parameter.group(1) + name + "=" + value));
        }
        parameter.appendTail(out);
        return out.toString();
    }
}
