package io.factoryrunner.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.FactoryRunner;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Nodes of a cluster: each the factory's command line in a JVM of its own, on a home of its own under one directory,
 * all on one real PostgreSQL database with {@code factory.cluster.enabled = true}. Closing stops every node.
 */
public final class ClusterNodes implements AutoCloseable {

    private final Path dir;
    private final String url;
    private final List<Node> nodes = new ArrayList<>();

    /** A cluster on a new database (the factory's schema, no rows) under {@code dir}; no node started yet. */
    public ClusterNodes(Path dir) {
        this.dir = dir;
        this.url = TestDatabase.POSTGRESQL.newDatabase(dir);
    }

    /** The database's JDBC URL. */
    public String url() {
        return url;
    }

    /** The database, as the test's own connections reach it. */
    public DataSource dataSource() {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser(TestDatabase.POSTGRESQL.user());
        ds.setPassword(TestDatabase.POSTGRESQL.password());
        return ds;
    }

    /** The database's clock now. */
    public Instant databaseNow() throws Exception {
        return ((Timestamp) Sql.rows(dataSource(), "SELECT CURRENT_TIMESTAMP AS now").get(0).get("now")).toInstant();
    }

    /** The home of node {@code name}. */
    public Path home(String name) {
        return dir.resolve(name);
    }

    /**
     * Starts node {@code name} with the route files {@code routes} (file name to YAML) in its config/routes and
     * {@code properties} in its config/application.properties after the cluster's own settings (the database, the
     * node's name and port, the framework routes only, a heartbeat a second).
     */
    public Node start(String name, Map<String, String> routes, String properties) throws IOException {
        Path home = home(name);
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
                """.formatted(name, url, TestDatabase.POSTGRESQL.user(), port) + properties);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder = new ProcessBuilder(List.of(java, "-Xmx256m", "-cp",
                System.getProperty("java.class.path"), FactoryRunner.class.getName(), "run", "--home",
                home.toString())).directory(home.toFile()).redirectErrorStream(true);
        builder.environment().put("FACTORY_DB_PASSWORD", TestDatabase.POSTGRESQL.password());
        Process process = builder.start();
        List<String> lines = new CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    lines.add(line);
                }
            } catch (IOException closed) {
                // the process ended
            }
        }, name + "-output");
        reader.setDaemon(true);
        reader.start();
        Node node = new Node(name, process, port, lines);
        nodes.add(node);
        return node;
    }

    /** Stops every node (SIGTERM, then after a minute SIGKILL). */
    @Override
    public void close() throws InterruptedException {
        for (Node node : nodes) {
            node.process().destroy();
        }
        for (Node node : nodes) {
            if (!node.process().waitFor(60, TimeUnit.SECONDS)) {
                node.process().destroyForcibly();
            }
        }
    }

    /** A node: its process, HTTP port and output so far. */
    public record Node(String name, Process process, int port, List<String> lines) {

        /** A GET on the node's API that answers 200, with {@code token}; the answer's body. */
        public String get(String path, String token) throws Exception {
            HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + path)).header("Authorization", "Bearer " + token).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            return response.body();
        }
    }
}
