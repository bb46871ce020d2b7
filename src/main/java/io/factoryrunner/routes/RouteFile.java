package io.factoryrunner.routes;

import java.util.List;
import java.util.Set;

/**
 * One YAML route file: where Camel loads it from, how an operator would name it, and what it declares.
 *
 * @param location     a Camel resource location ({@code classpath:routes/...} or {@code file:/...})
 * @param displayName  the path an operator recognises ({@code config/routes/build.yaml}, {@code jar:routes/...})
 * @param routeIds     the ids of the routes the file declares
 * @param placeholders the configuration keys the file refers to as {@code {{key}}}
 */
public record RouteFile(String location, String displayName, boolean shipped, List<String> routeIds,
        Set<String> placeholders) {
}
