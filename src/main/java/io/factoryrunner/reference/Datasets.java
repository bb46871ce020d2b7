package io.factoryrunner.reference;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.error.ExternalSystemException;
import io.factoryrunner.job.JobStore;
import java.io.File;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import javax.sql.DataSource;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The prepare job's intake: turns the customer records a source query returned into data set items (one per value of
 * the grouping column, as CSV) and offers them to the prepare job; or one item per CSV file dropped in a folder. The
 * item's version is the newest change it holds, so a record changed later makes a new version of its data set.
 */
public final class Datasets {

    private static final Logger LOG = LoggerFactory.getLogger(Datasets.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The characters an item's data holds ({@code job_inbox.data}, {@code job_state.data}). */
    static final int ITEM_DATA_MAX = 1_000_000;

    private static final String READ_MARK = "SELECT mark FROM factory_watermark WHERE name = ?";
    private static final String UPDATE_MARK = "UPDATE factory_watermark SET mark = ?, updated_at = ? WHERE name = ?";
    private static final String INSERT_MARK = "INSERT INTO factory_watermark (name, mark, updated_at) VALUES (?, ?, ?)";

    private static final Jdbc.RowMapper<Timestamp> MARK = rs -> Timestamp.from(Instant.parse(rs.getString(1)));

    private final Jdbc jdbc;
    private final JobStore jobs;
    private final Clock clock;

    public Datasets(DataSource dataSource, JobStore jobs, Clock clock) {
        this.jdbc = Jdbc.of(dataSource);
        this.jobs = jobs;
        this.clock = clock;
    }

    /** The newest change already offered from the source (the start of the next batch window). */
    public Timestamp watermark(String source) throws SQLException {
        return jdbc.queryFirst(READ_MARK, MARK, source).orElseGet(() -> new Timestamp(0));
    }

    /**
     * Groups the rows (a list of column maps, as camel-sql returns them) by {@code groupBy}, offers one data set per
     * group to {@code job}, then moves the watermark to the newest {@code updated_at}. Returns the items offered.
     */
    public int offerRows(List<Map<String, Object>> rows, String source, String groupBy, String job)
            throws SQLException {
        if (rows == null || rows.isEmpty()) {
            return 0;
        }
        Map<String, List<Map<String, Object>>> groups = new TreeMap<>();
        Instant newest = Instant.EPOCH;
        for (Map<String, Object> row : rows) {
            Map<String, Object> lower = new LinkedHashMap<>();
            row.forEach((k, v) -> lower.put(k.toLowerCase(Locale.ROOT), v));
            Object group = lower.get(groupBy.toLowerCase(Locale.ROOT));
            groups.computeIfAbsent(String.valueOf(group), g -> new ArrayList<>()).add(lower);
            Instant changed = instant(lower.get("updated_at"));
            if (changed != null && changed.isAfter(newest)) {
                newest = changed;
            }
        }
        int offered = 0;
        for (var group : groups.entrySet()) {
            Instant version = group.getValue().stream().map(r -> instant(r.get("updated_at")))
                    .filter(Objects::nonNull).max(Instant::compareTo).orElse(newest);
            String name = source + "-" + group.getKey().toLowerCase(Locale.ROOT);
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("name", name);
            data.put("group", group.getKey());
            data.put("rows", group.getValue().size());
            data.put("csv", csv(group.getValue()));
            if (jobs.offer(job, name, version.toString(), json(data), true)) {
                offered++;
            }
        }
        moveWatermark(source, newest);
        LOG.info("Offered {} data sets ({} records) from source {} to job {}", offered, rows.size(), source, job);
        return offered;
    }

    /**
     * Offers a CSV file from the drop folder as one data set; its version is the file's modification time. The route
     * has refused a file above {@code source.drop.max-size} before this reads it whole.
     */
    public boolean offerFile(Exchange exchange, String job) throws Exception {
        File file = exchange.getMessage().getBody(File.class);
        String content;
        try {
            content = Files.readString(file.toPath(), StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new ExternalSystemException("Dropped file " + file + " is not UTF-8 text;"
                    + " save it as UTF-8 and drop it again");
        }
        String name = file.getName().replaceFirst("\\.[^.]*$", "");
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("name", name);
        data.put("group", "file");
        data.put("rows", Math.max(0, content.strip().split("\\R").length - 1));
        data.put("csv", content);
        String item = json(data);
        // JSON writes a line end or a quote as two characters: a file within the size limit can still not fit
        if (item.length() > ITEM_DATA_MAX) {
            throw new ExternalSystemException("Dropped file " + file + " (" + file.length() + " bytes) makes a data set"
                    + " of " + item.length() + " characters, more than the " + ITEM_DATA_MAX + " characters an item"
                    + " holds; split it into smaller files");
        }
        return jobs.offer(job, name, Instant.ofEpochMilli(file.lastModified()).toString(), item, true);
    }

    private void moveWatermark(String source, Instant newest) throws SQLException {
        Instant now = clock.instant();
        if (jdbc.update(UPDATE_MARK, newest.toString(), now, source) != 1) {
            jdbc.update(INSERT_MARK, source, newest.toString(), now);
        }
    }

    static String csv(List<Map<String, Object>> rows) {
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        StringBuilder out = new StringBuilder(String.join(",", columns)).append('\n');
        for (Map<String, Object> row : rows) {
            List<String> cells = new ArrayList<>();
            for (String column : columns) {
                Object v = row.get(column);
                String text = v == null ? "" : v instanceof Timestamp t ? t.toInstant().toString() : v.toString();
                cells.add(text.contains(",") || text.contains("\"") || text.contains("\n")
                        ? "\"" + text.replace("\"", "\"\"") + "\"" : text);
            }
            out.append(String.join(",", cells)).append('\n');
        }
        return out.toString();
    }

    private static Instant instant(Object value) {
        if (value instanceof Timestamp t) {
            return t.toInstant();
        }
        if (value instanceof OffsetDateTime o) {
            return o.toInstant();
        }
        if (value instanceof LocalDateTime l) {
            return l.toInstant(ZoneOffset.UTC);
        }
        return value == null ? null : Instant.parse(value.toString());
    }

    private static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
