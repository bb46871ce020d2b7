package io.factoryrunner.error;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.apache.camel.RuntimeCamelException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The failures a real database raises are sorted as the retry policy needs: a lock wait that timed out and a
 * deadlock are worth another attempt, a statement the database cannot run is not; all are SQL failures.
 */
class SqlFailureClassificationTest {

    @TempDir
    Path dir;

    private Connection connect(TestDatabase db, String url) throws SQLException {
        return DriverManager.getConnection(url, db.user(), db.password());
    }

    private String tableWithTwoRows(TestDatabase db) throws SQLException {
        String url = db.newDatabase(dir);
        try (Connection c = connect(db, url); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)");
            s.execute("INSERT INTO account VALUES (1, 100), (2, 100)");
        }
        return url;
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_lock_wait_that_times_out_is_transient(TestDatabase db) throws Exception {
        String url = tableWithTwoRows(db);
        try (Connection holder = connect(db, url); Connection waiter = connect(db, url)) {
            holder.setAutoCommit(false);
            try (Statement s = holder.createStatement()) {
                s.executeUpdate("UPDATE account SET balance = balance - 1 WHERE id = 1");
            }
            waiter.setAutoCommit(false);
            try (Statement s = waiter.createStatement()) {
                s.execute(db == TestDatabase.H2 ? "SET LOCK_TIMEOUT 200" : "SET lock_timeout = '200ms'");
                SQLException timeout = catchThrowableOfType(SQLException.class,
                        () -> s.executeUpdate("UPDATE account SET balance = balance + 1 WHERE id = 1"));
                assertThat((Throwable) timeout).as("the waiting update's failure").isNotNull();
                assertThat(ErrorClassifier.isTransient(wrapped(timeout))).as(timeout.getSQLState() + " "
                        + timeout.getMessage()).isTrue();
                assertThat(ErrorClassifier.category(wrapped(timeout), null)).isEqualTo(ErrorCategory.SQL);
            }
            holder.rollback();
        }
    }

    @Test
    void a_deadlock_is_transient() throws Exception {
        TestDatabase db = TestDatabase.POSTGRESQL;
        String url = tableWithTwoRows(db);
        try (Connection first = connect(db, url); Connection second = connect(db, url)) {
            first.setAutoCommit(false);
            second.setAutoCommit(false);
            CyclicBarrier bothHoldOneRow = new CyclicBarrier(2);
            CompletableFuture<SQLException> a = CompletableFuture.supplyAsync(
                    () -> crossUpdate(first, 1, 2, bothHoldOneRow));
            CompletableFuture<SQLException> b = CompletableFuture.supplyAsync(
                    () -> crossUpdate(second, 2, 1, bothHoldOneRow));
            SQLException fromA = a.get(30, TimeUnit.SECONDS);
            SQLException fromB = b.get(30, TimeUnit.SECONDS);
            SQLException deadlock = fromA != null ? fromA : fromB;
            assertThat((Throwable) deadlock).as("the deadlock the database broke").isNotNull();
            assertThat(deadlock.getSQLState()).isEqualTo("40P01");
            assertThat(ErrorClassifier.isTransient(wrapped(deadlock))).isTrue();
            assertThat(ErrorClassifier.category(wrapped(deadlock), null)).isEqualTo(ErrorCategory.SQL);
        }
    }

    /**
     * A statement under way when the server ends its session (a restart, a failover, an administrator) fails with
     * PostgreSQL's 57P01: the next attempt, on a fresh connection, may well go through.
     */
    @Test
    void a_statement_whose_session_the_server_ended_is_transient() throws Exception {
        TestDatabase db = TestDatabase.POSTGRESQL;
        String url = tableWithTwoRows(db);
        try (Connection victim = connect(db, url); Connection admin = connect(db, url)) {
            int pid;
            try (Statement s = victim.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                pid = rs.getInt(1);
            }
            CompletableFuture<SQLException> sleeping = CompletableFuture.supplyAsync(() -> {
                try (Statement s = victim.createStatement()) {
                    s.execute("SELECT pg_sleep(60)");
                    return null;
                } catch (SQLException e) {
                    return e;
                }
            });
            try (Statement s = admin.createStatement()) {
                // the session is ended once its statement runs
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = " + pid
                            + " AND query LIKE '%pg_sleep%' AND state = 'active'")) {
                        rs.next();
                        return rs.getInt(1) == 1;
                    }
                });
                s.execute("SELECT pg_terminate_backend(" + pid + ")");
            }
            SQLException ended = sleeping.get(30, TimeUnit.SECONDS);
            assertThat((Throwable) ended).as("the statement's failure").isNotNull();
            assertThat(ended.getSQLState()).isEqualTo("57P01");
            assertThat(ErrorClassifier.isTransient(wrapped(ended))).as(ended.getMessage()).isTrue();
            assertThat(ErrorClassifier.category(wrapped(ended), null)).isEqualTo(ErrorCategory.SQL);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_statement_the_database_cannot_run_is_not_transient(TestDatabase db) throws Exception {
        String url = tableWithTwoRows(db);
        try (Connection c = connect(db, url); Statement s = c.createStatement()) {
            SQLException bad = catchThrowableOfType(SQLException.class,
                    () -> s.executeQuery("SELECT balance FROM no_such_table"));
            assertThat((Throwable) bad).isNotNull();
            assertThat(ErrorClassifier.isTransient(wrapped(bad))).as(bad.getSQLState()).isFalse();
            assertThat(ErrorClassifier.category(wrapped(bad), null)).isEqualTo(ErrorCategory.SQL);
        }
    }

    /** Locks row {@code mine}, waits until the other connection holds its row, then asks for {@code theirs}. */
    private static SQLException crossUpdate(Connection c, int mine, int theirs, CyclicBarrier bothHoldOneRow) {
        try (Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE account SET balance = balance - 1 WHERE id = " + mine);
            bothHoldOneRow.await(10, TimeUnit.SECONDS);
            s.executeUpdate("UPDATE account SET balance = balance + 1 WHERE id = " + theirs);
            c.commit();
            return null;
        } catch (SQLException e) {
            try {
                c.rollback();
            } catch (SQLException ignored) {
                // the connection is closed by the test
            }
            return e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** As a route sees it: camel-sql and the beans wrap the driver's exception. */
    private static Throwable wrapped(SQLException e) {
        return new RuntimeCamelException("route step failed", e);
    }
}
