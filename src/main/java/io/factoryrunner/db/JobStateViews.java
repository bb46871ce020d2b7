package io.factoryrunner.db;

import io.factoryrunner.logging.Secrets;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A view per declared job named as the factory template names its state tables ({@code build_state},
 * {@code check_state}, generally {@code <job>_state}): that job's rows of {@code job_state}, the items it has taken
 * and what it made of them. Items waiting for a job are not in its view: like the template's, a state table holds
 * what its job produced, and what waits for a job is what its upstream produced.
 * <p>
 * The views are the factory's when their comment says so: a view of the factory whose job no route declares any
 * more is dropped; a table or view of someone else's that has the name is left alone, and that job gets no view.
 * A job whose name is not a plain identifier ({@code [a-z][a-z0-9_]*}) gets no view either.
 */
public final class JobStateViews {

    private static final Logger LOG = LoggerFactory.getLogger(JobStateViews.class);

    /** Lower-case letters, digits and underscores, and room for {@code _state} in PostgreSQL's 63 characters. */
    private static final Pattern PLAIN_NAME = Pattern.compile("[a-z][a-z0-9_]{0,56}");
    private static final String SUFFIX = "_state";
    private static final String MARK = "Factory Runner: job_state rows of job ";

    /**
     * The job's name is checked against {@link #PLAIN_NAME} before it goes into the statement, as the view's name
     * and as a literal: neither can be a bind parameter.
     */
    private static final String CREATE = """
            CREATE OR REPLACE VIEW {view} AS
            SELECT item_key, item_version, status, data, attempts, run_id, error_message, created_at, updated_at
              FROM job_state
             WHERE job = '{job}'""";

    private static final String COMMENT = "COMMENT ON VIEW {view} IS '" + MARK + "{job}'";

    private static final String DROP = "DROP VIEW IF EXISTS {view}";

    private JobStateViews() {
    }

    /** The view a job gets, when its name is a plain identifier. */
    public static Optional<String> viewOf(String job) {
        return PLAIN_NAME.matcher(job).matches() ? Optional.of(job + SUFFIX) : Optional.empty();
    }

    /**
     * Creates or replaces the view of every job given and drops the factory's views of jobs not given. A view that
     * cannot be written (the factory's database user may not create views) is logged and skipped: the views are a
     * window on {@code job_state}, which the jobs need and the views do not.
     */
    public static void refresh(DataSource dataSource, Collection<String> jobs) {
        try (Connection c = dataSource.getConnection()) {
            Map<String, String> ours = ours(c);
            for (String job : jobs) {
                Optional<String> view = viewOf(job);
                if (view.isEmpty()) {
                    LOG.info("Job '{}' gets no {} view: its name is not a plain SQL name ([a-z][a-z0-9_]*)", job,
                            "<job>" + SUFFIX);
                    continue;
                }
                if (!ours.containsKey(view.get()) && exists(c, view.get())) {
                    LOG.warn("Job '{}' gets no view {}: a table or view of that name that the factory did not make"
                            + " is in the database", job, view.get());
                    continue;
                }
                try {
                    execute(c, CREATE, view.get(), job);
                    execute(c, COMMENT, view.get(), job);
                } catch (SQLException e) {
                    LOG.warn("Cannot write view {} of job '{}': {}", view.get(), job, Secrets.mask(e.getMessage()));
                }
            }
            for (Map.Entry<String, String> e : ours.entrySet()) {
                if (!jobs.contains(e.getValue())) {
                    execute(c, DROP, e.getKey(), e.getValue());
                    LOG.info("Dropped view {}: no route declares job '{}' any more", e.getKey(), e.getValue());
                }
            }
        } catch (SQLException e) {
            LOG.warn("Cannot write the <job>_state views: {}", Secrets.mask(e.getMessage()));
        }
    }

    /**
     * Drops the factory's views when the schema is about to be migrated, so that a migration may change the columns
     * they select (PostgreSQL refuses to while a view uses them); {@link #refresh} makes them again.
     */
    public static void dropBeforeMigrating(Database db) {
        if (!db.isCurrent()) {
            dropAll(db.dataSource());
        }
    }

    private static void dropAll(DataSource dataSource) {
        try (Connection c = dataSource.getConnection()) {
            for (Map.Entry<String, String> e : ours(c).entrySet()) {
                execute(c, DROP, e.getKey(), e.getValue());
            }
        } catch (SQLException e) {
            LOG.warn("Cannot drop the <job>_state views: {}", Secrets.mask(e.getMessage()));
        }
    }

    /** The factory's views in the connection's schema: view name (lower case) to job. */
    private static Map<String, String> ours(Connection c) throws SQLException {
        Map<String, String> views = new TreeMap<>();
        DatabaseMetaData meta = c.getMetaData();
        try (ResultSet rs = meta.getTables(c.getCatalog(), c.getSchema(), "%", new String[] {"VIEW"})) {
            while (rs.next()) {
                String remarks = rs.getString("REMARKS");
                String name = rs.getString("TABLE_NAME").toLowerCase(Locale.ROOT);
                if (remarks != null && remarks.startsWith(MARK)) {
                    String job = remarks.substring(MARK.length());
                    if (viewOf(job).filter(name::equals).isPresent()) {
                        views.put(name, job);
                    }
                }
            }
        }
        return views;
    }

    private static boolean exists(Connection c, String name) throws SQLException {
        DatabaseMetaData meta = c.getMetaData();
        String stored = meta.storesUpperCaseIdentifiers() ? name.toUpperCase(Locale.ROOT) : name;
        List<String> found = new ArrayList<>();
        String pattern = stored.replace("_", meta.getSearchStringEscape() + "_");
        try (ResultSet rs = meta.getTables(c.getCatalog(), c.getSchema(), pattern, null)) {
            while (rs.next()) {
                found.add(rs.getString("TABLE_NAME"));
            }
        }
        return found.stream().anyMatch(stored::equals);
    }

    private static void execute(Connection c, String template, String view, String job) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(template.replace("{view}", view).replace("{job}", job));
        }
    }
}
