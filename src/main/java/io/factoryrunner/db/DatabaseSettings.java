package io.factoryrunner.db;

import java.nio.file.Path;
import java.time.Duration;

/** Where the factory's database is and how to reach it; read from configuration before anything else starts. */
public record DatabaseSettings(String url, String user, String password, int poolSize, Duration connectTimeout) {

    /** The embedded default: an H2 file database under the data directory. */
    public static String embeddedUrl(Path dataDir) {
        // WRITE_DELAY=0: H2 otherwise loses recently committed transactions when the process is killed
        return "jdbc:h2:file:" + dataDir.toAbsolutePath().normalize().resolve("factory") + ";WRITE_DELAY=0";
    }

    public Dialect dialect() {
        return Dialect.fromUrl(url);
    }

    /**
     * True when no other process can have this database open: an embedded H2 file or memory database, which H2
     * locks for the process that opened it (not a server URL, not {@code AUTO_SERVER=TRUE}).
     */
    public boolean isExclusive() {
        String lower = url.toLowerCase(java.util.Locale.ROOT);
        return dialect() == Dialect.H2 && !lower.startsWith("jdbc:h2:tcp:") && !lower.startsWith("jdbc:h2:ssl:")
                && !lower.replace(" ", "").contains(";auto_server=true");
    }

    @Override
    public String toString() {
        return "DatabaseSettings[url=" + io.factoryrunner.logging.Secrets.maskUrl(url) + ", user=" + user + "]";
    }
}
