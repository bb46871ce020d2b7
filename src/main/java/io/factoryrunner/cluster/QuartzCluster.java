package io.factoryrunner.cluster;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Properties;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.camel.component.quartz.QuartzComponent;
import org.quartz.impl.jdbcjobstore.JobStoreTX;
import org.quartz.impl.jdbcjobstore.PostgreSQLDelegate;
import org.quartz.simpl.SimpleThreadPool;
import org.quartz.utils.ConnectionProvider;
import org.quartz.utils.DBConnectionManager;

/**
 * Puts camel-quartz on Quartz's clustered JDBC job store ({@code factory.cluster.enabled = true}): every node of the
 * cluster stores its triggers in the {@code QRTZ_} tables of the factory's PostgreSQL database, and each fire is
 * taken by one node, under the row lock of {@code QRTZ_LOCKS}. Quartz reaches the database through the factory's own
 * pool. Nodes name the same scheduler ({@value #SCHEDULER}), whatever their Camel context is called, so that a node
 * configured apart can never make a cluster of its own on the same tables and fire every trigger a second time.
 */
public final class QuartzCluster {

    /** {@code SCHED_NAME} of every row: one cluster per database. */
    public static final String SCHEDULER = "factory-runner";

    private QuartzCluster() {
    }

    /**
     * Configures the component before its scheduler is made. {@code node} is Quartz's instance id, so that
     * {@code QRTZ_SCHEDULER_STATE} and {@code QRTZ_FIRED_TRIGGERS} name the node as {@code job_run} does.
     */
    public static void configure(QuartzComponent quartz, DataSource dataSource, String node, Duration checkinInterval,
            int threads) {
        // Quartz looks its connections up by name in a registry of the JVM; a name of its own per factory
        String connections = "factory-" + UUID.randomUUID();
        DBConnectionManager.getInstance().addConnectionProvider(connections, new FactoryConnections(dataSource));
        quartz.setPrefixInstanceName(false);
        quartz.setProperties(properties(node, connections, checkinInterval, threads));
    }

    /** The Quartz properties of a clustered node, as Quartz's configuration reference names them. */
    static Properties properties(String node, String connections, Duration checkinInterval, int threads) {
        Properties p = new Properties();
        p.setProperty("org.quartz.scheduler.instanceName", SCHEDULER);
        p.setProperty("org.quartz.scheduler.instanceId", node);
        p.setProperty("org.quartz.scheduler.jmx.export", "false");
        p.setProperty("org.quartz.threadPool.class", SimpleThreadPool.class.getName());
        p.setProperty("org.quartz.threadPool.threadCount", String.valueOf(threads));
        p.setProperty("org.quartz.jobStore.class", JobStoreTX.class.getName());
        p.setProperty("org.quartz.jobStore.driverDelegateClass", PostgreSQLDelegate.class.getName());
        p.setProperty("org.quartz.jobStore.dataSource", connections);
        p.setProperty("org.quartz.jobStore.tablePrefix", "QRTZ_");
        p.setProperty("org.quartz.jobStore.isClustered", "true");
        // without it two nodes can acquire the same trigger between their reads (Quartz documents the setting for
        // clusters; it is off by default)
        p.setProperty("org.quartz.jobStore.acquireTriggersWithinLock", "true");
        // how often a node checks in; a node silent for longer than this (plus a grace Quartz adds) is taken as
        // dead, and the fires it had taken are recovered by another node
        p.setProperty("org.quartz.jobStore.clusterCheckinInterval", String.valueOf(checkinInterval.toMillis()));
        // a fire later than this is a misfire and follows the trigger's misfire instruction (Quartz's default)
        p.setProperty("org.quartz.jobStore.misfireThreshold", "60000");
        return p;
    }

    /** Quartz's connections come from the factory's pool; the factory closes the pool, not Quartz. */
    private record FactoryConnections(DataSource dataSource) implements ConnectionProvider {

        @Override
        public Connection getConnection() throws SQLException {
            return dataSource.getConnection();
        }

        @Override
        public void shutdown() {
            // the pool outlives the scheduler: the factory closes it after Camel has stopped
        }

        @Override
        public void initialize() {
            // the pool is open before Quartz starts
        }
    }
}
