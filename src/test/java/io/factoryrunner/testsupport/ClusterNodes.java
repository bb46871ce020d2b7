package io.factoryrunner.testsupport;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Nodes of a cluster: each the factory's command line in a JVM of its own, on a home of its own under one directory,
 * all on one real PostgreSQL database with {@code factory.cluster.enabled = true}. Closing stops every node.
 */
public final class ClusterNodes implements AutoCloseable {

    private final Path dir;
    private final String url;
    private final List<ChildFactory> nodes = new ArrayList<>();

    /** A cluster on a new database (the factory's schema, no rows) under {@code dir}; no node started yet. */
    public ClusterNodes(Path dir) {
        this.dir = dir;
        this.url = TestDatabase.POSTGRESQL.newDatabase(dir);
    }

    /** The database's JDBC URL. */
    public String url() {
        return url;
    }

    /** The database, as the test's own connections reach it. */
    public DataSource dataSource() {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser(TestDatabase.POSTGRESQL.user());
        ds.setPassword(TestDatabase.POSTGRESQL.password());
        return ds;
    }

    /** The database's clock now. */
    public Instant databaseNow() throws Exception {
        return ((Timestamp) Sql.rows(dataSource(), "SELECT CURRENT_TIMESTAMP AS now").get(0).get("now")).toInstant();
    }

    /** The home of node {@code name}. */
    public Path home(String name) {
        return dir.resolve(name);
    }

    /**
     * Starts node {@code name} with the route files {@code routes} (file name to YAML) in its config/routes and
     * {@code properties} in its config/application.properties after the cluster's own settings (see
     * {@link ChildFactory#node}).
     */
    public ChildFactory start(String name, Map<String, String> routes, String properties) throws IOException {
        ChildFactory node = ChildFactory.node(home(name), name, url, routes, properties);
        nodes.add(node);
        return node;
    }

    /** Stops every node (SIGTERM, then after a minute SIGKILL). */
    @Override
    public void close() throws InterruptedException {
        for (ChildFactory node : nodes) {
            node.close();
        }
    }
}
