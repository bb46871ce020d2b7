package io.factoryrunner.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The factory's one way to run SQL: statements with positional parameters, row mappers, batches, and transactions
 * that commit or roll back in one place. Spring's {@code JdbcTemplate} would do the same but translates every
 * {@link SQLException} into its own exception tree, and the factory decides on the SQLSTATE (a lost connection is
 * retried, a constraint violation is an item's error, an outage pauses a run) all the way up to the routes, where
 * camel-sql's own errors arrive as {@code SQLException} too. This class keeps {@code SQLException} as it is.
 *
 * <p>A {@code Jdbc} made by {@link #of(DataSource)} takes a pooled connection per call; the one handed to an
 * {@link #inTransaction} block runs every call on that block's connection.
 */
public final class Jdbc {

    /** Maps the current row of a result set. */
    @FunctionalInterface
    public interface RowMapper<T> {
        T map(ResultSet rs) throws SQLException;
    }

    /** Work done in one transaction, through the {@code Jdbc} it is given. */
    @FunctionalInterface
    public interface Transaction<T> {
        T run(Jdbc tx) throws SQLException;
    }

    /** Work on a connection, for what the other methods do not cover (a PostgreSQL-only API, a cursor). */
    @FunctionalInterface
    public interface ConnectionWork<T> {
        T run(Connection c) throws SQLException;
    }

    /** Binds the parameters of a statement by hand, for the rare statement whose types need saying. */
    @FunctionalInterface
    public interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    private final DataSource dataSource;
    private final Connection connection;

    private Jdbc(DataSource dataSource, Connection connection) {
        this.dataSource = dataSource;
        this.connection = connection;
    }

    public static Jdbc of(DataSource dataSource) {
        return new Jdbc(dataSource, null);
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** Runs an INSERT, UPDATE, DELETE or MERGE; returns the rows it touched. */
    public int update(String sql, Object... args) throws SQLException {
        return withConnection(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                bind(ps, args);
                return ps.executeUpdate();
            }
        });
    }

    /** Runs an INSERT of one row; returns the key the database generated for it. */
    public long insertReturningKey(String sql, Object... args) throws SQLException {
        return withConnection(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql, Statement.RETURN_GENERATED_KEYS)) {
                bind(ps, args);
                ps.executeUpdate();
                try (ResultSet keys = ps.getGeneratedKeys()) {
                    if (!keys.next()) {
                        throw new SQLException("The insert returned no generated key: " + sql);
                    }
                    return keys.getLong(1);
                }
            }
        });
    }

    /** Runs a statement whose parameters {@code binder} sets. */
    public int update(String sql, Binder binder) throws SQLException {
        return withConnection(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                binder.bind(ps);
                return ps.executeUpdate();
            }
        });
    }

    /** Runs one statement for each parameter row, as one JDBC batch; returns the rows each touched. */
    public int[] batch(String sql, List<Object[]> rows) throws SQLException {
        if (rows.isEmpty()) {
            return new int[0];
        }
        return withConnection(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (Object[] row : rows) {
                    bind(ps, row);
                    ps.addBatch();
                }
                return ps.executeBatch();
            }
        });
    }

    public <T> List<T> query(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
        return withConnection(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                bind(ps, args);
                try (ResultSet rs = ps.executeQuery()) {
                    List<T> rows = new ArrayList<>();
                    while (rs.next()) {
                        rows.add(mapper.map(rs));
                    }
                    return rows;
                }
            }
        });
    }

    /** The first row, if any. */
    public <T> Optional<T> queryFirst(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
        return withConnection(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                bind(ps, args);
                ps.setMaxRows(1);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.ofNullable(mapper.map(rs)) : Optional.empty();
                }
            }
        });
    }

    /**
     * Runs {@code work} in one transaction: it commits when the work returns and rolls back when it throws. Inside
     * a transaction already, the work joins it.
     */
    public <T> T inTransaction(Transaction<T> work) throws SQLException {
        if (connection != null) {
            return work.run(this);
        }
        try (Connection c = dataSource.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            try {
                T answer = work.run(new Jdbc(dataSource, c));
                c.commit();
                return answer;
            } catch (SQLException | RuntimeException | Error e) {
                rollbackQuietly(c, e);
                throw e;
            } finally {
                c.setAutoCommit(autoCommit);
            }
        }
    }

    /** Runs {@code work} on this transaction's connection, or on a pooled one returned at once. */
    public <T> T withConnection(ConnectionWork<T> work) throws SQLException {
        if (connection != null) {
            return work.run(connection);
        }
        try (Connection c = dataSource.getConnection()) {
            return work.run(c);
        }
    }

    private static void rollbackQuietly(Connection c, Throwable cause) {
        try {
            c.rollback();
        } catch (SQLException e) {
            cause.addSuppressed(e);
        }
    }

    /**
     * Sets the parameters in order: an {@link Instant} as a timestamp, an enum by its name, null as SQL NULL of no
     * stated type (PostgreSQL infers it from the column).
     */
    public static void bind(PreparedStatement ps, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            Object arg = args[i];
            if (arg == null) {
                ps.setNull(i + 1, Types.NULL);
            } else if (arg instanceof Instant instant) {
                ps.setTimestamp(i + 1, Timestamp.from(instant));
            } else if (arg instanceof Enum<?> e) {
                ps.setString(i + 1, e.name());
            } else {
                ps.setObject(i + 1, arg);
            }
        }
    }

    /** A nullable timestamp column as an {@link Instant}. */
    public static Instant instant(ResultSet rs, int column) throws SQLException {
        Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }

    /** A nullable timestamp column as an {@link Instant}. */
    public static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }
}
