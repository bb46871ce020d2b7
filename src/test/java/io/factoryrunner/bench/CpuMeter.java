package io.factoryrunner.bench;

import com.sun.management.OperatingSystemMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * CPU seconds used by this JVM and by one PostgreSQL server on the same machine, read before and after a measured
 * pass: on two cores the JVM and the server compete for the same CPU, so where it goes bounds what either can gain.
 *
 * <p>The server's figure is the postmaster's own time plus its children's: the live ones from their
 * {@code /proc/<pid>/stat} (utime + stime), and those that ended (a backend whose connection closed) from the
 * postmaster's cutime + cstime, to which the kernel adds a child's time when the postmaster reaps it. Linux only; on
 * anything else, or when the server is not found, the server's figure is NaN.
 */
final class CpuMeter {

    /** CPU seconds used so far: by this JVM (all its threads, the JIT compiler and the garbage collector too). */
    record Reading(double jvm, double postgres) {

        /** What was used between {@code before} and this reading. */
        Reading minus(Reading before) {
            return new Reading(jvm - before.jvm, postgres - before.postgres);
        }

        /** Per {@code per} hand-offs, of {@code handoffs} made. */
        Reading per(double per, double handoffs) {
            return new Reading(jvm * per / handoffs, postgres * per / handoffs);
        }

        String text() {
            return String.format(Locale.ROOT, "JVM %.2f s, PostgreSQL %.2f s", jvm, postgres);
        }
    }

    /** Kernel clock ticks per second, the unit of /proc/<pid>/stat's times (USER_HZ, 100 on Linux). */
    private static final double TICKS = 100.0;

    private final long postmaster;

    private CpuMeter(long postmaster) {
        this.postmaster = postmaster;
    }

    /** The meter of the PostgreSQL server listening on {@code port} (the postmaster started with {@code -p port}). */
    static CpuMeter ofPostgresOnPort(int port) {
        return new CpuMeter(postmasterOn(Set.of(port)).orElse(-1L));
    }

    /**
     * The meter of the PostgreSQL server this JVM is connected to: the postmaster whose port is the remote port of
     * one of this process's TCP connections (for a program that does not say which server it started).
     */
    static CpuMeter ofConnectedPostgres() {
        return new CpuMeter(postmasterOn(remotePorts()).orElse(-1L));
    }

    /** The JVM's CPU alone (an H2 database runs inside it). */
    static CpuMeter ofNoServer() {
        return new CpuMeter(-1L);
    }

    /**
     * CPU seconds used so far by this process's live threads (/proc/self/task), summed by the kernel's name of each
     * (at most 15 characters: the JIT compilers are "C1/C2 CompilerThre", the garbage collector's threads "GC
     * Thread#", "G1 ...", Camel's "Camel (camel-1)"), with the digits of a pool's numbering dropped. Empty where there
     * is no /proc.
     */
    static Map<String, Double> threadSeconds() {
        Map<String, Double> byName = new HashMap<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                long[] t = ticks(task);
                if (t != null && t[0] + t[1] > 0) {
                    String name = Files.readString(task.resolve("comm")).strip().replaceAll("\\d+", "#");
                    byName.merge(name, (t[0] + t[1]) / TICKS, Double::sum);
                }
            }
        } catch (IOException | RuntimeException notLinux) {
            return byName;
        }
        return byName;
    }

    /** The threads that used 0.05 s or more, most first. */
    static String threadsText(Map<String, Double> seconds) {
        List<String> parts = new ArrayList<>();
        seconds.entrySet().stream().filter(e -> e.getValue() >= 0.05)
                .sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                .forEach(e -> parts.add(String.format(Locale.ROOT, "%s %.2f s", e.getKey(), e.getValue())));
        return String.join(", ", parts);
    }

    /** Whether the server's processes were found. */
    boolean seesPostgres() {
        return postmaster > 0;
    }

    Reading read() {
        double jvm = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
        return new Reading(jvm, postmaster > 0 ? serverSeconds() : Double.NaN);
    }

    private double serverSeconds() {
        long[] own = ticks(postmaster);
        if (own == null) {
            return Double.NaN;
        }
        // utime, stime, and the reaped children's cutime and cstime
        long total = own[0] + own[1] + own[2] + own[3];
        for (ProcessHandle child : ProcessHandle.of(postmaster).map(p -> p.children().toList()).orElse(List.of())) {
            long[] t = ticks(child.pid());
            if (t != null) {
                total += t[0] + t[1];
            }
        }
        return total / TICKS;
    }

    /** utime, stime, cutime and cstime of a process, in ticks; null when it has gone. */
    private static long[] ticks(long pid) {
        return ticks(Path.of("/proc", String.valueOf(pid)));
    }

    /** utime, stime, cutime and cstime of the process or thread at {@code proc}, in ticks; null when it has gone. */
    private static long[] ticks(Path proc) {
        try {
            String stat = Files.readString(proc.resolve("stat"));
            // the command name in parentheses may hold spaces: the fields after it are counted from its end
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
            // fields 14 to 17 of stat(5); f[0] is field 3 (state)
            return new long[] {Long.parseLong(f[11]), Long.parseLong(f[12]), Long.parseLong(f[13]),
                Long.parseLong(f[14])};
        } catch (IOException | RuntimeException gone) {
            return null;
        }
    }

    /** The postmaster (a postgres process whose parent is not a postgres process) started with one of the ports. */
    private static Optional<Long> postmasterOn(Set<Integer> ports) {
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path proc : procs) {
                List<String> args = commandLine(proc);
                if (args.isEmpty() || !args.get(0).endsWith("postgres")) {
                    continue;
                }
                int p = args.indexOf("-p");
                if (p >= 0 && p + 1 < args.size() && ports.contains(Integer.parseInt(args.get(p + 1)))) {
                    return Optional.of(Long.parseLong(proc.getFileName().toString()));
                }
            }
        } catch (IOException | RuntimeException notLinux) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    private static List<String> commandLine(Path proc) {
        try {
            String line = Files.readString(proc.resolve("cmdline"));
            return line.isEmpty() ? List.of() : List.of(line.split("\0"));
        } catch (IOException | RuntimeException gone) {
            return List.of();
        }
    }

    /** The remote ports of this process's TCP connections (/proc/self/net/tcp rows whose socket it holds). */
    private static Set<Integer> remotePorts() {
        Set<String> sockets = new HashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        sockets.add(target.substring(8, target.length() - 1));
                    }
                } catch (IOException closed) {
                    // the descriptor closed while being listed
                }
            }
        } catch (IOException notLinux) {
            return Set.of();
        }
        Set<Integer> ports = new HashSet<>();
        for (String table : List.of("/proc/self/net/tcp", "/proc/self/net/tcp6")) {
            try {
                List<String> rows = Files.readAllLines(Path.of(table));
                for (String row : rows.subList(Math.min(1, rows.size()), rows.size())) {
                    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                    String[] f = row.trim().split("\\s+");
                    if (f.length > 9 && sockets.contains(f[9])) {
                        String remote = f[2];
                        ports.add(Integer.parseInt(remote.substring(remote.indexOf(':') + 1), 16));
                    }
                }
            } catch (IOException | RuntimeException missing) {
                // no such table (IPv4 or IPv6 only)
            }
        }
        return ports;
    }
}
