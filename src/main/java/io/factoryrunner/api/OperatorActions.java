package io.factoryrunner.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.factoryrunner.api.ApiTokens.Caller;
import io.factoryrunner.api.ApiTokens.Role;
import io.factoryrunner.api.OperatorQueries.Fingerprint;
import io.factoryrunner.api.OperatorQueries.ItemState;
import io.factoryrunner.api.OperatorQueries.Node;
import io.factoryrunner.api.OperatorQueries.Page;
import io.factoryrunner.api.OperatorQueries.Run;
import io.factoryrunner.config.ConfigReport;
import io.factoryrunner.config.ConfigTable;
import io.factoryrunner.config.ConfigValidator;
import io.factoryrunner.config.ConfigWatcher;
import io.factoryrunner.db.Dialect;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.job.JobEndpoint;
import io.factoryrunner.job.JobRegistry;
import io.factoryrunner.job.JobStore;
import io.factoryrunner.job.Trigger;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;
import org.quartz.CronExpression;

/** What the operator API does: the answers it builds from the tables, and the actions it takes, each audited. */
public final class OperatorActions {

    private static final Set<String> ITEM_STATUSES = Set.of("waiting", "deferred", "claimed", "done", "failed");
    private static final Set<String> RUN_STATUSES = Set.of("running", "succeeded", "failed", "skipped", "abandoned");
    private static final Set<String> ERROR_STATUSES = Set.of("open", "acknowledged", "resolved");
    private static final int DETAIL_ROWS = 200;
    private static final int MAX_RECENT_RUNS = 100;

    /** How old the count of done items shown may be: counting them all is the one costly read of a status call. */
    private static final Duration DONE_MAX_AGE = Duration.ofSeconds(5);

    private final OperatorQueries queries;
    private final DoneCounts doneCounts;
    private final Audit audit;
    private final ApiTokens tokens;
    private final JobRegistry jobs;
    private final JobStore store;
    private final ConfigTable configTable;
    private final ConfigurationApplier applyConfiguration;
    private final PropertiesComponent properties;
    private final Supplier<List<ConfigReport.Line>> configReport;
    private final Jdbc jdbc;
    private final Clock clock;
    /** Where a run started through the API goes on after the answer. */
    private final Executor runs;

    public OperatorActions(DataSource dataSource, Dialect dialect, Clock clock, ApiTokens tokens, JobRegistry jobs, JobStore store,
            ConfigTable configTable, ConfigurationApplier applyConfiguration, PropertiesComponent properties,
            Supplier<List<ConfigReport.Line>> configReport, Executor runs) {
        this.runs = runs;
        this.queries = new OperatorQueries(dataSource, dialect, clock);
        this.doneCounts = new DoneCounts(queries::doneCounts, DONE_MAX_AGE, clock, runs);
        this.audit = new Audit(dataSource, clock);
        this.jdbc = Jdbc.of(dataSource);
        this.tokens = tokens;
        this.jobs = jobs;
        this.store = store;
        this.configTable = configTable;
        this.applyConfiguration = applyConfiguration;
        this.properties = properties;
        this.configReport = configReport;
        this.clock = clock;
    }

    /**
     * Writes to the configuration table and applies what was written at once, with no other reading of the table
     * between the two; answers the values refused (key to reason).
     */
    @FunctionalInterface
    public interface ConfigurationApplier {
        Map<String, String> apply(ConfigWatcher.TableWrite write) throws SQLException;
    }

    /** The nodes sharing the database; silent ones are those not seen for {@code factory.node.stale-after}. */
    public List<Node> nodes() throws SQLException {
        Duration staleAfter = Duration.ofMillis(TimeUtils.toMilliSeconds(properties.resolveProperty(
                "factory.node.stale-after").map(String::trim).filter(v -> !v.isEmpty()).orElse("1m")));
        return queries.nodes(staleAfter);
    }

    public OperatorQueries queries() {
        return queries;
    }

    // ---- jobs

