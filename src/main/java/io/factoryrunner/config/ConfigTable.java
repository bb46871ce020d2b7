package io.factoryrunner.config;

import io.factoryrunner.db.Jdbc;
import java.sql.SQLException;
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

    private static final Jdbc.RowMapper<Entry> ENTRY = rs -> new Entry(rs.getString(1), rs.getString(2),
            rs.getBoolean(3), rs.getString(4), rs.getString(5), Jdbc.instant(rs, 6));

    private final Jdbc jdbc;
    private final Clock clock;

    public ConfigTable(DataSource dataSource, Clock clock) {
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
    }

    public Map<String, Entry> loadAll() throws SQLException {
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Entry e : jdbc.query(SELECT_ALL, ENTRY)) {
            entries.put(e.key(), e);
        }
        return entries;
    }

    /** Sets a key, creating it when absent. A null description keeps the one the key has. */
    public void set(String key, String value, boolean secret, String description, String updatedBy)
            throws SQLException {
        if (key == null || key.isBlank()) {
            throw new IllegalArgumentException("configuration key must not be blank");
        }
        Instant now = clock.instant();
        if (jdbc.update(UPDATE, value, secret, description, updatedBy, now, key) == 0) {
            jdbc.update(INSERT, key, value, secret, description, updatedBy, now);
        }
    }
}
