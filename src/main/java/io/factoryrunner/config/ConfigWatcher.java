package io.factoryrunner.config;

import io.factoryrunner.routes.RouteCatalog;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.camel.CamelContext;
import org.apache.camel.model.Model;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls the configuration table so that a change reaches the jobs without a restart. Values read at run time
 * ({@code ${properties:key}}) see the new snapshot at once. A route whose file uses a changed key as a
 * {@code {{key}}} placeholder (resolved by Camel only when the route is created) is created again from its
 * definition, between runs: a route with an exchange in flight is left for the next poll.
 */
public final class ConfigWatcher extends ServiceSupport {

    private static final Logger LOG = LoggerFactory.getLogger(ConfigWatcher.class);

    private final CamelContext context;
    private final ConfigTablePropertiesSource source;
    private final RouteCatalog catalog;
    private final Duration interval;
    private final Set<String> pendingRoutes = new LinkedHashSet<>();
    private ScheduledExecutorService executor;

    public ConfigWatcher(CamelContext context, ConfigTablePropertiesSource source, RouteCatalog catalog,
            Duration interval) {
        this.context = context;
        this.source = source;
        this.catalog = catalog;
        this.interval = interval;
    }

    @Override
    protected void doStart() {
        executor = context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "config-watcher");
        executor.scheduleWithFixedDelay(this::pollSafely, interval.toMillis(), interval.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    @Override
    protected void doStop() {
        if (executor != null) {
            context.getExecutorServiceManager().shutdownNow(executor);
            executor = null;
        }
    }

    private void pollSafely() {
        try {
            poll();
        } catch (Exception e) {
            LOG.warn("Cannot read the configuration table, keeping the values read before: {}", e.getMessage());
        }
    }

    /** Reads the table once and applies what changed. */
    public synchronized void poll() throws Exception {
        Set<String> changed = source.refresh();
        if (!changed.isEmpty()) {
            LOG.info("Configuration changed in table factory_config: {}", changed);
            pendingRoutes.addAll(catalog.routesUsing(changed));
        }
        for (String routeId : Set.copyOf(pendingRoutes)) {
            if (recreate(routeId)) {
                pendingRoutes.remove(routeId);
            }
        }
    }

    private boolean recreate(String routeId) throws Exception {
        Model model = context.getCamelContextExtension().getContextPlugin(Model.class);
        RouteDefinition definition = model.getRouteDefinition(routeId);
        if (definition == null) {
            return true;
        }
        org.apache.camel.Route route = context.getRoute(routeId);
        boolean runGoing = route != null && route.getConsumer() instanceof io.factoryrunner.job.JobConsumer job
                && job.isRunning();
        // a job's run has no exchange in flight between two items, or while it commits a chunk
        if (runGoing || context.getInflightRepository().size(routeId) > 0) {
            LOG.debug("Route {} is busy; its new configuration applies after the current run", routeId);
            return false;
        }
        boolean wasStarted = context.getRouteController().getRouteStatus(routeId).isStarted();
        model.removeRouteDefinition(definition);
        model.addRouteDefinition(definition);
        if (!wasStarted && context.getRouteController().getRouteStatus(routeId).isStarted()) {
            context.getRouteController().stopRoute(routeId);
        }
        LOG.info("Route {} recreated with the new configuration", routeId);
        return true;
    }
}
