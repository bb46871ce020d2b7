package io.factoryrunner.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import io.factoryrunner.api.ApiTokens.Caller;
import io.factoryrunner.api.ApiTokens.Role;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.model.rest.RestBindingMode;
import org.apache.camel.model.rest.RestDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator API, on the factory's own HTTP server (Camel's REST DSL on platform-http): jobs, runs, items, errors,
 * alerts, configuration, tokens and the audit, each call with a bearer token whose role allows it. Its contract is
 * served as OpenAPI 3 at {@code /api/openapi.json}. Every answer other than success has one shape:
 * {@code {"error": "...", "detail": ...}}.
 */
public final class OperatorApi extends RouteBuilder {

    private static final Logger LOG = LoggerFactory.getLogger(OperatorApi.class);
    static final String CALLER = "FactoryApiCaller";
    private static final int MAX_LIMIT = 500;

    static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new SimpleModule().addSerializer(Instant.class, ToStringSerializer.instance))
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

    private final ApiTokens tokens;
    private final OperatorActions actions;
    private final List<Extension> extensions;

    public OperatorApi(ApiTokens tokens, OperatorActions actions) {
        this(tokens, actions, List.of());
    }

    public OperatorApi(ApiTokens tokens, OperatorActions actions, List<Extension> extensions) {
        this.tokens = tokens;
        this.actions = actions;
        this.extensions = List.copyOf(extensions);
    }

    /** One call's handling, given the caller and the request. */
    @FunctionalInterface
    public interface Handler {
        Object handle(Caller caller, Message in) throws Exception;
    }

    /**
     * Calls another package adds under {@code /api}, each through {@link #call}: the same tokens, roles, error body
     * and contract as the calls of this class.
     */
    @FunctionalInterface
    public interface Extension {
        void addCalls(OperatorApi api, RestDefinition rest);
    }

    @Override
    public void configure() {
        restConfiguration().component("platform-http").bindingMode(RestBindingMode.off)
                .apiContextPath("/api/openapi.json").apiContextRouteId("api-openapi").apiVendorExtension(false)
                .apiProperty("api.title", "Factory Runner operator API")
                .apiProperty("api.version", "1")
                .apiProperty("api.description", "See the factory's jobs, runs, items and errors, and act on them."
                        + " Every call needs 'Authorization: Bearer <token>'.");

        onException(ApiError.class).handled(true).process(e -> fail(e, e.getProperty(Exchange.EXCEPTION_CAUGHT,
                ApiError.class)));
        onException(JsonProcessingException.class).handled(true).process(e -> fail(e, ApiError.badRequest(
                "The request body is not valid JSON: " + e.getProperty(Exchange.EXCEPTION_CAUGHT,
                        JsonProcessingException.class).getOriginalMessage())));
        onException(IllegalArgumentException.class).handled(true).process(e -> fail(e, ApiError.badRequest(
                e.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class).getMessage())));
        onException(SQLException.class).handled(true).process(e -> {
            LOG.warn("Operator API: the database failed: {}", Secrets.mask(e.getProperty(Exchange.EXCEPTION_CAUGHT,
                    Exception.class).getMessage()));
            fail(e, new ApiError(503, "The database does not answer; try again shortly"));
        });
        onException(Exception.class).handled(true).process(e -> {
            Exception error = e.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
            LOG.error("Operator API: {} failed", e.getMessage().getHeader(Exchange.HTTP_URI), error);
            fail(e, new ApiError(500, "The factory could not answer: " + Secrets.mask(String.valueOf(
                    error.getMessage()))));
        });

        RestDefinition api = rest("/api").produces("application/json");

        call(api.get("/me").description("The caller: its token's name and role"),
                "api-me", Role.VIEWER, (c, in) -> Map.of("name", c.name(), "role", c.role().db()));
        call(api.get("/jobs").description("Every job, upstream before downstream: chain, schedule, pause, last run,"
                + " item counts; with runs=N (up to 100) its N latest runs too"),
                "api-jobs", Role.VIEWER, (c, in) -> Map.of("jobs", actions.jobs(count(in, "runs"))));
        call(api.get("/jobs/{job}").description("One job"),
                "api-job", Role.VIEWER, (c, in) -> actions.job(text(in, "job")));
        call(api.post("/jobs/{job}/trigger").description("Starts a run now: 202 with its id, 409 when one is going"),
                "api-job-trigger", Role.OPERATOR, (c, in) -> accepted(actions.trigger(c, text(in, "job"))));
        call(api.post("/jobs/{job}/pause").description("Pauses the job at once (job.<name>.paused = true)"),
                "api-job-pause", Role.OPERATOR, (c, in) -> actions.pause(c, text(in, "job"), true, note(in)));
        call(api.post("/jobs/{job}/resume").description("Resumes the job at once (job.<name>.paused = false)"),
                "api-job-resume", Role.OPERATOR, (c, in) -> actions.pause(c, text(in, "job"), false, note(in)));

        call(api.get("/runs").description("Runs, newest first; filters job, status, since; keyset paging by after"),
                "api-runs", Role.VIEWER, (c, in) -> actions.runs(optional(in, "job"),
                        optional(in, "status"), instant(in, "since"), limit(in), longParam(in, "after")));
        call(api.get("/runs/{id}").description("One run with its configuration, items and errors"),
                "api-run", Role.VIEWER, (c, in) -> actions.run(longParam(in, "id")));

        call(api.get("/items/{job}").description("A job's items in key order; filters status, key; keyset paging"),
                "api-items", Role.VIEWER, (c, in) -> actions.items(text(in, "job"), optional(in, "status"),
                        optional(in, "key"), limit(in), optional(in, "after")));
        call(api.get("/items/{job}/{key}").description("One item's story across every job of the chain"),
                "api-item", Role.VIEWER, (c, in) -> actions.item(text(in, "job"), text(in, "key")));
        call(api.post("/items/{job}/{key}/redrive").description("Puts a failed item back (latest failed version"
                + " unless version is given); 409 naming its status when it is not failed"),
                "api-item-redrive", Role.OPERATOR, (c, in) -> actions.redrive(c, text(in, "job"), text(in, "key"),
                        optional(in, "version"), note(in)));

        call(api.get("/errors").description("Error fingerprints, most recently seen first; filters status, job"),
                "api-errors", Role.VIEWER, (c, in) -> actions.fingerprints(optional(in, "status"),
                        optional(in, "job"), limit(in), optional(in, "after")));
        call(api.get("/errors/{fingerprint}").description("One fingerprint with its latest occurrences"),
                "api-error", Role.VIEWER, (c, in) -> actions.fingerprint(text(in, "fingerprint")));
        call(api.post("/errors/{fingerprint}/acknowledge").description("Acknowledges a fingerprint, with a note"),
                "api-error-acknowledge", Role.OPERATOR, (c, in) -> actions.setFingerprintStatus(c,
                        text(in, "fingerprint"), "acknowledged", note(in)));
        call(api.post("/errors/{fingerprint}/resolve").description("Resolves a fingerprint, with a note"),
                "api-error-resolve", Role.OPERATOR, (c, in) -> actions.setFingerprintStatus(c,
                        text(in, "fingerprint"), "resolved", note(in)));
        call(api.post("/errors/{fingerprint}/redrive").description("Redrives every item failed under the"
                + " fingerprint"), "api-error-redrive", Role.OPERATOR,
                (c, in) -> actions.redriveFingerprint(c, text(in, "fingerprint"), note(in)));

        call(api.get("/alerts").description("The alert outbox, newest first; filter status (pending, sent)"),
                "api-alerts", Role.VIEWER, (c, in) -> actions.queries().alerts(optional(in, "status"), limit(in),
                        longParam(in, "after")));
        call(api.post("/alerts/{id}/resend").description("Sends an alert again: a pending one now, a sent one as a"
                + " new alert"), "api-alert-resend", Role.OPERATOR, (c, in) -> actions.resend(c,
                        longParam(in, "id"), note(in)));

        call(api.get("/config").description("Every configuration key, value and source; secrets masked"),
                "api-config", Role.VIEWER, (c, in) -> Map.of("config", actions.config()));
        call(api.put("/config/{key}").description("Writes a key to factory_config with the start-up checks:"
                + " body {\"value\": \"...\", \"secret\": false, \"description\": \"...\"}"),
                "api-config-put", Role.ADMIN, (c, in) -> actions.setConfig(c, text(in, "key"), body(in)));

        call(api.get("/tokens").description("The API tokens (never their secret)"), "api-tokens", Role.ADMIN,
                (c, in) -> Map.of("tokens", tokens.list()));
        call(api.post("/tokens").description("Creates a token: body {\"name\": \"...\", \"role\": \"viewer\"};"
                + " the answer holds the token, shown once"), "api-token-create", Role.ADMIN,
                (c, in) -> created(actions.createToken(c, body(in))));
        call(api.delete("/tokens/{name}").description("Revokes a token"), "api-token-revoke", Role.ADMIN,
                (c, in) -> actions.revokeToken(c, text(in, "name")));

        call(api.get("/nodes").description("The nodes sharing the database: up or silent (by the database's clock),"
                + " last heartbeat, version, start, clock offset and the runs each has going"),
                "api-nodes", Role.VIEWER, (c, in) -> Map.of("nodes", actions.nodes()));

        call(api.get("/audit").description("Actions taken through the API, newest first; filters actor, action"),
                "api-audit", Role.VIEWER, (c, in) -> actions.queries().audit(optional(in, "actor"),
                        optional(in, "action"), limit(in), longParam(in, "after")));

        extensions.forEach(extension -> extension.addCalls(this, api));
    }

    /** Serves one call: the caller's token must have {@code role}; the handler's answer is the JSON body. */
    public void call(RestDefinition verb, String id, Role role, Handler handler) {
        verb.id(id).responseMessage().code(400).message("A parameter or the body is malformed").endResponseMessage()
                .responseMessage().code(401).message("No token, or an unknown one").endResponseMessage()
                .responseMessage().code(403).message("The token's role does not allow this call").endResponseMessage()
                .responseMessage().code(404).message("No such job, run, item, error, alert or program")
                .endResponseMessage()
                .responseMessage().code(409).message("The target is not in a state this action takes")
                .endResponseMessage()
                .responseMessage().code(503).message("The database does not answer").endResponseMessage()
                .to("direct:" + id);
        from("direct:" + id).routeId(id).process(e -> {
            Message in = e.getMessage();
            Caller caller = authenticate(in, role);
            in.removeHeader("Authorization");
            Object answer = handler.handle(caller, in);
            if (!(answer instanceof Status)) {
                answer = new Status(200, answer, null);
            }
            Status status = (Status) answer;
            in.removeHeaders("*");
            in.setHeader(Exchange.HTTP_RESPONSE_CODE, status.code());
            in.setHeader(Exchange.CONTENT_TYPE, "application/json");
            if (status.location() != null) {
                in.setHeader("Location", status.location());
            }
            // values the factory knows as secrets never leave it, whatever row they were copied into
            in.setBody(Secrets.mask(JSON.writeValueAsString(status.body())));
        });
    }

    private Caller authenticate(Message in, Role needed) throws SQLException {
        String header = in.getHeader("Authorization", String.class);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiError(401, "This call needs 'Authorization: Bearer <token>'");
        }
        Caller caller = tokens.verify(header.substring(7).trim())
                .orElseThrow(() -> new ApiError(401, "The token is unknown or revoked"));
        if (!caller.role().allows(needed)) {
            throw new ApiError(403, "Token '" + caller.name() + "' has role " + caller.role().db() + "; this call"
                    + " needs " + needed.db());
        }
        return caller;
    }

    /** A success other than 200 OK. */
    public record Status(int code, Object body, String location) {
    }

    private static Status accepted(Map<String, Object> run) {
        return new Status(202, run, "/api/runs/" + run.get("runId"));
    }

    private static Status created(Map<String, Object> token) {
        return new Status(201, token, "/api/tokens/" + token.get("name"));
    }

    private static void fail(Exchange e, ApiError error) throws JsonProcessingException {
        Message out = e.getMessage();
        out.removeHeaders("*");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, error.status());
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", Secrets.mask(error.getMessage()));
        body.put("detail", error.detail());
        out.setBody(JSON.writeValueAsString(body));
    }

    public static String text(Message in, String name) {
        String value = in.getHeader(name, String.class);
        if (value == null || value.isBlank()) {
            throw ApiError.badRequest("Parameter '" + name + "' is missing");
        }
        return value;
    }

    public static String optional(Message in, String name) {
        String value = in.getHeader(name, String.class);
        return value == null || value.isBlank() ? null : value.trim();
    }

    public static Long longParam(Message in, String name) {
        String value = optional(in, name);
        if (value == null) {
            return null;
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("Parameter '" + name + "' must be a whole number; got '" + value + "'");
        }
    }

    /** A count parameter, 0 when absent. */
    static int count(Message in, String name) {
        Long value = longParam(in, name);
        if (value != null && (value < 0 || value > Integer.MAX_VALUE)) {
            throw ApiError.badRequest("Parameter '" + name + "' must be a count; got " + value);
        }
        return value == null ? 0 : value.intValue();
    }

    public static int limit(Message in) {
        Long limit = longParam(in, "limit");
        if (limit == null) {
            return 50;
        }
        if (limit < 1 || limit > MAX_LIMIT) {
            throw ApiError.badRequest("Parameter 'limit' must be between 1 and " + MAX_LIMIT + "; got " + limit);
        }
        return limit.intValue();
    }

    static Instant instant(Message in, String name) {
        String value = optional(in, name);
        if (value == null) {
            return null;
        }
        try {
            return Instant.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiError.badRequest("Parameter '" + name + "' must be an ISO-8601 instant such as"
                    + " 2026-01-31T12:00:00Z; got '" + value + "'");
        }
    }

    /** The JSON object of the body; an empty body is an empty object. */
    public static JsonNode body(Message in) throws JsonProcessingException {
        String text = in.getBody(String.class);
        if (text == null || text.isBlank()) {
            return JSON.createObjectNode();
        }
        JsonNode node = JSON.readTree(text);
        if (!node.isObject()) {
            throw ApiError.badRequest("The request body must be a JSON object; got " + node.getNodeType()
                    .name().toLowerCase(Locale.ROOT));
        }
        return node;
    }

    /** The optional {@code note} of an action, from the body's "note" or the query parameter. */
    public static String note(Message in) throws JsonProcessingException {
        JsonNode body = body(in);
        JsonNode note = body.get("note");
        if (note != null && !note.isNull() && !note.isTextual()) {
            throw ApiError.badRequest("Field 'note' of the body must be a string");
        }
        return note != null && note.isTextual() ? note.asText() : optional(in, "note");
    }
}