    /** Every job, upstream before downstream, each with its {@code recentRuns} latest runs when that is above 0. */
    public List<Map<String, Object>> jobs(int recentRuns) throws SQLException {
        if (recentRuns < 0 || recentRuns > MAX_RECENT_RUNS) {
            throw ApiError.badRequest("Parameter 'runs' must be between 0 and " + MAX_RECENT_RUNS + "; got "
                    + recentRuns);
        }
        List<String> names = jobs.inChainOrder();
        if (recentRuns == 0) {
            return describe(names, queries.lastRuns(names));
        }
        // the latest of a job's recent runs is its last run: one statement reads both
        Map<String, List<Run>> recent = queries.recentRuns(names, recentRuns);
        Map<String, Run> lastRuns = new LinkedHashMap<>();
        recent.forEach((job, runs) -> {
            if (!runs.isEmpty()) {
                lastRuns.put(job, runs.get(0));
            }
        });
        List<Map<String, Object>> answer = describe(names, lastRuns);
        for (Map<String, Object> j : answer) {
            j.put("recentRuns", recent.get((String) j.get("name")));
        }
        return answer;
    }

    public Map<String, Object> job(String job) throws SQLException {
        requireJob(job);
        return describe(List.of(job), queries.lastRuns(List.of(job))).get(0);
    }

    /** The jobs as the overview shows them, with their last runs, read in a few statements whatever their number. */
    private List<Map<String, Object>> describe(List<String> names, Map<String, Run> lastRuns) throws SQLException {
        DoneCounts.Snapshot done = doneCounts.get();
        Map<String, Map<String, Long>> live = queries.liveCounts(names);
        List<Map<String, Object>> answer = new ArrayList<>();
        for (String job : names) {
            String cron = jobs.endpoint(job).map(JobEndpoint::getCron).orElse(null);
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("name", job);
            j.put("upstream", jobs.upstreamOf(job).orElse(null));
            j.put("downstream", jobs.downstreamOf(job));
            j.put("cron", cron);
            j.put("nextFire", nextFire(cron));
            j.put("paused", paused(job));
            j.put("running", jobs.names().contains(job));
            j.put("lastRun", lastRuns.get(job));
            Map<String, Long> byStatus = new LinkedHashMap<>();
            for (String status : List.of("waiting", "deferred", "claimed", "failed")) {
                byStatus.put(status, live.getOrDefault(job, Map.of()).getOrDefault(status, 0L));
            }
            byStatus.put("done", done.byJob().getOrDefault(job, 0L));
            j.put("items", byStatus);
            j.put("doneCountedAt", done.countedAt());
            answer.add(j);
        }
        return answer;
    }

    private Instant nextFire(String cron) {
        if (cron == null || cron.isBlank()) {
            return null;
        }
        try {
            Date next = new CronExpression(cron).getNextValidTimeAfter(Date.from(clock.instant()));
            return next == null ? null : next.toInstant();
        } catch (ParseException e) {
            return null;
        }
    }

    private boolean paused(String job) {
        return properties.resolveProperty("job." + job + ".paused").map(v -> Boolean.parseBoolean(v.trim()))
                .orElse(false);
    }

    private void requireJob(String job) {
        if (!jobs.declared().contains(job)) {
            throw ApiError.notFound("No job named '" + job + "'; jobs: " + jobs.declared());
        }
    }

