package io.factoryrunner.cluster;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.logging.Secrets;
import io.factoryrunner.support.PeriodicService;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes this node's sign of life to {@code factory_node} every {@code factory.node.heartbeat}, stamped by the
 * database's clock (the nodes' own clocks may disagree), so that a run held by a node that died can be told apart
 * from one that is only long.
 */
public final class NodeHeartbeat extends PeriodicService {

    private static final Logger LOG = LoggerFactory.getLogger(NodeHeartbeat.class);

    private static final String SEEN = """
            UPDATE factory_node SET last_seen_at = CURRENT_TIMESTAMP WHERE node = ?""";

    private static final String FIRST_SEEN = """
            INSERT INTO factory_node (node, started_at, last_seen_at) VALUES (?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)""";

    private final Jdbc jdbc;
    private final String node;

    public NodeHeartbeat(CamelContext context, DataSource dataSource, String node, Duration interval) {
        super(context, "node-heartbeat", interval);
        this.jdbc = Jdbc.of(dataSource);
        this.node = node;
    }

    @Override
    protected void doStart() {
        runOnce();
        super.doStart();
    }

    @Override
    protected void runOnce() {
        try {
            beat();
        } catch (SQLException e) {
            LOG.warn("Cannot write node {}'s heartbeat: {}", node, Secrets.mask(e.getMessage()));
        }
    }

    /** Records that this node is alive now. */
    public void beat() throws SQLException {
        if (jdbc.update(SEEN, node) != 1) {
            jdbc.update(FIRST_SEEN, node);
        }
    }
}
