package io.factoryrunner.cluster;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.logging.Secrets;
import io.factoryrunner.support.PeriodicService;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import javax.sql.DataSource;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes this node's sign of life to {@code factory_node} every {@code factory.node.heartbeat}, stamped by the
 * database's clock (the nodes' own clocks may disagree), so that a run held by a node that died can be told apart
 * from one that is only long. At its start a node also writes when it started and the factory's version it runs; at
 * each beat, how far its own clock is from the database's, which Quartz's clustering needs within about a second.
 */
public final class NodeHeartbeat extends PeriodicService {

    private static final Logger LOG = LoggerFactory.getLogger(NodeHeartbeat.class);

    /** Beyond this, the nodes of a cluster may disagree on which fires are due: said once in the log. */
    static final Duration CLOCK_TOLERANCE = Duration.ofSeconds(1);

    private static final String STARTED = """
            UPDATE factory_node
               SET started_at = CURRENT_TIMESTAMP, last_seen_at = CURRENT_TIMESTAMP, version = ?, clock_offset_ms = ?
             WHERE node = ?""";

    private static final String FIRST_STARTED = """
            INSERT INTO factory_node (node, started_at, last_seen_at, version, clock_offset_ms)
            VALUES (?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, ?, ?)""";

    private static final String SEEN = """
            UPDATE factory_node SET last_seen_at = CURRENT_TIMESTAMP, clock_offset_ms = ? WHERE node = ?""";

    private static final String NOW = "SELECT CURRENT_TIMESTAMP";

    private final Jdbc jdbc;
    private final String node;
    private final String version;
    private final DatabaseSight sight;
    private boolean clockOff;

    public NodeHeartbeat(CamelContext context, DataSource dataSource, String node, String version,
            Duration interval, DatabaseSight sight) {
        super(context, "node-heartbeat", interval);
        this.jdbc = Jdbc.of(dataSource);
        this.node = node;
        this.version = version;
        this.sight = sight;
    }

    @Override
    protected void doStart() {
        try {
            started();
        } catch (SQLException e) {
            LOG.warn("Cannot write node {}'s start: {}", node, Secrets.mask(e.getMessage()));
        }
        super.doStart();
    }

    @Override
    protected void runOnce() {
        try {
            beat();
            sight.seen();
        } catch (SQLException e) {
            sight.lost();
            LOG.warn("Cannot write node {}'s heartbeat: {}", node, Secrets.mask(e.getMessage()));
        }
    }

    /** Records that this node started now, with the version it runs. */
    public void started() throws SQLException {
        long offset = clockOffset().toMillis();
        if (jdbc.update(STARTED, version, offset, node) != 1) {
            jdbc.update(FIRST_STARTED, node, version, offset);
        }
    }

    /** Records that this node is alive now. */
    public void beat() throws SQLException {
        long offset = clockOffset().toMillis();
        if (jdbc.update(SEEN, offset, node) != 1) {
            started();
        }
    }

    /**
     * This node's clock minus the database's, the round trip's half taken into account; a difference beyond the
     * tolerance is logged when it appears and when it is gone.
     */
    private Duration clockOffset() throws SQLException {
        long before = System.currentTimeMillis();
        // read with its offset: a plain timestamp would be read in this JVM's time zone
        Instant database = jdbc.queryFirst(NOW, rs -> rs.getObject(1, OffsetDateTime.class).toInstant()).orElseThrow();
        long after = System.currentTimeMillis();
        Duration offset = Duration.ofMillis((before + after) / 2 - database.toEpochMilli());
        boolean off = offset.abs().compareTo(CLOCK_TOLERANCE) > 0;
        if (off && !clockOff) {
            LOG.warn("Node {}'s clock is {} ms {} the database's: the nodes of a cluster must keep their clocks"
                    + " within a second of each other (run NTP on every machine), or they disagree on which fires"
                    + " are due", node, offset.abs().toMillis(), offset.isNegative() ? "behind" : "ahead of");
        } else if (!off && clockOff) {
            LOG.info("Node {}'s clock is within a second of the database's again", node);
        }
        clockOff = off;
        return offset;
    }
}
