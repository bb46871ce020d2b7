package io.factoryrunner.db;

import io.factoryrunner.logging.Secrets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

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
        String lower = url.toLowerCase(Locale.ROOT);
        return dialect() == Dialect.H2 && !lower.startsWith("jdbc:h2:tcp:") && !lower.startsWith("jdbc:h2:ssl:")
                && !lower.replace(" ", "").contains(";auto_server=true");
    }

    /**
     * The file of an H2 database this URL opens from the local disk ({@code jdbc:h2:file:...} or
     * {@code jdbc:h2:<path>}); empty for in-memory and server URLs and for PostgreSQL.
     */
    public Optional<Path> h2File() {
        if (dialect() != Dialect.H2) {
            return Optional.empty();
        }
        String rest = url.substring("jdbc:h2:".length());
        String path = rest.contains(";") ? rest.substring(0, rest.indexOf(';')) : rest;
        if (path.startsWith("file:")) {
            path = path.substring("file:".length());
        } else if (OTHER_H2_STORE.matcher(path).find()) {
            return Optional.empty();
        }
        if (path.startsWith("~")) {
            path = System.getProperty("user.home") + path.substring(1);
        }
        return Optional.of(Path.of(path + ".mv.db").toAbsolutePath().normalize());
    }

    /** mem:, tcp:, ssl:, zip:, nio: and the like; a Windows drive letter (C:) is a path. */
    private static final Pattern OTHER_H2_STORE = Pattern.compile("^[A-Za-z]{2,}:");

    /**
     * The same database opened so that nothing can be written to it: an embedded H2 file read-only, without its trace
     * file. Other URLs are returned as they are.
     */
    public DatabaseSettings readOnly() {
        if (h2File().isEmpty() || !isExclusive()) {
            return this;
        }
        String options = url.replaceAll("(?i);\\s*(ACCESS_MODE_DATA|TRACE_LEVEL_FILE)\\s*=[^;]*", "");
        return new DatabaseSettings(options + ";ACCESS_MODE_DATA=r;TRACE_LEVEL_FILE=0", user, password, poolSize,
                connectTimeout);
    }

    /** An empty H2 database in memory, with these pool settings: it stands in for a database not created yet. */
    public DatabaseSettings emptyInMemory() {
        return new DatabaseSettings("jdbc:h2:mem:stand-in-" + UUID.randomUUID(), "sa", "", poolSize, connectTimeout);
    }

    @Override
    public String toString() {
        return "DatabaseSettings[url=" + Secrets.maskUrl(url) + ", user=" + user + "]";
    }
}
