package io.factoryrunner.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class JdbcTest {

    Jdbc jdbc;

    @BeforeEach
    void table() throws SQLException {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL("jdbc:h2:mem:jdbc-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1");
        jdbc = Jdbc.of(ds);
        jdbc.update("CREATE TABLE t (k VARCHAR(10) PRIMARY KEY, at TIMESTAMP WITH TIME ZONE, n INT)");
    }

    @Test
    void a_transaction_that_throws_leaves_nothing_written() throws SQLException {
        assertThatThrownBy(() -> jdbc.inTransaction(tx -> {
            tx.update("INSERT INTO t (k, n) VALUES (?, ?)", "a", 1);
            return tx.update("INSERT INTO t (k, n) VALUES (?, ?)", "a", 2);
        })).isInstanceOf(SQLException.class).hasMessageContaining("primary key");

        assertThat(count()).isZero();
    }

    @Test
    void a_transaction_that_returns_commits_its_writes_and_its_batches() throws SQLException {
        Instant at = Instant.parse("2026-01-02T03:04:05Z");
        int[] counts = jdbc.inTransaction(tx -> tx.batch("INSERT INTO t (k, at, n) VALUES (?, ?, ?)",
                List.of(new Object[] {"a", at, 1}, new Object[] {"b", null, null})));

        assertThat(counts).containsExactly(1, 1);
        assertThat(jdbc.query("SELECT k, at FROM t ORDER BY k", rs -> rs.getString(1) + "@" + Jdbc.instant(rs, 2)))
                .containsExactly("a@" + at, "b@null");
        assertThat(jdbc.queryFirst("SELECT n FROM t WHERE k = ?", rs -> rs.getInt(1), "zz")).isEmpty();
    }

    private int count() throws SQLException {
        return jdbc.queryFirst("SELECT COUNT(*) FROM t", rs -> rs.getInt(1)).orElseThrow();
    }
}
