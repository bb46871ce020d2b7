package io.factoryrunner.testsupport;

import io.factoryrunner.FactoryApplication;
import io.factoryrunner.job.Trigger;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.sql.DataSource;

/** A factory installation in a temporary directory: config/application.properties, config/routes/, data/. */
public final class FactoryHome {

    private final Path dir;
    private final TestDatabase database;
    private String url;
    private final Map<String, String> overrides = new LinkedHashMap<>();

    public FactoryHome(Path dir, TestDatabase database) {
        this(dir, database, database.newDatabase(dir));
    }

    private FactoryHome(Path dir, TestDatabase database, String url) {
        this.dir = dir;
        this.database = database;
        this.url = url;
        overrides.put("factory.db.url", url);
        overrides.put("factory.db.user", database.user());
        overrides.put("factory.db.password", database.password());
        overrides.put("camel.server.enabled", "false");
        overrides.put("camel.management.enabled", "false");
        overrides.put("factory.config.poll-interval", "200");
        overrides.put("factory.routes.shipped", "framework/**");
        overrides.put("camel.main.shutdown-timeout", "5");
        // the routes, stopped first, have ended their fires by then: joining Quartz's idle workers costs 0.5 s a stop
        overrides.put("camel.component.quartz.interrupt-jobs-on-shutdown", "true");
    }

    public Path dir() {
        return dir;
    }

    public TestDatabase database() {
        return database;
    }

    public String url() {
        return url;
    }

    /** Puts this home on a database no factory has opened yet, instead of an already migrated one. */
    public FactoryHome onEmptyDatabase() {
        url = database.newEmptyDatabase(dir);
        overrides.put("factory.db.url", url);
        return this;
    }

    /** Another node of the same installation: a home of its own, on this home's database and with its settings. */
    public FactoryHome anotherNode(Path otherDir) {
        FactoryHome other = new FactoryHome(otherDir, database, url);
        other.overrides.putAll(overrides);
        return other;
    }

    /** Runs SQL on this home's database as a client of its own would, whether a factory runs on it or not. */
    public FactoryHome execute(String... statements) {
        try (Connection c = DriverManager.getConnection(url, database.user(), database.password());
                Statement s = c.createStatement()) {
            for (String sql : statements) {
                s.execute(sql);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    public FactoryHome property(String key, String value) {
        overrides.put(key, value);
        return this;
    }

    public FactoryHome withoutOverride(String key) {
        overrides.remove(key);
        return this;
    }

    /** Serves HTTP (health endpoint) on a free port; returns the port. */
    public int withHttpServer() {
        int port = freePort();
        overrides.put("camel.server.enabled", "true");
        overrides.put("camel.management.enabled", "true");
        overrides.put("camel.server.port", String.valueOf(port));
        return port;
    }

    public FactoryHome applicationProperties(String content) {
        return write("config/application.properties", content);
    }

    public FactoryHome route(String fileName, String yaml) {
        return write("config/routes/" + fileName, yaml);
    }

    public FactoryHome write(String relative, String content) {
        try {
            Path file = dir.resolve(relative);
            Files.createDirectories(file.getParent());
            Files.writeString(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    public FactoryApplication app(FactoryApplication.Mode mode) {
        return FactoryApplication.create(dir, mode, overrides);
    }

    /** Starts the factory; the caller stops it (try-with-resources on {@link Running}). */
    public Running start() {
        FactoryApplication app = app(FactoryApplication.Mode.RUN);
        app.start();
        return new Running(app);
    }

    /** Starts the factory with a clock the test controls. */
    public Running start(Clock clock) {
        FactoryApplication app = FactoryApplication.create(dir, FactoryApplication.Mode.RUN, overrides, clock);
        app.start();
        return new Running(app);
    }

    public Map<String, String> overrides() {
        return Map.copyOf(overrides);
    }

    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A started factory that stops when closed. */
    public record Running(FactoryApplication app) implements AutoCloseable {

        public DataSource dataSource() {
            return app.database().dataSource();
        }

        /** Offers a complete item, version v1, to a job's inbox. */
        public void offer(String job, String key, String data) throws SQLException {
            app.jobStore().offer(job, key, "v1", data, true);
        }

        /** Runs a job now, as an operator's trigger does: the run's id, or -1 when the job did not run. */
        public long trigger(String job) {
            return app.jobs().trigger(job, Trigger.MANUAL);
        }

        @Override
        public void close() {
            app.stop();
        }
    }
}
