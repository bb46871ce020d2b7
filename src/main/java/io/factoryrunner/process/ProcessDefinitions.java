package io.factoryrunner.process;

import io.factoryrunner.config.ConfigType;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;

/**
 * The processes the configuration declares: {@code process.<name>.start-url}, with an optional
 * {@code process.<name>.timeout} for the answer of each of its calls (else {@code factory.http.response-timeout}).
 * Read at each use, so a process declared in the configuration table is there without a restart.
 */
public final class ProcessDefinitions {

    private static final Pattern START_URL = Pattern.compile("process\\.([A-Za-z0-9_-]{1,100})\\.start-url");

    /** A declared process. */
    public record Process(String name, String startUrl, Duration timeout) {
    }

    private final PropertiesComponent properties;

    public ProcessDefinitions(PropertiesComponent properties) {
        this.properties = properties;
    }

    /** Every declared process, by name. */
    public List<Process> all() {
        return properties.loadProperties(key -> START_URL.matcher(key).matches()).stringPropertyNames().stream()
                .sorted().map(key -> {
                    Matcher m = START_URL.matcher(key);
                    m.matches();
                    return find(m.group(1));
                }).flatMap(Optional::stream).toList();
    }

    /** The process of that name, when its start URL is set (and valid: a bad one never gets past the checks). */
    public Optional<Process> find(String name) {
        Optional<String> url = properties.resolveProperty("process." + name + ".start-url").map(String::trim)
                .filter(v -> !v.isEmpty() && ConfigType.HTTP_URL.problem(v).isEmpty());
        return url.map(u -> new Process(name, u, timeout(name)));
    }

    /** How long a call of the process waits for its answer. */
    public Duration timeout(String name) {
        String value = properties.resolveProperty("process." + name + ".timeout").map(String::trim)
                .filter(v -> !v.isEmpty())
                .or(() -> properties.resolveProperty("factory.http.response-timeout").map(String::trim))
                .orElse("60s");
        return Duration.ofMillis(TimeUtils.toMilliSeconds(value));
    }
}
