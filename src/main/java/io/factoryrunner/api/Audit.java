package io.factoryrunner.api;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Clock;
import javax.sql.DataSource;

/** The audit table: one row per action taken through the operator API. */
public final class Audit {

    private final Jdbc jdbc;
    private final Clock clock;

    public Audit(DataSource dataSource, Clock clock) {
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
    }

    public void record(String actor, String action, String target, String note, String outcome) throws SQLException {
        jdbc.update("INSERT INTO factory_audit (at, actor, action, target, note, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                clock.instant(), actor, action, cut(target, 500), cut(Secrets.mask(note), 2000),
                cut(Secrets.mask(outcome), 2000));
    }

    private static String cut(String text, int max) {
        return text == null || text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }
}