    /** Starts a run now and answers once it has begun, with its id. */
    public Map<String, Object> trigger(Caller caller, String job) throws Exception {
        requireJob(job);
        if (!jobs.names().contains(job)) {
            throw ApiError.conflict("Job '" + job + "' is not running (its route is stopped)", null);
        }
        int maxRuns = jobs.endpoint(job).map(JobEndpoint::getMaxRuns).orElse(1);
        List<JobStore.RunningRun> going = store.runningRuns(job);
        if (going.size() >= maxRuns) {
            JobStore.RunningRun first = going.get(0);
            throw ApiError.conflict(maxRuns == 1 ? "A run of job '" + job + "' is going: run " + first.runId()
                    : going.size() + " runs of job '" + job + "' are going (maxRuns = " + maxRuns + "): runs "
                            + going.stream().map(r -> String.valueOf(r.runId())).toList(),
                    Map.of("runId", first.runId(), "node", first.node()));
        }
        long runId;
        try {
            runId = jobs.start(job, Trigger.MANUAL, runs).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } catch (TimeoutException e) {
            throw new ApiError(503, "The run of job '" + job + "' did not begin within 30 s");
        }
        if (runId < 0) {
            Optional<JobStore.RunningRun> now = store.runningRuns(job).stream().findFirst();
            audit.record(caller.name(), "trigger", "job " + job, null, "not started");
            throw ApiError.conflict("Job '" + job + "' did not start a run: " + (paused(job) ? "it is paused"
                    : now.map(r -> JobStore.runsGoing(job, maxRuns) + ": run " + r.runId())
                            .orElse(JobStore.runsGoing(job, maxRuns))),
                    now.map(r -> Map.<String, Object>of("runId", r.runId())).orElse(null));
        }
        audit.record(caller.name(), "trigger", "job " + job, null, "run " + runId);
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("job", job);
        answer.put("runId", runId);
        return answer;
    }

    public Map<String, Object> pause(Caller caller, String job, boolean pause, String note) throws SQLException {
        requireJob(job);
        applyConfiguration.apply(() -> configTable.set("job." + job + ".paused", String.valueOf(pause), false,
                (pause ? "paused" : "resumed") + " through the API by " + caller.name(), caller.name()));
        audit.record(caller.name(), pause ? "pause" : "resume", "job " + job, note, "job." + job + ".paused = "
                + pause);
        return Map.of("job", job, "paused", pause);
    }

    // ---- runs

    public Map<String, Object> run(Long runId) throws SQLException {
        if (runId == null) {
            throw ApiError.badRequest("Parameter 'id' is missing");
        }
        Run run = queries.run(runId).orElseThrow(() -> ApiError.notFound("No run " + runId));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("run", run);
        answer.put("config", Secrets.mask(queries.runConfig(runId).orElse(null)));
        answer.put("items", queries.itemsOfRun(run.job(), runId, DETAIL_ROWS));
        answer.put("errors", queries.errorsOfRun(runId, DETAIL_ROWS));
        return answer;
    }

    // ---- items

    public Page<ItemState> items(String job, String status, String key, int limit, String after)
            throws SQLException {
        requireJob(job);
        oneOf("status", status, ITEM_STATUSES);
        List<String> cursor = after == null ? null : Cursor.parse(after);
        return queries.items(job, status, key, limit, cursor == null ? null : cursor.get(0),
                cursor == null ? null : cursor.get(1));
    }

    public Map<String, Object> item(String job, String key) throws SQLException {
        requireJob(job);
        List<ItemState> path = queries.itemAcrossJobs(key, jobs.declared());
        if (path.stream().noneMatch(i -> i.job().equals(job))) {
            throw ApiError.notFound("Job '" + job + "' has no item '" + key + "'");
        }
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("job", job);
        answer.put("key", key);
        answer.put("path", path);
        answer.put("errors", queries.errorsOfItem(key, DETAIL_ROWS));
        return answer;
    }

    public Map<String, Object> redrive(Caller caller, String job, String key, String version, String note)
            throws SQLException {
        requireJob(job);
        Optional<ItemState> found = version != null ? queries.item(job, key, version)
                : queries.latestFailed(job, key);
        if (found.isEmpty() && version == null) {
            found = queries.latestItem(job, key);
        }
        ItemState item = found.orElseThrow(() -> ApiError.notFound("Job '" + job + "' has no item '" + key + "'"
                + (version == null ? "" : " in version '" + version + "'")));
        if (!"failed".equals(item.status())) {
            throw ApiError.conflict("Item '" + key + "' version '" + item.version() + "' of job '" + job + "' is "
                    + item.status() + ", not failed", Map.of("status", item.status(), "version", item.version()));
        }
        boolean redriven = store.redrive(job, key, item.version());
        if (!redriven) {
            throw ApiError.conflict("Item '" + key + "' of job '" + job + "' is no longer failed", null);
        }
        audit.record(caller.name(), "redrive", "item " + job + "/" + key + "/" + item.version(), note,
                "1 item put back");
        return Map.of("redriven", 1, "job", job, "key", key, "version", item.version());
    }

