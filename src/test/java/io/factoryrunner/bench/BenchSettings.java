package io.factoryrunner.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The settings of a benchmark run by hand: its defaults, replaced by the environment's values, then by the
 * {@code KEY=value} arguments; and its run on each database that {@code DB} names ({@code both}, {@code h2} or
 * {@code postgresql}), H2 first, each on a server of its own.
 */
final class BenchSettings {

    /** What a benchmark measures on one database: the lines of its table. */
    @FunctionalInterface
    interface Measure {
        List<String> on(PipelineBenchmark.Server server) throws Exception;
    }

    private final Map<String, String> values;

    private BenchSettings(Map<String, String> values) {
        this.values = values;
    }

    /** The defaults ({@code KEY, value, ...}, in the order they are printed), the environment, then the arguments. */
    static BenchSettings read(String[] args, String... defaults) {
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < defaults.length; i += 2) {
            values.put(defaults[i], System.getenv().getOrDefault(defaults[i], defaults[i + 1]));
        }
        for (String arg : args) {
            String[] kv = arg.split("=", 2);
            if (kv.length != 2 || !values.containsKey(kv[0])) {
                throw new IllegalArgumentException("Arguments are KEY=value, KEY one of " + values.keySet()
                        + "; got '" + arg + "'");
            }
            values.put(kv[0], kv[1]);
        }
        String db = values.get("DB");
        if (db != null && !List.of("both", "h2", "postgresql").contains(db)) {
            throw new IllegalArgumentException("DB is both, h2 or postgresql; got '" + db + "'");
        }
        return new BenchSettings(values);
    }

    String text(String key) {
        return values.get(key);
    }

    int number(String key) {
        try {
            return Integer.parseInt(values.get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " is a whole number; got '" + values.get(key) + "'");
        }
    }

    /** The lines {@code measure} gives on each database {@code DB} names. */
    List<String> onEachDatabase(Measure measure) throws Exception {
        List<String> lines = new ArrayList<>();
        String db = values.get("DB");
        if (db.equals("both") || db.equals("h2")) {
            try (PipelineBenchmark.Server server = PipelineBenchmark.Server.startH2()) {
                lines.addAll(measure.on(server));
            }
        }
        if (db.equals("both") || db.equals("postgresql")) {
            try (PipelineBenchmark.Server server = PipelineBenchmark.Server.startPostgres()) {
                lines.addAll(measure.on(server));
            }
        }
        return lines;
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
