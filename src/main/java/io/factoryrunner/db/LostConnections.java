package io.factoryrunner.db;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A database restart kills every pooled connection at once, and the pool checks a connection only when it has been
 * idle for a moment (HikariCP: half a second), so the first statements after the restart can meet a dead one. Work
 * that was refused for a lost connection before anything was written is run once more on a fresh connection.
 */
public final class LostConnections {

    private static final Logger LOG = LoggerFactory.getLogger(LostConnections.class);

    /** Work on the database that throws {@link SQLException}. */
    @FunctionalInterface
    public interface Work<T> {
        T run() throws SQLException;
    }

    private LostConnections() {
    }

    /**
     * True when the connection itself is gone: SQLSTATE class 08 (connection exception) or PostgreSQL's 57P01-57P03
     * (the server terminated the session: shutdown, crash, not accepting connections yet).
     */
    public static boolean isLost(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                String state = sql.getSQLState();
                if (state.startsWith("08") || state.equals("57P01") || state.equals("57P02")
                        || state.equals("57P03")) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Runs {@code work}; when it fails on a lost connection, evicts the pool's idle connections (they died with the
     * same server) and runs it once more. Only for work that a failed attempt leaves unwritten: a single statement
     * or one transaction that rolls back.
     */
    public static <T> T retryOnce(DataSource dataSource, Work<T> work) throws SQLException {
        try {
            return work.run();
        } catch (SQLException e) {
            if (!isLost(e)) {
                throw e;
            }
            LOG.info("A pooled database connection was lost ({}); trying once more on a fresh one",
                    e.getSQLState());
            evictIdle(dataSource);
            return work.run();
        }
    }

    /**
     * Whether the pool could hand out {@code count} more connections now without waiting (idle ones, and those it
     * may still open); true for a data source that is not a HikariCP pool.
     */
    public static boolean spare(DataSource dataSource, int count) {
        if (dataSource instanceof HikariDataSource hikari) {
            HikariPoolMXBean pool = hikari.getHikariPoolMXBean();
            if (pool != null) {
                int unopened = hikari.getMaximumPoolSize() - pool.getTotalConnections();
                return pool.getIdleConnections() + Math.max(0, unopened) >= count;
            }
        }
        return true;
    }

    /** Evicts the idle connections and those in use as they come back, so the pool opens fresh ones. */
    public static void evictIdle(DataSource dataSource) {
        if (dataSource instanceof HikariDataSource hikari) {
            HikariPoolMXBean pool = hikari.getHikariPoolMXBean();
            if (pool != null) {
                pool.softEvictConnections();
            }
        }
    }
}
