package io.factoryrunner.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a flight recording's CPU samples ({@code jdk.ExecutionSample}) fell, run by hand ({@code bench/profile.sh}):
 * by thread, by the library of the first frame outside the JDK (whose code asked for the work), by top frame (the
 * method running), and by method on the stack (the method and what it called), each as a share of all samples; and
 * for each METHOD named, the samples under it by the method it called (where its own time goes).
 *
 * <pre>java ... io.factoryrunner.bench.JfrTop FILE.jfr [TOP [METHOD ...]]</pre>
 */
public final class JfrTop {

    /** Libraries by package prefix, most specific first; a frame of none of them is named by its first two parts. */
    private static final List<String> LIBRARIES = List.of("io.factoryrunner.", "org.apache.camel.", "org.postgresql.",
            "com.zaxxer.hikari.", "com.fasterxml.jackson.", "ch.qos.logback.", "org.slf4j.", "org.h2.",
            "org.quartz.", "io.vertx.", "io.netty.");

    private JfrTop() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            throw new IllegalArgumentException("Usage: JfrTop FILE.jfr [TOP [METHOD ...]]");
        }
        int top = args.length > 1 ? Integer.parseInt(args[1]) : 25;
        List<String> methods = args.length > 2 ? List.of(args).subList(2, args.length) : List.of();
        Map<String, Map<String, Integer>> callees = new HashMap<>();
        Map<String, Integer> threads = new HashMap<>();
        Map<String, Integer> libraries = new HashMap<>();
        Map<String, Integer> self = new HashMap<>();
        Map<String, Integer> inclusive = new HashMap<>();
        int samples = 0;
        Map<String, Integer> compiled = new HashMap<>();
        Map<String, Integer> deoptimized = new HashMap<>();
        int compilations = 0;
        long compileMillis = 0;
        for (RecordedEvent event : RecordingFile.readAllEvents(Path.of(args[0]))) {
            String type = event.getEventType().getName();
            if (type.equals("jdk.Compilation")) {
                compilations++;
                long millis = event.getDuration().toMillis();
                compileMillis += millis;
                RecordedMethod method = event.getValue("method");
                if (method != null) {
                    compiled.merge(library(method.getType().getName()), (int) millis, Integer::sum);
                }
                continue;
            }
            if (type.equals("jdk.Deoptimization")) {
                deoptimized.merge(event.getString("reason") + " " + event.getString("action") + " in "
                        + library(((RecordedMethod) event.getValue("method")).getType().getName()), 1, Integer::sum);
                continue;
            }
            if (!type.equals("jdk.ExecutionSample")) {
                continue;
            }
            RecordedStackTrace stack = event.getStackTrace();
            if (stack == null || stack.getFrames().isEmpty()) {
                continue;
            }
            samples++;
            RecordedThread thread = event.getThread("sampledThread");
            threads.merge(threadGroup(thread == null ? "?" : thread.getJavaName()), 1, Integer::sum);
            List<RecordedFrame> frames = stack.getFrames();
            self.merge(name(frames.get(0)), 1, Integer::sum);
            libraries.merge(library(frames), 1, Integer::sum);
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < frames.size(); i++) {
                String name = name(frames.get(i));
                if (seen.add(name)) {
                    inclusive.merge(name, 1, Integer::sum);
                    if (methods.contains(name)) {
                        callees.computeIfAbsent(name, m -> new HashMap<>())
                                .merge(i == 0 ? "(its own code)" : name(frames.get(i - 1)), 1, Integer::sum);
                    }
                }
            }
        }
        System.out.printf(Locale.ROOT, "%s: %d CPU samples (stacks cut at the recording's depth)%n",
                args[0], samples);
        print("by thread", threads, samples, top);
        print("by library asking (first frame outside the JDK)", libraries, samples, top);
        print("by top frame (self)", self, samples, top);
        print("by method on the stack (inclusive)", inclusive, samples, top * 2);
        System.out.printf(Locale.ROOT, "%n%d JIT compilations (%d ms of compiler time)%n", compilations,
                compileMillis);
        print("compiler milliseconds by the library compiled", compiled, Math.max(1, (int) compileMillis), top);
        int deopts = deoptimized.values().stream().mapToInt(Integer::intValue).sum();
        System.out.printf(Locale.ROOT, "%n%d deoptimizations%n", deopts);
        print("deoptimizations by reason, action and library", deoptimized, Math.max(1, deopts), top);
        for (String method : methods) {
            print("under " + method + ", by the method it called", callees.getOrDefault(method, Map.of()), samples,
                    top);
        }
    }

    private static void print(String title, Map<String, Integer> counts, int samples, int top) {
        System.out.printf(Locale.ROOT, "%n-- %s%n", title);
        counts.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(top)
                .forEach(e -> System.out.printf(Locale.ROOT, "%6d %5.1f%%  %s%n", e.getValue(),
                        100.0 * e.getValue() / Math.max(1, samples), e.getKey()));
    }

    /** A pool's threads as one: digits at the end of a name dropped ("claim-build" stays, "Camel (x) thread #7" goes). */
    private static String threadGroup(String name) {
        return name.replaceAll("[#-]?\\d+$", "").replaceAll("\\s+#$", "").trim();
    }

    private static String name(RecordedFrame frame) {
        RecordedMethod method = frame.getMethod();
        return method == null ? "?" : method.getType().getName() + "." + method.getName();
    }

    /** The library of a class: one of LIBRARIES, "JDK", or the first two parts of its package. */
    private static String library(String type) {
        if (type.startsWith("java.") || type.startsWith("jdk.") || type.startsWith("sun.")
                || type.startsWith("com.sun.")) {
            return "JDK";
        }
        for (String library : LIBRARIES) {
            if (type.startsWith(library)) {
                return library.substring(0, library.length() - 1);
            }
        }
        String[] parts = type.split("\\.");
        return parts.length > 2 ? parts[0] + "." + parts[1] : type;
    }

    /** The library of the first frame outside the JDK, or "JDK" when the whole stack is the JDK's. */
    private static String library(List<RecordedFrame> frames) {
        for (RecordedFrame frame : frames) {
            String library = library(frame.getMethod() == null ? "" : frame.getMethod().getType().getName());
            if (!library.equals("JDK")) {
                return library;
            }
        }
        return "JDK";
    }
}
