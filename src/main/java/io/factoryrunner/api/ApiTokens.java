package io.factoryrunner.api;

import io.factoryrunner.db.Jdbc;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator API's bearer tokens: random, shown once, stored as their SHA-256. A token has a role; each role may do
 * what the one below it may.
 */
public final class ApiTokens {

    private static final Logger LOG = LoggerFactory.getLogger(ApiTokens.class);

    /** What a token may do: {@code viewer} reads, {@code operator} acts on jobs, items and errors, {@code admin} also
     * changes the configuration and the tokens. */
    public enum Role {
        VIEWER, OPERATOR, ADMIN;

        public String db() {
            return name().toLowerCase(Locale.ROOT);
        }

        public boolean allows(Role needed) {
            return compareTo(needed) >= 0;
        }

        public static Role parse(String text) {
            for (Role r : values()) {
                if (r.db().equalsIgnoreCase(text == null ? "" : text.trim())) {
                    return r;
                }
            }
            throw new IllegalArgumentException("Unknown role '" + text + "'; roles: viewer, operator, admin");
        }
    }

    /** Who called, as the token's row says. */
    public record Caller(String name, Role role) {
    }

    /** A token's row, never its secret. */
    public record Token(String name, Role role, Instant createdAt, String createdBy, Instant lastUsedAt,
            Instant revokedAt) {
    }

    private static final Jdbc.RowMapper<Token> TOKEN = rs -> new Token(rs.getString("name"),
            Role.parse(rs.getString("role")), Jdbc.instant(rs, "created_at"), rs.getString("created_by"),
            Jdbc.instant(rs, "last_used_at"), Jdbc.instant(rs, "revoked_at"));

    private static final String SELECT = """
            SELECT name, role, created_at, created_by, last_used_at, revoked_at FROM api_token""";

    private final Jdbc jdbc;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();
    /**
     * Tokens found valid, for {@link #VERIFIED_FOR}: a busy client costs one lookup per interval, not one per call. A
     * token revoked here is dropped at once; one revoked through another node is refused here within the interval.
     */
    private final Map<String, Verified> verified = new ConcurrentHashMap<>();
    private static final Duration VERIFIED_FOR = Duration.ofSeconds(10);

    private record Verified(Caller caller, Instant at) {
    }

    /** The day each token was last recorded as used: a busy client costs one write a day, not one per call. */
    private final Map<String, String> lastUseRecorded = new ConcurrentHashMap<>();

    public ApiTokens(DataSource dataSource, Clock clock) {
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
    }

    /** Creates a token; returns its secret, which is shown once and never stored. */
    public String create(String name, Role role, String createdBy) throws SQLException {
        if (name == null || !name.matches("[A-Za-z0-9._@-]{1,100}")) {
            throw new IllegalArgumentException("A token name is 1 to 100 letters, digits, '.', '_', '@' or '-'; got '"
                    + name + "'");
        }
        if (jdbc.queryFirst("SELECT 1 FROM api_token WHERE name = ?", rs -> true, name).isPresent()) {
            throw new IllegalStateException("A token named '" + name + "' exists already");
        }
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        String secret = "fr_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        jdbc.update("INSERT INTO api_token (name, role, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                name, role.db(), hash(secret), clock.instant(), createdBy);
        return secret;
    }

    /** The caller a presented token stands for, if it is known and not revoked. */
    public Optional<Caller> verify(String secret) throws SQLException {
        if (secret == null || secret.isBlank()) {
            return Optional.empty();
        }
        String hash = hash(secret.trim());
        Instant now = clock.instant();
        Verified known = verified.get(hash);
        if (known != null && known.at().plus(VERIFIED_FOR).isAfter(now)) {
            return Optional.of(known.caller());
        }
        Optional<Caller> caller = jdbc.queryFirst(
                "SELECT name, role FROM api_token WHERE token_hash = ? AND revoked_at IS NULL",
                rs -> new Caller(rs.getString(1), Role.parse(rs.getString(2))), hash);
        String today = clock.instant().toString().substring(0, 10);
        caller.ifPresentOrElse(c -> verified.put(hash, new Verified(c, now)), () -> verified.remove(hash));
        if (caller.isPresent() && !today.equals(lastUseRecorded.put(hash, today))) {
            jdbc.update("UPDATE api_token SET last_used_at = ? WHERE token_hash = ?", clock.instant(), hash);
        }
        return caller;
    }

    public List<Token> list() throws SQLException {
        return jdbc.query(SELECT + " ORDER BY name", TOKEN);
    }

    /** Revokes a token by name; false when there is none by that name still valid. */
    public boolean revoke(String name) throws SQLException {
        verified.clear();
        return jdbc.update("UPDATE api_token SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                clock.instant(), name) == 1;
    }

    /**
     * On the first start (no token at all), creates the admin token, writes it to {@code file} readable by its owner
     * only, and says where it is. Returns whether it made one. A file system without POSIX permissions (a Windows
     * drive, a FAT stick, a zip file system) cannot be told who may read the file: it is written with that file
     * system's default access, and the log says so, with what to do about it.
     */
    public boolean createFirstAdminToken(Path file) throws SQLException, IOException {
        if (jdbc.queryFirst("SELECT 1 FROM api_token", rs -> true).isPresent()) {
            return false;
        }
        String secret = create("admin", Role.ADMIN, "first start");
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.deleteIfExists(file);
        boolean ownerOnly = createOwnerOnly(file);
        Files.writeString(file, secret + System.lineSeparator(), StandardCharsets.UTF_8);
        // shown once on the console, never in the log files: the file keeps it for the command line
        System.out.println("Admin API token (shown once; also in " + file + "): " + secret);
        String access = ownerOnly ? "readable by its owner only"
                : "its file system has no POSIX permissions, so whoever may read that folder may read the token:"
                        + " keep the folder to the factory's user, or delete the file once the token is kept elsewhere";
        LOG.warn("No API token existed: created the admin token, written to {} ({})."
                + " Use it as 'Authorization: Bearer <token>', and create others with: token create NAME ROLE", file,
                access);
        return true;
    }

    /**
     * Creates the file readable and writable by its owner only where the file system has POSIX permissions; elsewhere
     * with the file system's default access. Some file systems without them accept the permissions and ignore them (a
     * zip file system does), so the file system is asked first. Returns whether the file is its owner's only.
     */
    private static boolean createOwnerOnly(Path file) throws IOException {
        if (file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            try {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                        "rw-------")));
                return true;
            } catch (UnsupportedOperationException notPosix) {
                // a file system that says it has them, and yet not for new files
            }
        }
        Files.createFile(file);
        return false;
    }

    static String hash(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }
}
