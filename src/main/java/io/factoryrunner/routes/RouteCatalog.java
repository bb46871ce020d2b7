package io.factoryrunner.routes;

import io.factoryrunner.StartupException;
import io.factoryrunner.support.ClasspathFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

/**
 * The YAML route files the factory loads: those shipped in the jar under {@code routes/} and the operator's under
 * {@code config/routes/}. An operator file that declares a route id a shipped file also declares replaces that
 * shipped file. Every file is parsed here first so that a malformed one is reported with its path and line before
 * Camel sees it.
 */
public final class RouteCatalog {

    private static final Logger LOG = LoggerFactory.getLogger(RouteCatalog.class);
    private static final String SHIPPED_ROOT = "routes";
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{\\??([^{}:]+)(:[^{}]*)?}}");

    private final List<RouteFile> files;

    private RouteCatalog(List<RouteFile> files) {
        this.files = List.copyOf(files);
    }

    /**
     * The shipped files to load, as globs under {@code routes/}: those {@code factory.routes.shipped} names. The
     * reference factory reads the demo tables unless told otherwise: it loads with the demo, or when
     * {@code factory.routes.shipped} names it, never by default (it would poll a customer table that is not there).
     * The demo's stand-in API needs the HTTP server.
     */
    public static String shippedGlobs(String configured, boolean demo, boolean httpServer) {
        return configured + (demo ? ",factory/**" : "") + (demo && httpServer ? ",demo/**" : "");
    }

    /** Scans the shipped files matching the comma-separated globs and the operator's directory. */
    public static RouteCatalog scan(ClassLoader classLoader, Path home, Path operatorDir, String shippedGlobs) {
        return scan(classLoader, home, operatorDir, globFilter(shippedGlobs));
    }

    private static Predicate<String> globFilter(String globs) {
        List<PathMatcher> matchers = Arrays.stream(globs.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                .map(g -> FileSystems.getDefault().getPathMatcher("glob:" + g)).toList();
        return path -> matchers.stream().anyMatch(m -> m.matches(Path.of(path)));
    }

    /**
     * @param shippedFilter keeps a shipped file when it returns true for the file's path under {@code routes/}
     */
    public static RouteCatalog scan(ClassLoader classLoader, Path home, Path operatorDir,
            Predicate<String> shippedFilter) {
        Map<String, RouteFile> shipped = new TreeMap<>();
        for (Map.Entry<String, String> e : listShipped(classLoader).entrySet()) {
            if (!shippedFilter.test(e.getKey())) {
                continue;
            }
            String location = "classpath:" + SHIPPED_ROOT + "/" + e.getKey();
            shipped.put(e.getKey(), parse(location, "jar:" + SHIPPED_ROOT + "/" + e.getKey(), true, e.getValue()));
        }
        List<RouteFile> operator = new ArrayList<>();
        if (Files.isDirectory(operatorDir)) {
            try (Stream<Path> paths = Files.walk(operatorDir)) {
                for (Path p : paths.filter(RouteCatalog::isYaml).sorted().toList()) {
                    String display = displayPath(home, p);
                    String text = Files.readString(p, StandardCharsets.UTF_8);
                    operator.add(parse("file:" + p.toAbsolutePath().normalize(), display, false, text));
                }
            } catch (IOException e) {
                throw new StartupException("Cannot read route directory " + operatorDir + ": " + e.getMessage(), e);
            }
        }
        Map<String, RouteFile> operatorIds = new LinkedHashMap<>();
        for (RouteFile f : operator) {
            for (String id : f.routeIds()) {
                RouteFile other = operatorIds.putIfAbsent(id, f);
                if (other != null) {
                    throw new StartupException("Route id '" + id + "' is declared twice: in " + other.displayName()
                            + " and in " + f.displayName());
                }
            }
        }
        List<RouteFile> effective = new ArrayList<>();
        for (RouteFile f : shipped.values()) {
            List<String> replaced = f.routeIds().stream().filter(operatorIds::containsKey).toList();
            if (replaced.isEmpty()) {
                effective.add(f);
            } else if (replaced.size() == f.routeIds().size()) {
                replaced.forEach(id -> LOG.info("Route '{}' from {} replaces the shipped one in {}", id,
                        operatorIds.get(id).displayName(), f.displayName()));
            } else {
                throw new StartupException("Operator routes " + replaced + " replace only part of shipped file "
                        + f.displayName() + ", which also declares " + f.routeIds()
                        + "; replace all of its routes or give yours other ids");
            }
        }
        effective.addAll(operator);
        return new RouteCatalog(effective);
    }

    public List<RouteFile> files() {
        return files;
    }

    /** The value for {@code camel.main.routes-include-pattern}: exactly the effective files. */
    public String includePattern() {
        return String.join(",", files.stream().map(RouteFile::location).toList());
    }

    public List<String> routeIds() {
        return files.stream().flatMap(f -> f.routeIds().stream()).toList();
    }

    /** The routes whose file refers to any of the given configuration keys. */
    public Set<String> routesUsing(Set<String> keys) {
        Set<String> answer = new LinkedHashSet<>();
        for (RouteFile f : files) {
            if (!Collections.disjoint(f.placeholders(), keys)) {
                answer.addAll(f.routeIds());
            }
        }
        return answer;
    }

    /** The file that declares a route, for messages. */
    public String fileOf(String routeId) {
        return files.stream().filter(f -> f.routeIds().contains(routeId)).map(RouteFile::displayName).findFirst()
                .orElse(null);
    }

    /** The file whose Camel location is given, for messages. */
    public String displayNameOfLocation(String location) {
        return files.stream().filter(f -> location.contains(f.location().substring(f.location().indexOf(':') + 1)))
                .map(RouteFile::displayName).findFirst().orElse(location);
    }

    static RouteFile parse(String location, String displayName, boolean shipped, String text) {
        Object document;
        try {
            Load load = new Load(LoadSettings.builder().setLabel(displayName).build());
            document = load.loadFromString(text);
        } catch (MarkedYamlEngineException e) {
            String where = e.getProblemMark()
                    .map(m -> ", line " + (m.getLine() + 1) + ", column " + (m.getColumn() + 1)).orElse("");
            throw new StartupException("Route file " + displayName + where + ": malformed YAML: " + e.getProblem());
        } catch (YamlEngineException e) {
            throw new StartupException("Route file " + displayName + ": malformed YAML: " + e.getMessage());
        }
        List<String> ids = new ArrayList<>();
        if (document != null) {
            if (!(document instanceof List<?> list)) {
                throw new StartupException("Route file " + displayName
                        + ", line 1: a Camel YAML route file must be a list (each entry starting with '- route:',"
                        + " '- routeConfiguration:', '- beans:', ...)");
            }
            for (Object item : list) {
                if (item instanceof Map<?, ?> map) {
                    for (String kind : List.of("route", "routeConfiguration", "routeTemplate")) {
                        if (map.get(kind) instanceof Map<?, ?> body && body.get("id") != null) {
                            if (kind.equals("route")) {
                                ids.add(body.get("id").toString());
                            }
                        }
                    }
                }
            }
        }
        Set<String> placeholders = new LinkedHashSet<>();
        Matcher m = PLACEHOLDER.matcher(text);
        while (m.find()) {
            placeholders.add(m.group(1).trim());
        }
        return new RouteFile(location, displayName, shipped, ids, placeholders);
    }

    private static boolean isYaml(Path p) {
        String name = p.getFileName().toString();
        return Files.isRegularFile(p) && (name.endsWith(".yaml") || name.endsWith(".yml"));
    }

    private static String displayPath(Path home, Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path base = home.toAbsolutePath().normalize();
        return abs.startsWith(base) ? base.relativize(abs).toString() : abs.toString();
    }

    /** Path under {@code routes/} to file content, for every YAML file on the class path there. */
    private static Map<String, String> listShipped(ClassLoader classLoader) {
        try {
            return ClasspathFiles.read(classLoader, SHIPPED_ROOT,
                    name -> name.endsWith(".yaml") || name.endsWith(".yml"));
        } catch (RuntimeException e) {
            throw new StartupException("Cannot list the routes shipped in the jar: " + e.getMessage(), e);
        }
    }
}
