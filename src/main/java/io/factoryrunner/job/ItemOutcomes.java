package io.factoryrunner.job;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.logging.Secrets;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.camel.Exchange;
import org.apache.camel.support.ExchangeHelper;
import org.apache.camel.util.TimeUtils;

/**
 * What an item's exchange, once through the job's route, comes to: done with the body as the data handed on, failed,
 * deferred to the next run, or put back for a later run after a transient failure.
 */
final class ItemOutcomes {

    /** The answer for an item cut off by a stop: nothing is written for it. */
    static final JobStore.Result INTERRUPTED = new JobStore.Result(null, JobStore.Outcome.DEFERRED, null, null, 0);

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String job;
    private final FailureRecorder recorder;
    private final RetryAcrossRuns retry;
    private final Clock clock;

    /** {@code recorder} may be null: failures are then taken as recorded, and none is transient. */
    ItemOutcomes(String job, FailureRecorder recorder, RetryAcrossRuns retry, Clock clock) {
        this.job = job;
        this.recorder = recorder;
        this.retry = retry;
        this.clock = clock;
    }

    /**
     * The result to write for {@code item}; {@link #INTERRUPTED} when a stop cut it off; null when its failure could
     * not be recorded (the item must then stay claimed).
     */
    JobStore.Result of(JobStore.Item item, Exchange exchange) {
        if (Boolean.TRUE.equals(exchange.getProperty(FailureRecorder.INTERRUPTED, Boolean.class))) {
            return INTERRUPTED;
        }
        boolean recordedByRoute = Boolean.TRUE.equals(exchange.getProperty(FailureRecorder.RECORDED, Boolean.class));
        Throwable error = exchange.getException();
        if (error == null && (recordedByRoute || ExchangeHelper.isFailureHandled(exchange))) {
            // a dead-letter channel took the failure; a caught exception without that is from an attempt that a
            // later redelivery made good
            error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        }
        int retries = Math.max(0, exchange.getProperty(FailureRecorder.ATTEMPTS, 1, Integer.class) - 1);
        if (error != null) {
            boolean recorded = recordedByRoute || recorder == null || recorder.recordFailure(exchange, error);
            if (!recorded) {
                return null;
            }
            if (Boolean.TRUE.equals(exchange.getProperty(FailureRecorder.INTERRUPTED, Boolean.class))) {
                // the recorder found the failure to be a stop's
                return INTERRUPTED;
            }
            String message = Secrets.mask(error.getClass().getSimpleName() + ": " + error.getMessage());
            boolean later = recorder != null && recorder.isTransient(error);
            return later ? putBack(item, message, retries)
                    : new JobStore.Result(item, JobStore.Outcome.FAILED, item.data(), message, retries);
        }
        if (Boolean.TRUE.equals(exchange.getProperty(JobConstants.DEFER, Boolean.class))
                || Boolean.TRUE.equals(exchange.getMessage().getHeader(JobConstants.DEFER, Boolean.class))) {
            return new JobStore.Result(item, JobStore.Outcome.DEFERRED, item.data(), null, retries);
        }
        String data;
        try {
            data = bodyAsData(exchange);
        } catch (RuntimeException e) {
            // a body that cannot become the data handed on fails its item, not the run
            boolean recorded = recorder == null || recorder.recordFailure(exchange, e);
            return recorded ? new JobStore.Result(item, JobStore.Outcome.FAILED, item.data(),
                    Secrets.mask(e.getMessage()), retries) : null;
        }
        return new JobStore.Result(item, JobStore.Outcome.DONE, data, null, retries);
    }

    /**
     * An item whose transient failure outlasted the run's retries waits for a later run, as {@link RetryAcrossRuns}
     * says: longer after each attempt, and once its failures have lasted {@code retry.give-up-after} it is failed, for
     * a redrive, instead of being tried for ever.
     */
    private JobStore.Result putBack(JobStore.Item item, String message, int retries) {
        Instant now = clock.instant();
        Instant since = item.failingSince() != null ? item.failingSince() : now;
        Optional<Instant> next = retry.nextAttempt(job, item.attempts(), since, now);
        if (next.isEmpty()) {
            return new JobStore.Result(item, JobStore.Outcome.FAILED, item.data(), "given up after "
                    + TimeUtils.printDuration(retry.giveUpAfter(job).toMillis()) + " of transient failures since "
                    + since + ": " + message, retries);
        }
        JobStore.Item waiting = new JobStore.Item(item.key(), item.version(), item.data(), item.attempts(), since);
        return new JobStore.Result(waiting, JobStore.Outcome.DEFERRED, item.data(), message, retries, next.get());
    }

    private static String bodyAsData(Exchange exchange) {
        Object body = exchange.getMessage().getBody();
        if (body == null || body instanceof String) {
            return (String) body;
        }
        if (body instanceof Map || body instanceof List) {
            try {
                return JSON.writeValueAsString(body);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("The body of job item "
                        + exchange.getMessage().getHeader(JobConstants.ITEM_KEY) + " cannot be written as JSON: "
                        + e.getMessage(), e);
            }
        }
        return exchange.getMessage().getBody(String.class);
    }
}
