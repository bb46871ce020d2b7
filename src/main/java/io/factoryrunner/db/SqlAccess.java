package io.factoryrunner.db;

import java.nio.file.Path;
import java.sql.SQLException;
import org.h2.tools.Server;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * H2 lets one process open an embedded database file; an operator's SQL client is a second process. This serves the
 * running factory's embedded database over H2's TCP protocol to this machine only (H2 refuses other hosts unless
 * told otherwise), so {@code jdbc:h2:tcp://localhost:<port>/factory} reaches the live database.
 */
public final class SqlAccess implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SqlAccess.class);

    private final Server server;

    private SqlAccess(Server server) {
        this.server = server;
    }

    /**
     * Serves the databases under {@code dataDir} on {@code port}; empty when the port cannot be taken (another
     * factory on this machine has it), which the log says, without stopping the factory.
     */
    public static SqlAccess serve(Path dataDir, int port) {
        try {
            Server server = Server.createTcpServer("-tcpPort", String.valueOf(port), "-baseDir",
                    dataDir.toAbsolutePath().toString(), "-ifExists").start();
            LOG.info("SQL access to the embedded database for this machine: jdbc:h2:tcp://localhost:{}/factory"
                    + " (user as factory.db.user)", server.getPort());
            return new SqlAccess(server);
        } catch (SQLException e) {
            LOG.warn("No SQL access to the embedded database: port {} (factory.db.h2-tcp-port) cannot be taken: {}",
                    port, e.getMessage());
            return new SqlAccess(null);
        }
    }

    /** The port it listens on, or -1 when it does not. */
    public int port() {
        return server == null ? -1 : server.getPort();
    }

    @Override
    public void close() {
        if (server != null) {
            server.stop();
        }
    }
}
