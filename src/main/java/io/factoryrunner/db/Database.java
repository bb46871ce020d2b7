package io.factoryrunner.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
import io.factoryrunner.StartupException;
import io.factoryrunner.logging.Secrets;
import io.factoryrunner.support.ClasspathFiles;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.output.MigrateResult;
import org.flywaydb.core.api.output.ValidateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The factory's connection pool and schema. */
public final class Database implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Database.class);

    private final DatabaseSettings settings;
    private final HikariDataSource dataSource;

    private Database(DatabaseSettings settings, HikariDataSource dataSource) {
        this.settings = settings;
        this.dataSource = dataSource;
    }

    /**
     * Opens the pool and checks that the database answers; fails within the connect timeout with a message
     * naming the URL (never the password) instead of hanging.
     */
    public static Database open(DatabaseSettings settings) {
        Dialect dialect;
        try {
            dialect = settings.dialect();
        } catch (IllegalArgumentException e) {
            throw new StartupException("Configuration key 'factory.db.url': " + e.getMessage());
        }
        if (dialect == Dialect.POSTGRESQL) {
            Secrets.register(settings.password());
        }
        HikariConfig config = new HikariConfig();
        config.setPoolName("factory");
        config.setJdbcUrl(settings.url());
        config.setUsername(settings.user());
        config.setPassword(settings.password());
        config.setMaximumPoolSize(settings.poolSize());
        config.setConnectionTimeout(settings.connectTimeout().toMillis());
        config.setInitializationFailTimeout(settings.connectTimeout().toMillis());
        if (dialect == Dialect.POSTGRESQL) {
            // a database that accepts the TCP connection but never answers must not hang the start
            String seconds = String.valueOf(Math.max(1, settings.connectTimeout().toSeconds()));
            config.addDataSourceProperty("connectTimeout", seconds);
            config.addDataSourceProperty("loginTimeout", seconds);
            // a batch of inserts travels as one multi-row statement
            config.addDataSourceProperty("reWriteBatchedInserts", "true");
            // the job tables grow from empty to millions of rows between two ANALYZEs: a plan is made for each
            // execution with the sizes of the moment, not kept from when the tables were empty (PostgreSQL 12+)
            config.addDataSourceProperty("options", "-c plan_cache_mode=force_custom_plan");
        }
        try {
            return new Database(settings, new HikariDataSource(config));
        } catch (HikariPool.PoolInitializationException e) {
            throw new StartupException("Cannot connect to database " + Secrets.maskUrl(settings.url()) + " as user '"
                    + settings.user() + "': " + rootMessage(e), e);
        }
    }

    /**
     * Creates or upgrades the schema to the migrations shipped in this jar; refuses, as {@link #migrationRefusal}
     * says, a schema history that does not match them. A restart on a current schema costs one query.
     */
    public void migrate() {
        if (isCurrent()) {
            return;
        }
        refusal().ifPresent(reason -> {
            throw new StartupException(refusalMessage(reason));
        });
        MigrateResult result = flyway().migrate();
        if (result.migrationsExecuted > 0) {
            LOG.info("Database schema migrated to version {} ({} migrations) on {}", result.targetSchemaVersion,
                    result.migrationsExecuted, Secrets.maskUrl(settings.url()));
        }
    }

    /**
     * Why {@link #migrate} would refuse this database, found without changing anything: {@code validate} asks this
     * instead of migrating, and a start asks it first, so both give the same reason in the operator's terms. The
     * reason follows the database's name: "Database ... has a schema history that does not match ...".
     */
    public Optional<String> migrationRefusal() {
        return isCurrent() ? Optional.empty() : refusal();
    }

    private String refusalMessage(String reason) {
        return "Database " + Secrets.maskUrl(settings.url()) + " " + reason;
    }

    private Optional<String> refusal() {
        Flyway flyway = flyway();
        // what migrate checks before it migrates: the applied migrations against this jar's, pending ones aside
        ValidateResult checked = Flyway.configure().configuration(flyway.getConfiguration())
                .ignoreMigrationPatterns("*:pending", "*:future").load().validateWithResult();
        if (!checked.validationSuccessful) {
            return Optional.of("has a schema history that does not match the migrations of this version of the"
                    + " factory: " + checked.getAllErrorMessages());
        }
        return Optional.empty();
    }

    /** DEMO ONLY: creates and seeds the demo customer and output tables, with a schema history of their own. */
    public void migrateDemo() {
        Flyway.configure().dataSource(dataSource).locations("classpath:db/demo").table("flyway_demo_history")
                .baselineOnMigrate(true).baselineVersion("0").load().migrate();
    }

    /** The migrations this jar has that the database has not applied yet. */
    public int pendingMigrations() {
        MigrationInfo[] pending = flyway().info().pending();
        return pending.length;
    }

    /**
     * True when the schema history already holds every migration this jar ships. Loading Flyway and scanning
     * with it costs about 200 ms, paid on every restart; this check is one query. Anything else (a pending,
     * failed or unknown migration, no history table) goes through Flyway.
     */
    boolean isCurrent() {
        ClassLoader loader = Database.class.getClassLoader();
        Set<String> shipped = new TreeSet<>();
        for (String folder : List.of("common", dialect().vendor())) {
            ClasspathFiles.read(loader, "db/migration/" + folder,
                    name -> name.matches("V[0-9_.]+__.*\\.sql")).keySet()
                    .forEach(name -> shipped.add(name.substring(1, name.indexOf("__")).replace('_', '.')));
        }
        Set<String> applied = new TreeSet<>();
        try (var c = dataSource.getConnection();
                var ps = c.prepareStatement(HISTORY);
                var rs = ps.executeQuery()) {
            while (rs.next()) {
                if (!rs.getBoolean(2)) {
                    return false;
                }
                if (!BASELINE.equals(rs.getString(1))) {
                    applied.add(rs.getString(1));
                }
            }
        } catch (SQLException noHistoryYet) {
            return false;
        }
        return !shipped.isEmpty() && applied.equals(shipped);
    }

    private static final String BASELINE = "0";

    private static final String HISTORY = """
            SELECT "version", "success" FROM "flyway_schema_history" WHERE "version" IS NOT NULL""";

    /**
     * A customer's tables may be in the database before the factory's first start: Flyway then records a baseline
     * (version 0) under them instead of refusing a schema that is not empty, and creates the factory's tables beside
     * them.
     */
    private Flyway flyway() {
        return Flyway.configure()
                .dataSource(dataSource)
                .locations("classpath:db/migration/common", "classpath:db/migration/" + dialect().vendor())
                .failOnMissingLocations(false)
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .load();
    }

    public DataSource dataSource() {
        return dataSource;
    }

    public Dialect dialect() {
        return settings.dialect();
    }

    public DatabaseSettings settings() {
        return settings;
    }

    /** True when the database answers a trivial query within a second. */
    public boolean isReachable() {
        try (var connection = dataSource.getConnection()) {
            return connection.isValid(1);
        } catch (SQLException e) {
            return false;
        }
    }

    @Override
    public void close() {
        dataSource.close();
    }

    static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
        return Secrets.mask(message);
    }
}
