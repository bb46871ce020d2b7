package io.factoryrunner.health;

import io.factoryrunner.db.Database;
import java.util.Map;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/**
 * Reports the factory database in Camel's health endpoint: up when it answers a validity check. Its details name the
 * dialect only: anyone who can reach the endpoint may ask for them ({@code ?data=true}), and a connection string
 * tells where the data lives and often how to get in.
 */
public final class DatabaseHealthCheck extends AbstractHealthCheck {

    private final Database database;

    public DatabaseHealthCheck(Database database) {
        super("factory", "database");
        this.database = database;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        builder.detail("database.dialect", database.dialect().name());
        if (database.isReachable()) {
            builder.up();
        } else {
            builder.message("database does not answer").down();
        }
    }
}
