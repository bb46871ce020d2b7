package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.db.Database;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * H2's chunk reads stay linear in the chunk, not in the backlog: with thousands of items waiting, taking a chunk
 * reads about a chunk's rows (H2's own count of the rows a statement scanned, from {@code EXPLAIN ANALYZE}).
 */
class GenericStoreDialectTest {

    private static final int BACKLOG = 3_000;
    private static final int CHUNK = 100;
    private static final Pattern SCAN_COUNT = Pattern.compile("scanCount: (\\d+)");

    @TempDir
    Path dir;

    private Database database;
    private Jdbc jdbc;

    @BeforeEach
    void open() {
        database = TestDatabase.H2.open(dir);
        jdbc = Jdbc.of(database.dataSource());
    }

    @AfterEach
    void close() {
        database.close();
    }

    @Test
    void taking_a_chunk_from_a_long_inbox_reads_about_a_chunk_of_its_rows() throws SQLException {
        jdbc.update("""
                INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
                SELECT 'prepare', 'item-' || x, 'v1', TRUE, 'raw', CURRENT_TIMESTAMP FROM SYSTEM_RANGE(1, ?)""",
                BACKLOG);

        assertThat(rowsScanned(GenericStoreDialect.NEXT_IN_INBOX, "prepare", Instant.now(), CHUNK))
                .isBetween(CHUNK, CHUNK + 1);
    }

    @Test
    void taking_a_chunk_from_a_long_feed_reads_about_a_chunk_of_the_upstreams_rows() throws SQLException {
        jdbc.update("""
                INSERT INTO job_state (job, item_key, item_version, status, data, attempts, created_at, updated_at,
                                       row_version, done_seq)
                SELECT 'prepare', 'item-' || x, 'v1', 'done', 'raw', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, x
                  FROM SYSTEM_RANGE(1, ?)""", BACKLOG);

        // a feed read from the start, and one half way through
        assertThat(rowsScanned(GenericStoreDialect.FED, "prepare", 0L, CHUNK)).isBetween(CHUNK, CHUNK + 1);
        assertThat(rowsScanned(GenericStoreDialect.FED, "prepare", (long) BACKLOG / 2, CHUNK))
                .isBetween(CHUNK, CHUNK + 1);
    }

    private int rowsScanned(String statement, Object... args) throws SQLException {
        String plan = String.join("\n", jdbc.query("EXPLAIN ANALYZE " + statement, rs -> rs.getString(1), args));
        Matcher count = SCAN_COUNT.matcher(plan);
        assertThat(count.find()).as("a scan count in the plan:%n%s", plan).isTrue();
        return Integer.parseInt(count.group(1));
    }
}
