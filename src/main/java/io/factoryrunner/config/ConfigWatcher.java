package io.factoryrunner.config;

import io.factoryrunner.job.JobConsumer;
import io.factoryrunner.logging.Secrets;
import io.factoryrunner.routes.RouteCatalog;
import io.factoryrunner.support.PeriodicService;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.apache.camel.component.quartz.QuartzComponent;
import org.apache.camel.model.Model;
import org.apache.camel.model.RouteDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls the configuration table so that a change reaches the jobs without a restart. Values read at run time
 * ({@code ${properties:key}}) see the new snapshot at once. A route whose file uses a changed key as a
 * {@code {{key}}} placeholder (resolved by Camel only when the route is created) is created again from its
 * definition, between runs: a route with an exchange in flight is left for the next poll.
 */
public final class ConfigWatcher extends PeriodicService {

    private static final Logger LOG = LoggerFactory.getLogger(ConfigWatcher.class);
    /** How long a re-creation waits for the fires of quartz: routes under way to end before it tries again later. */
    private static final Duration FIRES_WAIT = Duration.ofSeconds(1);

    private final CamelContext context;
    private final ConfigTablePropertiesSource source;
    private final RouteCatalog catalog;
    /** Routes to create again, with the values their changed keys had before (to put back if they are refused). */
    private final Map<String, Map<String, ConfigTable.Entry>> pendingRoutes = new LinkedHashMap<>();
    private final Refusals refusals;
    /** The values the poll under way refused, for its caller; polls are serialized. */
    private final Map<String, String> refusedThisPoll = new LinkedHashMap<>();
    private final QuartzFiresGate fires = new QuartzFiresGate();

    /** Told of every value of the table that is refused: the factory records it as an error and alerts. */
    @FunctionalInterface
    public interface Refusals {
        void refused(String key, String reason);
    }

    public ConfigWatcher(CamelContext context, ConfigTablePropertiesSource source, RouteCatalog catalog,
            Duration interval, Refusals refusals) {
        super(context, "config-watcher", interval);
        this.refusals = refusals;
        this.context = context;
        this.source = source;
        this.catalog = catalog;
        // before the scheduler starts, so that every fire of a quartz: route passes the gate
        context.getComponent("quartz", QuartzComponent.class).addScheduleInitTask(fires::register);
    }

    @Override
    protected void runOnce() {
        try {
            poll();
        } catch (Exception e) {
            LOG.warn("Cannot read the configuration table, keeping the values read before: {}", e.getMessage());
        }
    }

    /** A write to the configuration table. */
    @FunctionalInterface
    public interface TableWrite {
        void write() throws Exception;
    }

    /**
     * Makes {@code write} and applies it at once, answering the values this refused (key to the reason). No periodic
     * poll comes between the two, so the refusal of the value written is answered here and not taken by that poll.
     */
    public synchronized Map<String, String> writeAndPoll(TableWrite write) throws Exception {
        write.write();
        return poll();
    }

    /**
     * Reads the table once and applies what changed; returns the values refused by this poll (key to the reason): a
     * value of the wrong type, or one a route that uses it cannot be created with.
     */
    public synchronized Map<String, String> poll() throws Exception {
        refusedThisPoll.clear();
        Map<String, ConfigTable.Entry> before = source.entries();
        ConfigTablePropertiesSource.Refresh refresh = source.refresh(
                (key, value) -> ConfigValidator.check(context.getPropertiesComponent(), key, value));
        refresh.refused().forEach((key, reason) -> refuse(key, reason + "; the factory keeps the value it had"));
        Set<String> changed = refresh.changed();
        if (!changed.isEmpty()) {
            LOG.info("Configuration changed in table factory_config: {}", changed);
            for (String key : changed) {
                for (String routeId : catalog.routesUsing(Set.of(key))) {
                    pendingRoutes.computeIfAbsent(routeId, id -> new HashMap<>()).putIfAbsent(key, before.get(key));
                }
            }
        }
        for (String routeId : Set.copyOf(pendingRoutes.keySet())) {
            if (recreate(routeId)) {
                pendingRoutes.remove(routeId);
            }
        }
        return Map.copyOf(refusedThisPoll);
    }

    private void refuse(String key, String reason) {
        refusedThisPoll.put(key, reason);
        LOG.error("{}; fix the row in factory_config", reason);
        try {
            refusals.refused(key, reason);
        } catch (RuntimeException e) {
            LOG.error("Cannot record the refused value of '{}': {}", key, Secrets.mask(e.getMessage()));
        }
    }

    private boolean recreate(String routeId) throws Exception {
        Model model = context.getCamelContextExtension().getContextPlugin(Model.class);
        RouteDefinition definition = model.getRouteDefinition(routeId);
        if (definition == null) {
            return true;
        }
        Route route = context.getRoute(routeId);
        boolean runGoing = route != null && route.getConsumer() instanceof JobConsumer job && job.isRunning();
        // a job's run has no exchange in flight between two items, or while it commits a chunk
        if (runGoing || context.getInflightRepository().size(routeId) > 0) {
            LOG.debug("Route {} is busy; its new configuration applies after the current run", routeId);
            return false;
        }
        boolean[] done = {false};
        if (!fires.whileNoFire(FIRES_WAIT, () -> done[0] = recreate(routeId, model, definition))) {
            LOG.debug("Route {}: a quartz fire is under way; its new configuration applies at the next poll", routeId);
        }
        return done[0];
    }

    private boolean recreate(String routeId, Model model, RouteDefinition definition) throws Exception {
        boolean wasStarted = context.getRouteController().getRouteStatus(routeId).isStarted();
        model.removeRouteDefinition(definition);
        String outcome = "recreated with the new configuration";
        try {
            model.addRouteDefinition(definition);
        } catch (Exception e) {
            outcome = "put back with the values it had";
            // the new values passed their type's check but the route refuses them: the route goes back as it was
            Map<String, ConfigTable.Entry> previous = pendingRoutes.getOrDefault(routeId, Map.of());
            source.restore(previous, previous.keySet());
            String reason = "Route '" + routeId + "' cannot be created with the new value of "
                    + previous.keySet() + ": " + Secrets.mask(deepestMessage(e));
            previous.keySet().forEach(key -> refuse(key, reason + "; the route runs on the value it had"));
            if (model.getRouteDefinition(routeId) != null) {
                model.removeRouteDefinition(definition);
            }
            try {
                model.addRouteDefinition(definition);
            } catch (Exception again) {
                LOG.error("Route {} cannot be created again with the values it had: {}; it stays stopped", routeId,
                        Secrets.mask(deepestMessage(again)));
                previous.keySet().forEach(key -> refuse(key, "Route '" + routeId + "' is stopped: it cannot be"
                        + " created with the new value of " + key + " nor with the one before"));
                return true;
            }
        }
        if (!wasStarted && context.getRouteController().getRouteStatus(routeId).isStarted()) {
            context.getRouteController().stopRoute(routeId);
        }
        LOG.info("Route {} {}", routeId, outcome);
        return true;
    }

    private static String deepestMessage(Throwable error) {
        String message = error.getMessage();
        for (Throwable t = error.getCause(); t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                message = t.getMessage();
            }
        }
        return String.valueOf(message);
    }
}
