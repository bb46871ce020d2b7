package io.factoryrunner.error;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.alert.AlertKind;
import io.factoryrunner.alert.AlertOutbox;
import io.factoryrunner.alert.AlertTemplates;
import io.factoryrunner.alert.NextSteps;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.job.FailureRecorder;
import io.factoryrunner.job.JobConstants;
import io.factoryrunner.job.JobConsumer;
import io.factoryrunner.job.RetryAcrossRuns;
import io.factoryrunner.logging.Secrets;
import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.concurrent.RejectedExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.apache.camel.CamelExecutionException;
import org.apache.camel.Endpoint;
import org.apache.camel.Exchange;
import org.apache.camel.RuntimeCamelException;
import org.apache.camel.ServiceStatus;
import org.apache.camel.StreamCache;
import org.apache.camel.component.file.GenericFile;
import org.apache.camel.component.http.HttpEndpoint;
import org.apache.camel.http.base.HttpOperationFailedException;
import org.apache.camel.spi.InterceptSendToEndpoint;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dead-letter channel's end: one {@code factory_error} row per failure, grouped under a fingerprint, and in the
 * same transaction the alert a new (or long-open) fingerprint deserves. When the row cannot be written, the
 * failure is logged with everything the row would have held and the exception is thrown again, so the dead-letter
 * channel (which must run with {@code deadLetterHandleNewException=false}) fails the exchange and the job leaves
 * the item claimed for the next run instead of losing it.
 */
public final class ErrorRecorder implements FailureRecorder {

