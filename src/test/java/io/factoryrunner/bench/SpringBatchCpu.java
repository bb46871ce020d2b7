package io.factoryrunner.bench;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the Spring Batch peer ({@code peers.SpringBatchChain}, on the classpath beside this class: see
 * {@code bench/versus-spring-batch.sh}) in this JVM and measures the CPU its measured job run uses, as
 * {@link PipelineBenchmark} measures the factory's pass: the JVM's and the PostgreSQL server's, per 10,000 hand-offs.
 * The peer is not changed: its printed lines say when the run starts ("loaded N items into input_1", printed just
 * before the job is launched) and ends ("six-step job over N items", printed just after), and this class reads the
 * meters as those lines go by.
 *
 * <p>Prints the peer's own output, a line per chunk size after each run, and at the end one row per chunk size for
 * the script: {@code spring-batch-cpu CHUNK JVM_SECONDS SERVER_SECONDS} (per 10,000 hand-offs). With {@code REPEAT=n}
 * the peer's whole run is made n times in this JVM, and only the last is shown.
 */
public final class SpringBatchCpu {

    private static final Pattern CHUNK = Pattern.compile("^-- chunk size (\\d+)");
    private static final Pattern LOADED = Pattern.compile("^loaded (\\d+) items into input_1");
    private static final Pattern RAN = Pattern.compile("^six-step job over (\\d+) items");
    /** The peer's steps: each item's hand-offs in one job run. */
    private static final int STEPS = 6;

    private SpringBatchCpu() {
    }

    public static void main(String[] args) throws Exception {
        // REPEAT (an argument or the environment, 1): the peer's whole run is made this many times in this JVM and
        // only the last is shown and counted, as PipelineBenchmark's REPEAT does for the factory
        int repeat = Integer.parseInt(System.getenv().getOrDefault("REPEAT", "1").trim());
        List<String> peerArgs = new ArrayList<>();
        for (String arg : args) {
            if (arg.toUpperCase(Locale.ROOT).startsWith("REPEAT=")) {
                repeat = Integer.parseInt(arg.substring("REPEAT=".length()).trim());
            } else {
                peerArgs.add(arg);
            }
        }
        PrintStream out = System.out;
        List<String> rows = new ArrayList<>();
        for (int time = 1; time <= repeat; time++) {
            boolean counted = time == repeat;
            if (!counted) {
                out.printf(Locale.ROOT, "-- time %d of %d of the peer's run (not counted: the JIT compilers learn)%n",
                        time, repeat);
            }
            rows.clear();
            LineWatcher watcher = new LineWatcher(counted ? out : new PrintStream(OutputStream.nullOutputStream()),
                    rows);
            System.setOut(new PrintStream(watcher, true, StandardCharsets.UTF_8));
            try {
                Class.forName("peers.SpringBatchChain").getMethod("main", String[].class)
                        .invoke(null, (Object) peerArgs.toArray(String[]::new));
            } finally {
                System.out.flush();
                System.setOut(out);
            }
        }
        for (String row : rows) {
            out.println(row);
        }
    }

    /** Passes the peer's output on, line by line, reading the meters at the lines that bound its measured run. */
    private static final class LineWatcher extends OutputStream {
        private final PrintStream out;
        private final List<String> rows;
        private byte[] pending = new byte[256];
        private int size;
        private int chunk;
        private CpuMeter meter;
        private CpuMeter.Reading before;
        private Map<String, Double> threadsBefore;

        LineWatcher(PrintStream out, List<String> rows) {
            this.out = out;
            this.rows = rows;
        }

        @Override
        public void write(int b) {
            if (size == pending.length) {
                pending = Arrays.copyOf(pending, size * 2);
            }
            pending[size++] = (byte) b;
            if (b == '\n') {
                String text = new String(pending, 0, size, StandardCharsets.UTF_8);
                size = 0;
                out.print(text);
                seen(text.strip());
            }
        }

        @Override
        public void flush() {
            out.flush();
        }

        private void seen(String text) {
            Matcher m = CHUNK.matcher(text);
            if (m.find()) {
                chunk = Integer.parseInt(m.group(1));
                return;
            }
            if (LOADED.matcher(text).find()) {
                // the peer's pool is open by now: its connections name the server's port
                meter = CpuMeter.ofConnectedPostgres();
                threadsBefore = CpuMeter.threadSeconds();
                before = meter.read();
                return;
            }
            m = RAN.matcher(text);
            if (m.find() && before != null) {
                CpuMeter.Reading used = meter.read().minus(before);
                Map<String, Double> threads = CpuMeter.threadSeconds();
                threadsBefore.forEach((name, seconds) -> threads.merge(name, -seconds, Double::sum));
                double handoffs = Double.parseDouble(m.group(1)) * STEPS;
                CpuMeter.Reading cpu = used.per(PipelineBenchmark.CPU_PER, handoffs);
                out.printf(Locale.ROOT, "CPU of the job run: %s; per %,d hand-offs: %s%s%n", used.text(),
                        PipelineBenchmark.CPU_PER, cpu.text(), meter.seesPostgres() ? ""
                                : " (the PostgreSQL server's processes were not found)");
                out.printf(Locale.ROOT, "  JVM CPU by thread: %s%n", CpuMeter.threadsText(threads));
                rows.add(String.format(Locale.ROOT, "spring-batch-cpu %d %.3f %.3f", chunk, cpu.jvm(),
                        cpu.postgres()));
                before = null;
            }
        }
    }
}
