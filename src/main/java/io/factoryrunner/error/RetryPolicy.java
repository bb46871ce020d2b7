package io.factoryrunner.error;

import io.factoryrunner.job.FailureRecorder;
import io.factoryrunner.job.JobConstants;
import io.factoryrunner.logging.Secrets;
import java.time.Duration;
import org.apache.camel.Exchange;
import org.apache.camel.Predicate;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides, after each failed attempt, whether the dead-letter channel delivers again and after how long: only
 * transient failures, up to {@code job.<name>.retry.max-attempts} attempts in all, waiting
 * {@code initial-delay * multiplier^n} capped at {@code max-delay}, or longer when the server asked for it with
 * Retry-After. Each key falls back to {@code factory.retry.*}. Read at every failure, so a change applies at once.
 */
public final class RetryPolicy implements Predicate {

    private static final Logger LOG = LoggerFactory.getLogger(RetryPolicy.class);

    private final PropertiesComponent properties;

    public RetryPolicy(PropertiesComponent properties) {
        this.properties = properties;
    }

    @Override
    public boolean matches(Exchange exchange) {
        // the error handler has moved the exception aside while it decides
        Throwable error = exchange.getException() != null ? exchange.getException()
                : exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        int attempts = exchange.getProperty(FailureRecorder.ATTEMPTS, 1, Integer.class);
        if (error == null || !ErrorClassifier.isTransient(error)) {
            return false;
        }
        String job = exchange.getMessage().getHeader(JobConstants.JOB, String.class);
        int max = Integer.parseInt(setting(job, "max-attempts", "3"));
        if (attempts >= max) {
            return false;
        }
        long initial = TimeUtils.toMilliSeconds(setting(job, "initial-delay", "1s"));
        double multiplier = Double.parseDouble(setting(job, "multiplier", "2"));
        long cap = TimeUtils.toMilliSeconds(setting(job, "max-delay", "1m"));
        long delay = Math.min(cap, (long) (initial * Math.pow(multiplier, attempts - 1)));
        long asked = ErrorClassifier.retryAfter(error).map(Duration::toMillis).orElse(0L);
        delay = Math.max(delay, Math.min(asked, cap));
        exchange.getMessage().setHeader(Exchange.REDELIVERY_DELAY, delay);
        exchange.setProperty(FailureRecorder.ATTEMPTS, attempts + 1);
        LOG.warn("{} attempt {} of {} failed ({}: {}); trying again in {} ms", job == null
                ? exchange.getFromRouteId() : "Job " + job, attempts, max, error.getClass().getSimpleName(),
                Secrets.mask(error.getMessage()), delay);
        return true;
    }

    private String setting(String job, String name, String defaultValue) {
        if (job != null) {
            var value = properties.resolveProperty("job." + job + ".retry." + name);
            if (value.isPresent() && !value.get().isBlank()) {
                return value.get().trim();
            }
        }
        return properties.resolveProperty("factory.retry." + name).map(String::trim).filter(v -> !v.isEmpty())
                .orElse(defaultValue);
    }
}
