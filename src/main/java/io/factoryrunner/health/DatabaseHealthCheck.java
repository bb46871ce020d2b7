package io.factoryrunner.health;

import io.factoryrunner.db.Database;
import io.factoryrunner.logging.Secrets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/**
 * Reports the factory database in Camel's health endpoint: up when it answers a validity check. The check waits
 * at most {@link #WAIT}: while the database is down, taking a connection from the pool waits the whole connect
 * timeout, and a health probe must answer well before its caller gives up. A check still waiting for the pool is
 * shared by the probes that come meanwhile, so a down database never holds more than one thread. Its details name
 * the dialect only: anyone who can reach the endpoint may ask for them ({@code ?data=true}), and a connection string
 * tells where the data lives and often how to get in.
 */
public final class DatabaseHealthCheck extends AbstractHealthCheck {

    static final Duration WAIT = Duration.ofSeconds(1);

    private final Database database;
    /** One thread at most, and none once idle: a factory stopped in a running JVM leaves no thread behind. */
    private final Executor probe = new ThreadPoolExecutor(0, 1, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
            r -> {
                Thread t = new Thread(r, "factory-database-health");
                t.setDaemon(true);
                return t;
            });
    private CompletableFuture<Boolean> inFlight = CompletableFuture.completedFuture(true);

    public DatabaseHealthCheck(Database database) {
        super("factory", "database");
        this.database = database;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        builder.detail("database.dialect", database.dialect().name());
        try {
            if (reachable().get(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                builder.up();
            } else {
                builder.message("database does not answer").down();
            }
        } catch (TimeoutException e) {
            builder.message("database does not answer within " + WAIT.toMillis() + " ms").down();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            builder.message("interrupted while checking the database").down();
        } catch (ExecutionException e) {
            builder.message("database does not answer: " + Secrets.mask(String.valueOf(e.getCause()))).down();
        }
    }

    private synchronized CompletableFuture<Boolean> reachable() {
        if (inFlight.isDone()) {
            inFlight = CompletableFuture.supplyAsync(database::isReachable, probe);
        }
        return inFlight;
    }
}