    // ---- errors

    public Page<Fingerprint> fingerprints(String status, String job, int limit, String after) throws SQLException {
        oneOf("status", status, ERROR_STATUSES);
        List<String> cursor = after == null ? null : Cursor.parse(after);
        Instant seen = null;
        if (cursor != null) {
            try {
                seen = Instant.parse(cursor.get(0));
            } catch (DateTimeParseException e) {
                throw ApiError.badRequest("Parameter 'after' is not a cursor this API gave: '" + after + "'");
            }
        }
        return queries.fingerprints(status, job, limit, seen, cursor == null ? null : cursor.get(1));
    }

    public Map<String, Object> fingerprint(String id) throws SQLException {
        Fingerprint f = queries.fingerprint(id).orElseThrow(() -> ApiError.notFound("No error fingerprint '" + id
                + "'"));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("fingerprint", f);
        answer.put("occurrences", queries.occurrences(id, 20));
        return answer;
    }

    public Map<String, Object> setFingerprintStatus(Caller caller, String id, String status, String note)
            throws SQLException {
        Fingerprint f = queries.fingerprint(id).orElseThrow(() -> ApiError.notFound("No error fingerprint '" + id
                + "'"));
        if (f.status().equals(status) || "resolved".equals(f.status()) && "acknowledged".equals(status)) {
            throw ApiError.conflict("Fingerprint '" + id + "' is " + f.status(), Map.of("status", f.status()));
        }
        int updated = jdbc.update("""
                UPDATE error_fingerprint SET status = ?, note = COALESCE(?, note), row_version = row_version + 1
                 WHERE fingerprint = ? AND status = ?""", status, note, id, f.status());
        if (updated == 0) {
            throw ApiError.conflict("Fingerprint '" + id + "' changed meanwhile; look again", null);
        }
        audit.record(caller.name(), status.equals("resolved") ? "resolve" : "acknowledge", "fingerprint " + id,
                note, f.status() + " -> " + status);
        return Map.of("fingerprint", id, "status", status);
    }

    public Map<String, Object> redriveFingerprint(Caller caller, String id, String note) throws SQLException {
        queries.fingerprint(id).orElseThrow(() -> ApiError.notFound("No error fingerprint '" + id + "'"));
        int redriven = 0;
        int notFailed = 0;
        for (String[] item : queries.itemsOfFingerprint(id)) {
            if (store.redrive(item[0], item[1], item[2])) {
                redriven++;
            } else {
                notFailed++;
            }
        }
        audit.record(caller.name(), "redrive", "fingerprint " + id, note, redriven + " items put back");
        return Map.of("fingerprint", id, "redriven", redriven, "notFailed", notFailed);
    }

    // ---- alerts

    public Map<String, Object> resend(Caller caller, Long id, String note) throws SQLException {
        if (id == null) {
            throw ApiError.badRequest("Parameter 'id' is missing");
        }
        OperatorQueries.Alert alert = queries.alert(id).orElseThrow(() -> ApiError.notFound("No alert " + id));
        Instant now = clock.instant();
        long resent;
        if ("pending".equals(alert.status())) {
            jdbc.update("UPDATE alerts SET next_attempt_at = ? WHERE alert_id = ? AND status = 'pending'", now, id);
            resent = id;
        } else {
            resent = jdbc.insertReturningKey("""
                    INSERT INTO alerts (created_at, kind, job, fingerprint, recipients, subject, body, status,
                                        attempts, next_attempt_at)
                    SELECT ?, kind, job, fingerprint, recipients, subject, body, 'pending', 0, ?
                      FROM alerts WHERE alert_id = ?""", now, now, id);
        }
        audit.record(caller.name(), "resend", "alert " + id, note, "alert " + resent + " due now");
        return Map.of("alertId", resent, "status", "pending");
    }

