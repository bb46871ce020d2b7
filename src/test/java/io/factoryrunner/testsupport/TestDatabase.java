package io.factoryrunner.testsupport;

import static org.awaitility.Awaitility.await;

import io.factoryrunner.db.Database;
import io.factoryrunner.db.DatabaseSettings;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The databases every behaviour is tested on: embedded H2 and a real PostgreSQL started from Maven. A test's
 * database is a copy of one the factory's migrations ran on once per test run, so a start finds its schema current
 * as a restart does; {@link #newEmptyDatabase} gives one that no factory has opened yet.
 */
public enum TestDatabase {
    H2,
    POSTGRESQL;

    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static final String TEMPLATE = "factory_template";
    private static EmbeddedPostgres postgres;
    private static Path h2Template;
    private static boolean postgresTemplate;

    /** A new database holding the factory's schema and its Flyway history, and no rows; its JDBC URL. */
    public String newDatabase(Path dir) {
        if (this == H2) {
            Path file = dir.toAbsolutePath().resolve("db-" + COUNTER.incrementAndGet());
            try {
                Files.createDirectories(file.getParent());
                Files.copy(h2Template(), Path.of(file + ".mv.db"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return h2Url(file);
        }
        return createPostgres("factory_" + COUNTER.incrementAndGet(), postgresTemplate());
    }

    /**
     * A new database as {@link #newDatabase} gives, opened as the factory opens it (a pool of four, migrations run);
     * the caller closes it.
     */
    public Database open(Path dir) {
        Database database = Database.open(new DatabaseSettings(newDatabase(dir), user(), password(), 4,
                Duration.ofSeconds(10)));
        database.migrate();
        return database;
    }

    /** A new database that no factory has opened: its first start migrates it. */
    public String newEmptyDatabase(Path dir) {
        if (this == H2) {
            return h2Url(dir.toAbsolutePath().resolve("db-" + COUNTER.incrementAndGet()));
        }
        return createPostgres("factory_" + COUNTER.incrementAndGet(), "template1");
    }

    public String user() {
        return this == H2 ? "sa" : "postgres";
    }

    public String password() {
        return this == H2 ? "" : "pg-test-password";
    }

    /** One PostgreSQL server for the whole test run; each test gets a database of its own on it. */
    public static synchronized EmbeddedPostgres server() {
        if (postgres == null) {
            try {
                postgres = EmbeddedPostgres.builder().start();
            } catch (IOException e) {
                throw new IllegalStateException("Cannot start embedded PostgreSQL", e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    postgres.close();
                } catch (IOException ignored) {
                    // the JVM is exiting; the server's directory is temporary
                }
            }));
        }
        return postgres;
    }

    private static String h2Url(Path file) {
        return "jdbc:h2:file:" + file + ";WRITE_DELAY=0";
    }

    private String createPostgres(String name, String template) {
        try (Connection c = server().getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name + " TEMPLATE " + template);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return server().getJdbcUrl("postgres", name);
    }

    /** The file of an H2 database migrated once, closed, for each test to copy. */
    private static synchronized Path h2Template() {
        if (h2Template == null) {
            try {
                Path dir = Files.createTempDirectory("factory-h2-template");
                Path file = dir.resolve("template");
                migrate(H2, h2Url(file));
                try (Connection c = DriverManager.getConnection(h2Url(file) + ";IFEXISTS=TRUE", "sa", "");
                        Statement s = c.createStatement()) {
                    s.execute("SHUTDOWN");
                }
                h2Template = Path.of(file + ".mv.db");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        Files.deleteIfExists(h2Template);
                        Files.deleteIfExists(dir);
                    } catch (IOException ignored) {
                        // the JVM is exiting; the directory is a temporary one
                    }
                }));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        }
        return h2Template;
    }

    /** A PostgreSQL database migrated once that no session holds, so that CREATE DATABASE can copy it. */
    private static synchronized String postgresTemplate() {
        if (!postgresTemplate) {
            POSTGRESQL.createPostgres(TEMPLATE, "template1");
            migrate(POSTGRESQL, server().getJdbcUrl("postgres", TEMPLATE));
            try (Connection c = server().getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
                s.execute("ALTER DATABASE " + TEMPLATE + " WITH IS_TEMPLATE TRUE ALLOW_CONNECTIONS FALSE");
                // a closed pool's sessions end on the server a moment after the pool returns
                await().atMost(Duration.ofSeconds(10)).until(() -> Sql.count(c,
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '" + TEMPLATE + "'") == 0);
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
            postgresTemplate = true;
        }
        return TEMPLATE;
    }

    /** Migrates as the factory does at its first start, so that its history is the one the factory writes. */
    private static void migrate(TestDatabase db, String url) {
        try (Database database = Database.open(new DatabaseSettings(url, db.user(), db.password(), 4,
                Duration.ofSeconds(30)))) {
            database.migrate();
        }
    }
}
