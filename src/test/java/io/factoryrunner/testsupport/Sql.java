package io.factoryrunner.testsupport;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.sql.DataSource;

/** What tests read from and write to the factory's tables. */
public final class Sql {

    private Sql() {
    }

    /** Every row of a query with {@code ?} parameters, column labels in lower case. */
    public static List<Map<String, Object>> rows(DataSource ds, String sql, Object... params) throws Exception {
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Connection c = ds.getConnection(); PreparedStatement ps = prepare(c, sql, params);
                ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Map<String, Object> row = new LinkedHashMap<>();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    row.put(rs.getMetaData().getColumnLabel(i).toLowerCase(Locale.ROOT), rs.getObject(i));
                }
                rows.add(row);
            }
        }
        return rows;
    }

    /** The first column of every row, as text. */
    public static List<String> column(DataSource ds, String sql, Object... params) throws Exception {
        return rows(ds, sql, params).stream().map(r -> (String) r.values().iterator().next()).toList();
    }

    /** The first column of the first row, as a number (a COUNT). */
    public static long count(DataSource ds, String sql, Object... params) throws Exception {
        try (Connection c = ds.getConnection(); PreparedStatement ps = prepare(c, sql, params);
                ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** As {@link #count(DataSource, String)}, on a connection the test holds. */
    public static int count(Connection c, String sql) throws Exception {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Runs a statement with {@code ?} parameters; the number of rows it changed. */
    public static int execute(DataSource ds, String sql, Object... params) throws Exception {
        try (Connection c = ds.getConnection(); PreparedStatement ps = prepare(c, sql, params)) {
            ps.execute();
            return ps.getUpdateCount();
        }
    }

    private static PreparedStatement prepare(Connection c, String sql, Object... params) throws Exception {
        PreparedStatement ps = c.prepareStatement(sql);
        try {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
        } catch (Exception e) {
            ps.close();
            throw e;
        }
        return ps;
    }
}
