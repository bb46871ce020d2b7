package io.factoryrunner.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.FactoryRunner;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The factory's command line ({@code run --home DIR}) in a JVM of its own, as an operator starts it: a factory a test
 * kills and starts again, or a node of a cluster. Its output (the log) is kept line by line. The test signals the
 * process as an operator or the machine would: {@code kill -9} ({@link #kill}), {@code kill -STOP} and
 * {@code kill -CONT} ({@link #freeze}, {@link #thaw}), SIGTERM ({@link #stop}). Closing it stops what is still
 * running, thawed first.
 */
public final class ChildFactory implements AutoCloseable {

    private final String name;
    private final Process process;
    private final int port;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private volatile boolean frozen;

    private ChildFactory(String name, Process process, int port) {
        this.name = name;
        this.process = process;
        this.port = port;
    }

    /** Starts the factory on the home; its settings and routes are the home's files. */
    public static ChildFactory start(Path home) throws IOException {
        return start(home, "factory", 0, Map.of());
    }

    /**
     * Starts the factory on the home, with {@code environment} added to this process's (a password, say); {@code name}
     * names its output's reader thread and the failures, {@code port} is its HTTP port (0 when it serves none).
     */
    public static ChildFactory start(Path home, String name, int port, Map<String, String> environment)
            throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder = new ProcessBuilder(List.of(java, "-Xmx256m", "-cp",
                System.getProperty("java.class.path"), FactoryRunner.class.getName(), "run", "--home",
                home.toString())).directory(home.toFile()).redirectErrorStream(true);
        builder.environment().putAll(environment);
        ChildFactory factory = new ChildFactory(name, builder.start(), port);
        Thread reader = new Thread(factory::read, name + "-output");
        reader.setDaemon(true);
        reader.start();
        return factory;
    }

    /**
     * Starts a node of a cluster on the test's PostgreSQL server, database {@code url}: its home gets
     * {@code factory.cluster.enabled = true}, the node's name, the database, the shipped framework routes, HTTP on a
     * free port and a heartbeat every second, then {@code settings} (more properties, which may repeat a key to change
     * it), and {@code routes} as its route files (file name to YAML).
     */
    public static ChildFactory node(Path home, String name, String url, Map<String, String> routes, String settings)
            throws IOException {
        int port = FactoryHome.freePort();
        Files.createDirectories(home.resolve("config/routes"));
        for (Map.Entry<String, String> route : routes.entrySet()) {
            Files.writeString(home.resolve("config/routes").resolve(route.getKey()), route.getValue());
        }
        Files.writeString(home.resolve("config/application.properties"), """
                factory.cluster.enabled = true
                factory.node.id = %s
                factory.db.url = %s
                factory.db.user = %s
                factory.routes.shipped = framework/**
                camel.server.port = %d
                factory.node.heartbeat = 1s
                """.formatted(name, url, TestDatabase.POSTGRESQL.user(), port) + settings);
        return start(home, name, port, Map.of("FACTORY_DB_PASSWORD", TestDatabase.POSTGRESQL.password()));
    }

    private void read() {
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                lines.add(line);
            }
        } catch (IOException closed) {
            // the process ended
        }
    }

    public String name() {
        return name;
    }

    /** The HTTP port (health, operator API); 0 when it serves none. */
    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Fails, with the output so far, unless the process is still running. */
    public ChildFactory assertAlive() {
        assertThat(process.isAlive()).as("%s is running; its output:\n%s", name, output()).isTrue();
        return this;
    }

    /** The output so far, a line an element. */
    public List<String> lines() {
        return List.copyOf(lines);
    }

    public String output() {
        return String.join("\n", lines);
    }

    /** How many lines of the output so far contain {@code text}. */
    public long count(String text) {
        return lines.stream().filter(l -> l.contains(text)).count();
    }

    /** Whether a line of the output so far contains {@code text}. */
    public boolean logged(String text) {
        return lines.stream().anyMatch(l -> l.contains(text));
    }

    /** A GET on the factory's API that answers 200, with {@code token}; the answer's body. */
    public String get(String path, String token) throws Exception {
        HttpResponse<String> response = TestHttp.client().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + path)).header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return response.body();
    }

    /** What {@code kill -9} does: no shutdown hook, no clean close of the database or its connections. */
    public void kill() throws InterruptedException {
        signal("KILL");
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("%s ended after kill -9", name).isTrue();
    }

    /** {@code kill -STOP}: every thread stops where it is, as in a long GC pause; connections stay open. */
    public void freeze() {
        signal("STOP");
        frozen = true;
    }

    /** {@code kill -CONT}: it goes on from where it was stopped. */
    public void thaw() {
        signal("CONT");
        frozen = false;
    }

    /** A normal stop (SIGTERM): Camel shuts down and the database is closed. */
    public void stop() throws InterruptedException {
        process.destroy();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("%s stopped; its output:\n%s", name, output()).isTrue();
    }

    /** Stops the process whatever it was left doing: thawed, SIGTERM, and after a minute SIGKILL. */
    @Override
    public void close() throws InterruptedException {
        if (!process.isAlive()) {
            return;
        }
        if (frozen) {
            thaw();
        }
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private void signal(String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(process.pid()))
                    .redirectErrorStream(true).start();
            String said = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(kill.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(kill.exitValue()).as("kill -%s %s: %s", signal, process.pid(), said).isZero();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while signalling " + name, e);
        }
    }
}
