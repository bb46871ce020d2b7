package io.factoryrunner.testsupport;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/** The databases every behaviour is tested on: embedded H2 and a real PostgreSQL started from Maven. */
public enum TestDatabase {
    H2,
    POSTGRESQL;

    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static EmbeddedPostgres postgres;

    /** A new, empty database; its JDBC URL. */
    public String newDatabase(Path dir) {
        if (this == H2) {
            return "jdbc:h2:file:" + dir.toAbsolutePath().resolve("db-" + COUNTER.incrementAndGet()) + ";WRITE_DELAY=0";
        }
        String name = "factory_" + COUNTER.incrementAndGet();
        try (Connection c = server().getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return server().getJdbcUrl("postgres", name);
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
}