    private static final Logger LOG = LoggerFactory.getLogger(ErrorRecorder.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final String INSERT_ERROR = """
            INSERT INTO factory_error (occurred_at, job, route_id, run_id, item_key, item_version, category,
                                       exception_class, message, stack_trace, payload_excerpt, attempts,
                                       http_method, http_url, http_status, http_response, fingerprint)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";

    private static final String SAME_ITEM_ERROR = """
            SELECT error_id FROM factory_error
             WHERE job = ? AND item_key = ? AND item_version = ? AND fingerprint = ?
             ORDER BY error_id DESC LIMIT 1""";

    private static final String COUNT_ERROR = """
            UPDATE factory_error
               SET occurrences = occurrences + 1, last_occurred_at = ?, run_id = ?, attempts = ?, message = ?,
                   stack_trace = ?
             WHERE error_id = ?""";

    private static final String SELECT_FINGERPRINT = """
            SELECT status, last_notified_at, occurrences, first_seen
              FROM error_fingerprint WHERE fingerprint = ?""";

    private static final String INSERT_FINGERPRINT = """
            INSERT INTO error_fingerprint (fingerprint, job, category, exception_class, normalized_message,
                                           first_seen, last_seen, occurrences, status, last_notified_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, 1, 'open', ?)""";

    private static final String REOPEN_FINGERPRINT = """
            UPDATE error_fingerprint
               SET status = 'open', first_seen = ?, last_seen = ?, occurrences = 1, last_notified_at = ?,
                   row_version = row_version + 1
             WHERE fingerprint = ? AND status = 'resolved'""";

    // not a resolved one: a failure met while the fingerprint is being resolved opens it again instead
    private static final String COUNT_FINGERPRINT = """
            UPDATE error_fingerprint
               SET last_seen = ?, occurrences = occurrences + 1, row_version = row_version + 1
             WHERE fingerprint = ? AND status IN ('open', 'acknowledged')""";

    private static final String REMIND_FINGERPRINT = """
            UPDATE error_fingerprint
               SET last_notified_at = ?
             WHERE fingerprint = ? AND status = 'open' AND (last_notified_at IS NULL OR last_notified_at <= ?)""";

    /** SQLSTATE of a unique constraint violation, the same on PostgreSQL and H2. */
    private static final String UNIQUE_VIOLATION = "23505";

    private static final String RUN_CONFIG = "SELECT config FROM job_run WHERE run_id = ?";

    private static final String LAST_GOOD_CONFIG = """
            SELECT config FROM job_run
             WHERE job = ? AND status = 'succeeded' AND items_failed = 0 AND run_id < ?
             ORDER BY run_id DESC LIMIT 1""";

    /** The fingerprint's row as the recorder reads it. */
    private record Fingerprint(long occurrences, Instant firstSeen) {
    }

    private static final Jdbc.RowMapper<Long> ERROR_ID = rs -> rs.getLong(1);
    private static final Jdbc.RowMapper<Fingerprint> FINGERPRINT = rs -> new Fingerprint(rs.getLong(3),
            Jdbc.instant(rs, 4));
    private static final Jdbc.RowMapper<String> CONFIG = rs -> rs.getString(1);

    private final Jdbc jdbc;
    private final Clock clock;
    private final AlertOutbox alerts;
    private final PropertiesComponent properties;
    private final RetryAcrossRuns retry;
    private volatile BiConsumer<String, ErrorCategory> recorded = (job, category) -> { };

    public ErrorRecorder(DataSource dataSource, Clock clock, AlertOutbox alerts, PropertiesComponent properties) {
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
        this.alerts = alerts;
        this.properties = properties;
        this.retry = new RetryAcrossRuns(properties);
    }

    /** Told of each failure written to the error table: its job (null for a route's) and category. */
    public void afterRecorded(BiConsumer<String, ErrorCategory> action) {
        recorded = action;
    }

    /** The dead-letter channel's target: records the exchange's failure. */
    public void record(Exchange exchange) throws SQLException {
        if (Boolean.TRUE.equals(exchange.getProperty(RECORDED, Boolean.class))) {
            return;
        }
        Throwable error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        if (error == null) {
            error = exchange.getException();
        }
        if (error == null) {
            return;
        }
        if (cutOffByStop(exchange, error)) {
            return;
        }
        store(describe(exchange, error));
        exchange.setProperty(RECORDED, true);
    }

    /**
     * Camel refuses a pending redelivery, and the next step of an item under way, once the route stops: the item did
     * not fail, the factory stopped. Marks the exchange {@link #INTERRUPTED} when so.
     */
    private static boolean cutOffByStop(Exchange exchange, Throwable error) {
        // a stop that begins before the error handler has decided on a retry makes it refuse the retry and end the
        // item with the failure of its last attempt, without asking the retry policy: a transient failure met while
        // stopping is one the stop cut off, as a retry wait it interrupts is
        if (!(isInterruption(error) || ErrorClassifier.isTransient(error)) || !isStopping(exchange)) {
            return false;
        }
        exchange.setProperty(INTERRUPTED, true);
        LOG.info("Item {} of job {}: cut off by a stop; it stays for the next run",
                exchange.getMessage().getHeader(JobConstants.ITEM_KEY), exchange.getMessage().getHeader(JobConstants.JOB));
        return true;
    }

    /** The factory, or the exchange's route, is stopping: a refusal then is the stop's, not the item's. */
    private static boolean isStopping(Exchange exchange) {
        if (exchange.getContext().isStopping() || exchange.getContext().isStopped()) {
            return true;
        }
        ServiceStatus route = exchange.getFromRouteId() == null ? null
                : exchange.getContext().getRouteController().getRouteStatus(exchange.getFromRouteId());
        return route != null && (route.isStopping() || route.isStopped());
    }

    private static boolean isInterruption(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof RejectedExecutionException) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean recordFailure(Exchange exchange, Throwable error) {
        if (Boolean.TRUE.equals(exchange.getProperty(RECORDED, Boolean.class)) || cutOffByStop(exchange, error)) {
            return true;
        }
        try {
            store(describe(exchange, error));
            exchange.setProperty(RECORDED, true);
            return true;
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * Records a value of the configuration table that was refused, under the job its key belongs to
     * ({@code job.<name>.*}): one fingerprint per key, so the operator gets one mail however often it is refused.
     */
    public void recordRefusedValue(String key, String reason) {
        Matcher jobKey = JOB_KEY.matcher(key);
        String job = jobKey.matches() ? jobKey.group(1) : null;
        String message = Secrets.mask(reason);
        String normalized = "configuration key " + key + " refused";
        Failure f = new Failure(clock.instant(), job, null, null, null, null, ErrorCategory.CONFIGURATION,
                IllegalArgumentException.class.getName(), excerpt(message, 4000), null, null, 1, null, null,
                null, null, sha256(job + "|" + ErrorCategory.CONFIGURATION + "|" + normalized), normalized,
                "The factory keeps the value it had until " + key + " holds one that passes its check.");
        try {
            store(f);
        } catch (SQLException e) {
            // store() has logged everything the row would hold
        }
    }

    private static final Pattern JOB_KEY = Pattern.compile("job\\.([^.]+)\\..+");

    /**
     * Records the failure that ended a program at a step of program job {@code job}: the row names the job and the
     * route, and {@code next} (the program, and how to resume it) stands in the mail for an item's redrive.
     */
    public void recordProgramFailure(Exchange exchange, Throwable error, String job, String next)
            throws SQLException {
        Failure f = describe(exchange, error);
        store(new Failure(f.at(), job, f.routeId(), null, null, null, f.category(), f.exceptionClass(), f.message(),
                f.stack(), f.payload(), f.attempts(), f.httpMethod(), f.httpUrl(), f.httpStatus(), f.httpResponse(),
                sha256(job + "|" + f.category() + "|" + f.exceptionClass() + "|" + f.normalized()), f.normalized(),
                next));
    }

    @Override
    public boolean isTransient(Throwable error) {
        return ErrorClassifier.isTransient(error);
    }

    /** Everything the error row holds. */
    record Failure(Instant at, String job, String routeId, Long runId, String itemKey, String itemVersion,
            ErrorCategory category, String exceptionClass, String message, String stack, String payload,
            int attempts, String httpMethod, String httpUrl, Integer httpStatus, String httpResponse,
            String fingerprint, String normalized, String next) {
    }

    Failure describe(Exchange exchange, Throwable error) {
        Throwable main = unwrap(error);
        String message = Secrets.mask(withDatabaseMessage(main));
        String job = exchange.getMessage().getHeader(JobConstants.JOB, String.class);
        ErrorCategory category = ErrorClassifier.category(main, exchange);
        String httpMethod = null;
        String httpUrl = null;
        Integer httpStatus = null;
        String httpResponse = null;
        for (Throwable t = main; t != null; t = t.getCause()) {
            if (t instanceof HttpOperationFailedException h) {
                httpStatus = h.getStatusCode();
                httpUrl = Secrets.maskUrl(h.getUri());
                // masked before it is cut, so that no part of a secret is left at the cut
                String response = Secrets.mask(h.getResponseBody());
                httpResponse = excerpt(response, 2000);
                httpMethod = sentMethod(exchange, h.getUri());
                if (!(main instanceof FactoryException)) {
                    // a route's own error (a refusal read as a job initialization error) says it in its own words
                    message = "HTTP " + h.getStatusCode() + " from " + httpUrl + ": " + excerpt(response, 500);
                }
                break;
            }
        }
        String normalized = normalize(message);
        Optional<SentHttpRequests.Request> unanswered = httpStatus == null ? SentHttpRequests.of(main)
                : Optional.empty();
        if (unanswered.isPresent()) {
            // named in the message, not in the fingerprint: one outage of a service is one failure for all its items
            httpMethod = unanswered.get().method();
            httpUrl = unanswered.get().url();
            message = message + " (" + httpMethod + " " + httpUrl + ")";
        }
        String fingerprint = sha256(job + "|" + category + "|" + main.getClass().getName() + "|" + normalized);
        StringWriter stack = new StringWriter();
        error.printStackTrace(new PrintWriter(stack));
        int attempts = exchange.getProperty(ATTEMPTS, 1, Integer.class);
        Instant at = clock.instant();
        // every column that can carry data is masked here, once, so the row, the alert and the log all agree
        return new Failure(at, job, exchange.getFromRouteId(),
                exchange.getMessage().getHeader(JobConstants.RUN_ID, Long.class),
                Secrets.mask(exchange.getMessage().getHeader(JobConstants.ITEM_KEY, String.class)),
                Secrets.mask(exchange.getMessage().getHeader(JobConstants.ITEM_VERSION, String.class)), category,
                main.getClass().getName(), excerpt(message, 4000), excerpt(Secrets.mask(stack.toString()), 100_000),
                Secrets.mask(payload(exchange)), attempts, httpMethod, httpUrl,
                httpStatus, httpResponse, fingerprint, excerpt(normalized, 4000), next(exchange, error, at));
    }

    /**
     * What becomes of the failed item, as the job will do it: a transient failure puts it back for a later run (when,
     * {@link RetryAcrossRuns} says) until its failures have lasted {@code retry.give-up-after}; any other failure,
     * and one given up, leaves it failed until someone redrives it.
     */
    private String next(Exchange exchange, Throwable error, Instant at) {
        String job = exchange.getMessage().getHeader(JobConsumer.JOB, String.class);
        String key = exchange.getMessage().getHeader(JobConsumer.ITEM_KEY, String.class);
        if (job == null || key == null) {
            return "This is not an item's failure: no item waits on it.";
        }
        String version = exchange.getMessage().getHeader(JobConsumer.ITEM_VERSION, String.class);
        String redrive = "The item is failed in job " + job + " and waits for a redrive: nothing tries it again by"
                + " itself. Once the cause is fixed: JobStore.redrive(\"" + job + "\", \"" + key + "\", \"" + version
                + "\").";
        if (!ErrorClassifier.isTransient(error)) {
            return redrive;
        }
        Instant since = Optional.ofNullable(exchange.getMessage().getHeader(JobConsumer.FAILING_SINCE, Instant.class))
                .orElse(at);
        int attempts = exchange.getMessage().getHeader(JobConsumer.ATTEMPT, 1, Integer.class);
        Optional<Instant> nextAttempt = retry.nextAttempt(job, attempts, since, at);
        if (nextAttempt.isEmpty()) {
            return "Its transient failures, since " + seconds(since) + ", have lasted retry.give-up-after. " + redrive;
        }
        return "The failure is transient: the item is put back and tried again by itself at "
                + seconds(nextAttempt.get()) + " (job_inbox.available_at), by the first run of " + job
                + " from then on. If it is still failing at " + seconds(since.plus(retry.giveUpAfter(job)))
                + ", when its failures have lasted retry.give-up-after, it is failed and waits for a redrive.";
    }

    private static Instant seconds(Instant instant) {
        return instant.truncatedTo(ChronoUnit.SECONDS);
    }

    /**
     * The method camel-http sent to {@code uri}, by its own rule: the endpoint's {@code httpMethod}, else the
     * {@code CamelHttpMethod} header, else GET for a URL with a query, else POST when there is a body. A {@code toD}
     * hands the query in a header that is gone once the call failed, so it is read from the URL called.
     */
    private static String sentMethod(Exchange exchange, String uri) {
        String endpointUri = exchange.getProperty(Exchange.FAILURE_ENDPOINT, String.class);
        Endpoint found = endpointUri == null ? null : exchange.getContext().hasEndpoint(endpointUri);
        // an endpoint that a route configuration intercepts (the analytics API key) is wrapped
        while (found instanceof InterceptSendToEndpoint intercepted && intercepted.getOriginalEndpoint() != found) {
            found = intercepted.getOriginalEndpoint();
        }
        HttpEndpoint endpoint = found instanceof HttpEndpoint http ? http : null;
        if (endpoint != null && endpoint.getHttpMethod() != null) {
            return endpoint.getHttpMethod().name();
        }
        String header = exchange.getMessage().getHeader(Exchange.HTTP_METHOD, String.class);
        if (header != null && (endpoint == null || !endpoint.isSkipControlHeaders())) {
            return header;
        }
        if (uri != null && uri.indexOf('?') >= 0) {
            return "GET";
        }
        Object body = exchange.getMessage().getBody();
        boolean hasBody = body instanceof StreamCache cached ? cached.length() > 0 : body != null;
        return hasBody ? "POST" : "GET";
    }

    /** Which task of which process run failed, and what its activity answered when it answered. */
    public record TaskFailure(String process, long runId, long taskId, String task, String url, Integer httpStatus,
            String answer, String next) {
    }

    /** A task's failure as recorded: its row, and its message without the process and task it names. */
    public record RecordedTaskFailure(long errorId, String message) {
    }

    /**
     * Records the failed call of a process's task: one row with the call's HTTP details, under one fingerprint per
     * process run, so a run is alerted once however many of its branches fail. Throws when the row cannot be written
     * (the failure is logged then).
     */
    public RecordedTaskFailure recordTaskFailure(Exchange exchange, Throwable error, TaskFailure task)
            throws SQLException {
        Failure d = describe(exchange, error);
        String where = "Process " + task.process() + " run " + task.runId() + ", task " + task.taskId() + " ("
                + task.task() + "): ";
        String response = d.httpResponse() != null ? d.httpResponse()
                : excerpt(Secrets.mask(task.answer()), 2000);
        Integer status = d.httpStatus() != null ? d.httpStatus() : task.httpStatus();
        String scope = "process " + task.process() + " run " + task.runId();
        Failure f = new Failure(d.at(), null, "process:" + task.process(), null, null, null, d.category(),
                d.exceptionClass(), excerpt(where + d.message(), 4000), d.stack(), d.payload(), 1, "POST",
                Secrets.maskUrl(task.url()), status, response, sha256(scope), excerpt(scope + ": " + d.normalized(),
                4000), task.next());
        return new RecordedTaskFailure(store(f), d.message());
    }

    private long store(Failure f) throws SQLException {
        long errorId;
        try {
            errorId = write(f);
            LOG.warn("Recorded error {} in {}: {} {}: {}", errorId, f.job() != null ? "job " + f.job()
                    : "route " + f.routeId(), f.category().db(), f.exceptionClass(), f.message());
        } catch (SQLException | RuntimeException e) {
            LOG.error("Cannot write the error row ({}); the failure was: time={} job={} route={} run={} item={}/{}"
                    + " category={} exception={} message={} attempts={} http={} {} {} payload={}\n{}",
                    Secrets.mask(e.getMessage()), f.at(), f.job(), f.routeId(), f.runId(), f.itemKey(),
                    f.itemVersion(), f.category().db(), f.exceptionClass(), f.message(), f.attempts(),
                    f.httpMethod(), f.httpUrl(), f.httpStatus(), f.payload(), f.stack());
            throw e;
        }
        recorded.accept(f.job(), f.category());
        return errorId;
    }

    /**
     * The row and its fingerprint in one transaction. Two failures of a new fingerprint at the same moment (parallel
     * branches of a process) both find no fingerprint and both insert it: the one refused by the key writes again,
     * and counts on the fingerprint the other opened.
     */
    private long write(Failure f) throws SQLException {
        try {
            return writeOnce(f);
        } catch (SQLException e) {
            if (!UNIQUE_VIOLATION.equals(e.getSQLState())) {
                throw e;
            }
            return writeOnce(f);
        }
    }

    private long writeOnce(Failure f) throws SQLException {
        return jdbc.inTransaction(tx -> {
            long id = insertError(tx, f);
            notify(tx, f, id);
            return id;
        });
    }

    /**
     * The item's earlier row of the same failure gets the count and the time (an item put back for a later run
     * meets the same outage at each attempt); any other failure gets a row of its own. Returns the row's id.
     */
    private static long insertError(Jdbc tx, Failure f) throws SQLException {
        if (f.job() != null && f.itemKey() != null) {
            Optional<Long> earlier = tx.queryFirst(SAME_ITEM_ERROR, ERROR_ID, f.job(), f.itemKey(), f.itemVersion(),
                    f.fingerprint());
            if (earlier.isPresent() && tx.update(COUNT_ERROR, f.at(), f.runId(), f.attempts(), f.message(),
                    f.stack(), earlier.get()) == 1) {
                return earlier.get();
            }
        }
        return tx.insertReturningKey(INSERT_ERROR, f.at(), f.job(), f.routeId(), f.runId(), f.itemKey(),
                f.itemVersion(), f.category().db(), f.exceptionClass(), f.message(), f.stack(), f.payload(),
                f.attempts(), f.httpMethod(), f.httpUrl(), f.httpStatus(), f.httpResponse(), f.fingerprint());
    }

    /** Opens, counts or reminds the fingerprint, and writes the alert it calls for. */
    private void notify(Jdbc tx, Failure f, long errorId) throws SQLException {
        Optional<Fingerprint> known = tx.queryFirst(SELECT_FINGERPRINT, FINGERPRINT, f.fingerprint());
        boolean opened;
        if (known.isEmpty()) {
            tx.update(INSERT_FINGERPRINT, f.fingerprint(), f.job(), f.category().db(), f.exceptionClass(),
                    f.normalized(), f.at(), f.at(), f.at());
            opened = true;
        } else if (tx.update(COUNT_FINGERPRINT, f.at(), f.fingerprint()) == 1) {
            opened = false;
        } else {
            opened = tx.update(REOPEN_FINGERPRINT, f.at(), f.at(), f.at(), f.fingerprint()) == 1;
        }
        Map<String, Object> values = values(tx, f, errorId);
        if (opened) {
            alerts.enqueue(tx, AlertKind.ERROR_OPENED, f.job(), f.fingerprint(), values);
            return;
        }
        Duration quiet = Duration.ofMillis(TimeUtils.toMilliSeconds(
                properties.resolveProperty("factory.alerts.reminder-after").orElse("24h").trim()));
        if (tx.update(REMIND_FINGERPRINT, f.at(), f.fingerprint(), f.at().minus(quiet)) == 1) {
            values.put("occurrences", known.get().occurrences() + 1);
            values.put("first_seen", known.get().firstSeen());
            values.put("last_seen", f.at());
            alerts.enqueue(tx, AlertKind.REMINDER, f.job(), f.fingerprint(), values);
        }
    }

    private Map<String, Object> values(Jdbc tx, Failure f, long errorId) throws SQLException {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("factory", properties.resolveProperty("camel.main.name").orElse("factory-runner"));
        v.put("job", f.job() != null ? f.job() : f.routeId() != null ? "(route " + f.routeId() + ")" : "-");
        v.put("run", f.runId() != null ? f.runId() : "-");
        v.put("item", f.itemKey() != null ? f.itemKey() + " version " + f.itemVersion() : "-");
        v.put("category", f.category().label(f.httpStatus()));
        v.put("exception", f.exceptionClass());
        v.put("message", f.message());
        v.put("headline", AlertTemplates.headline(f.message()));
        v.put("next", f.next());
        v.put("attempts", f.attempts());
        v.put("http", f.httpUrl() == null ? "-" : f.httpMethod() + " " + f.httpUrl() + " -> "
                + (f.httpStatus() == null ? "no answer" : f.httpStatus()));
        v.put("error_id", errorId);
        v.put("fingerprint", f.fingerprint());
        v.put("reminder_after", properties.resolveProperty("factory.alerts.reminder-after").orElse("24h"));
        v.put("config_changes", configChanges(tx, f));
        v.put("next_steps", NextSteps.of(properties.resolveProperty("factory.public-url")
                .orElse("http://localhost:8080"), f.job(), f.itemKey(), f.fingerprint()));
        return v;
    }

    /** The job's configuration values that differ between this run and its last good run, secrets masked. */
    private static String configChanges(Jdbc tx, Failure f) throws SQLException {
        if (f.runId() == null || f.job() == null) {
            return "  (not a job run)";
        }
        Map<String, String> now = readConfig(tx, RUN_CONFIG, f.runId());
        Map<String, String> good = readConfig(tx, LAST_GOOD_CONFIG, f.job(), f.runId());
        if (good == null) {
            return "  (no good run of " + f.job() + " to compare with)";
        }
        StringBuilder out = new StringBuilder();
        Map<String, String> all = new TreeMap<>(good);
        all.putAll(now == null ? Map.of() : now);
        for (String key : all.keySet()) {
            String before = good.get(key);
            String after = now == null ? null : now.get(key);
            if (before == null ? after != null : !before.equals(after)) {
                out.append("  ").append(key).append(": ").append(before).append(" -> ").append(after).append('\n');
            }
        }
        return out.length() == 0 ? "  (none)" : out.toString().stripTrailing();
    }

    /** The run's configuration as {@code job_run.config} holds it; null when there is no such run or no config. */
    private static Map<String, String> readConfig(Jdbc tx, String sql, Object... args) throws SQLException {
        Optional<String> json = tx.queryFirst(sql, CONFIG, args);
        if (json.isEmpty()) {
            return null;
        }
        try {
            return JSON.readValue(json.get(), new TypeReference<Map<String, String>>() { });
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    /**
     * The failure's message, with the database's own words when a SQL statement failed: a wrapper's message (Spring's
     * {@code bad SQL grammar []}) does not say what the database refused. A route's own message is kept before it.
     */
    private static String withDatabaseMessage(Throwable main) {
        String message = String.valueOf(main.getMessage());
        if (main instanceof SQLException) {
            return message;
        }
        for (Throwable t = main.getCause(); t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getMessage() != null) {
                String database = sql.getMessage().strip() + (sql.getSQLState() == null ? ""
                        : " (SQLState " + sql.getSQLState() + ")");
                return main instanceof FactoryException ? message + ": " + database : database;
            }
        }
        return message;
    }

    private static Throwable unwrap(Throwable error) {
        Throwable t = error;
        while ((t instanceof CamelExecutionException
                || t instanceof RuntimeCamelException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** Numbers, ids and quoted values vary between occurrences of one failure; they do not make a new one. */
    static String normalize(String message) {
        return message.replaceAll("[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}", "<uuid>").replaceAll("\\d+", "#")
                .replaceAll("'[^']*'", "'…'");
    }

    /**
     * The start of the failed message's body as text. A file names its path (its content may be what failed); a
     * body that cannot be read as text says so, so that the failure is still recorded.
     */
    private static String payload(Exchange exchange) {
        Object body = exchange.getMessage().getBody();
        if (body == null) {
            return null;
        }
        if (body instanceof GenericFile<?> file) {
            return "file " + file.getAbsoluteFilePath();
        }
        if (body instanceof File file) {
            return "file " + file.getAbsolutePath();
        }
        try {
            return excerpt(Secrets.mask(exchange.getMessage().getBody(String.class)), 2000);
        } catch (RuntimeException e) {
            return "(a " + body.getClass().getName() + " that cannot be read as text: " + e.getMessage() + ")";
        }
    }

    static String excerpt(String text, int max) {
        if (text == null) {
            return null;
        }
        return text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
