package io.factoryrunner.config;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.sql.DataSource;

/** The {@code factory_config} table: one row per configuration key, with who changed it and when. */
public final class ConfigTable {

    /** One row of the table. */
    public record Entry(String key, String value, boolean secret, String description, String updatedBy,
            Instant updatedAt) {
    }

    private static final String SELECT_ALL = """
            SELECT config_key, config_value, secret, description, updated_by, updated_at
              FROM factory_config
             ORDER BY config_key""";

    private static final String UPDATE = """
            UPDATE factory_config
               SET config_value = ?, secret = ?, description = COALESCE(?, description), updated_by = ?, updated_at = ?
             WHERE config_key = ?""";

    private static final String INSERT = """
            INSERT INTO factory_config (config_key, config_value, secret, description, updated_by, updated_at)
            VALUES (?, ?, ?, ?, ?, ?)""";

    private final DataSource dataSource;
    private final Clock clock;

    public ConfigTable(DataSource dataSource, Clock clock) {
        this.dataSource = dataSource;
        this.clock = clock;
    }

    public Map<String, Entry> loadAll() throws SQLException {
        Map<String, Entry> entries = new LinkedHashMap<>();
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement(SELECT_ALL);
                ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Entry e = new Entry(rs.getString(1), rs.getString(2), rs.getBoolean(3), rs.getString(4),
                        rs.getString(5), rs.getTimestamp(6).toInstant());
                entries.put(e.key(), e);
            }
        }
        return entries;
    }

    /** Sets a key, creating it when absent. A null description keeps the one the key has. */
    public void set(String key, String value, boolean secret, String description, String updatedBy)
            throws SQLException {
        if (key == null || key.isBlank()) {
            throw new IllegalArgumentException("configuration key must not be blank");
        }
        Timestamp now = Timestamp.from(clock.instant());
        try (Connection c = dataSource.getConnection()) {
            int updated;
            try (PreparedStatement ps = c.prepareStatement(UPDATE)) {
                ps.setString(1, value);
                ps.setBoolean(2, secret);
                ps.setString(3, description);
                ps.setString(4, updatedBy);
                ps.setTimestamp(5, now);
                ps.setString(6, key);
                updated = ps.executeUpdate();
            }
            if (updated == 0) {
                try (PreparedStatement ps = c.prepareStatement(INSERT)) {
                    ps.setString(1, key);
                    ps.setString(2, value);
                    ps.setBoolean(3, secret);
                    ps.setString(4, description);
                    ps.setString(5, updatedBy);
                    ps.setTimestamp(6, now);
                    ps.executeUpdate();
                }
            }
        }
    }
}
