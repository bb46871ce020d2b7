package io.factoryrunner.api;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

/** The opaque {@code after} of a list whose order has two columns: both values, joined and encoded for a URL. */
final class Cursor {

    private static final char SEPARATOR = '\u0000';

    private Cursor() {
    }

    static String of(String first, String second) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((first + SEPARATOR + second).getBytes(StandardCharsets.UTF_8));
    }

    /** The two values of a cursor made by {@link #of}; a 400 naming the parameter for anything else. */
    static List<String> parse(String cursor) {
        try {
            String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
            int at = text.indexOf(SEPARATOR);
            if (at < 0) {
                throw new IllegalArgumentException("no separator");
            }
            return List.of(text.substring(0, at), text.substring(at + 1));
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest("Parameter 'after' is not a cursor this API gave: '" + cursor + "'");
        }
    }
}