    // ---- configuration

    public List<Map<String, Object>> config() {
        List<Map<String, Object>> lines = new ArrayList<>();
        for (ConfigReport.Line line : configReport.get()) {
            Map<String, Object> l = new LinkedHashMap<>();
            l.put("key", line.key());
            l.put("value", line.value());
            l.put("source", line.source());
            lines.add(l);
        }
        return lines;
    }

    public Map<String, Object> setConfig(Caller caller, String key, JsonNode body) throws SQLException {
        JsonNode value = body.get("value");
        if (value == null || !(value.isTextual() || value.isNumber() || value.isBoolean())) {
            throw ApiError.badRequest("The body needs a field 'value' holding a string, a number or a boolean");
        }
        JsonNode secretField = body.get("secret");
        if (secretField != null && !secretField.isBoolean()) {
            throw ApiError.badRequest("Field 'secret' of the body must be true or false");
        }
        JsonNode description = body.get("description");
        boolean secret = secretField != null && secretField.asBoolean() || Secrets.isSecretKey(key);
        String text = value.asText();
        Optional<String> problem = ConfigValidator.check(key, text);
        if (problem.isPresent()) {
            throw ApiError.badRequest(problem.get());
        }
        if (secret) {
            Secrets.register(text);
        }
        String refused = applyConfiguration.apply(() -> configTable.set(key, text, secret,
                description == null || description.isNull() ? null : description.asText(), caller.name())).get(key);
        if (refused != null) {
            audit.record(caller.name(), "config", "key " + key, null, "refused by the running factory");
            throw ApiError.badRequest("Configuration key '" + key + "': the running factory refused the value"
                    + " written to factory_config and keeps the one it had; write a value it can take. "
                    + Secrets.mask(refused));
        }
        audit.record(caller.name(), "config", "key " + key, null, secret ? "secret written" : key + " = " + text);
        return Map.of("key", key, "value", secret ? Secrets.MASK : text, "source", "factory_config");
    }

    // ---- tokens

    public Map<String, Object> createToken(Caller caller, JsonNode body) throws SQLException {
        JsonNode name = body.get("name");
        JsonNode role = body.get("role");
        if (name == null || !name.isTextual() || role == null || !role.isTextual()) {
            throw ApiError.badRequest("The body needs 'name' and 'role' (viewer, operator or admin), both strings");
        }
        Role parsed = Role.parse(role.asText());
        String secret;
        try {
            secret = tokens.create(name.asText(), parsed, caller.name());
        } catch (IllegalStateException exists) {
            throw ApiError.conflict(exists.getMessage(), null);
        }
        audit.record(caller.name(), "token-create", "token " + name.asText(), null, "role " + parsed.db());
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("name", name.asText());
        answer.put("role", parsed.db());
        answer.put("token", secret);
        return answer;
    }

    public Map<String, Object> revokeToken(Caller caller, String name) throws SQLException {
        if (!tokens.revoke(name)) {
            throw ApiError.notFound("No valid token named '" + name + "'");
        }
        audit.record(caller.name(), "token-revoke", "token " + name, null, "revoked");
        return Map.of("name", name, "revoked", true);
    }

    private static void oneOf(String parameter, String value, Set<String> allowed) {
        if (value != null && !allowed.contains(value)) {
            throw ApiError.badRequest("Parameter '" + parameter + "' must be one of " + allowed.stream().sorted()
                    .toList() + "; got '" + value + "'");
        }
    }

    public Page<Run> runs(String job, String status, Instant since, int limit, Long after) throws SQLException {
        oneOf("status", status, RUN_STATUSES);
        return queries.runs(job, status, since, limit, after);
    }
}
