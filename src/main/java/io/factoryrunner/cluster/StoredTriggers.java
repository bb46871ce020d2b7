package io.factoryrunner.cluster;

import io.factoryrunner.job.JobComponent;
import io.factoryrunner.job.JobEndpoint;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.camel.CamelContext;
import org.apache.camel.DelegateEndpoint;
import org.apache.camel.Endpoint;
import org.apache.camel.Route;
import org.apache.camel.component.quartz.QuartzComponent;
import org.apache.camel.component.quartz.QuartzEndpoint;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.TriggerKey;
import org.quartz.impl.matchers.GroupMatcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The triggers a clustered job store keeps in the database outlive the routes that made them: a job removed from the
 * route files (or given no cron any more) would go on firing, on whichever node takes it, into a route that is not
 * there. At its start a node removes every stored trigger that none of its routes owns; every node of a cluster runs
 * the same route files.
 */
public final class StoredTriggers {

    private static final Logger LOG = LoggerFactory.getLogger(StoredTriggers.class);

    private StoredTriggers() {
    }

    /** Removes the stored triggers no route of this context owns; returns their keys. */
    public static List<TriggerKey> removeUnowned(CamelContext context) throws SchedulerException {
        Scheduler scheduler = context.getComponent("quartz", QuartzComponent.class).getScheduler();
        Set<TriggerKey> owned = owned(context);
        List<TriggerKey> removed = new ArrayList<>();
        for (String group : scheduler.getTriggerGroupNames()) {
            for (TriggerKey key : scheduler.getTriggerKeys(GroupMatcher.triggerGroupEquals(group))) {
                if (!owned.contains(key) && scheduler.unscheduleJob(key)) {
                    removed.add(key);
                    LOG.info("Removed the stored trigger {}: no route of this node fires on it any more (a job"
                            + " removed from the route files, or its cron)", key);
                }
            }
        }
        return removed;
    }

    /** The triggers of this context's routes, started or not: a job's with a cron, and every quartz: route's. */
    static Set<TriggerKey> owned(CamelContext context) {
        Set<TriggerKey> owned = new HashSet<>();
        for (Route route : context.getRoutes()) {
            Endpoint endpoint = route.getEndpoint();
            if (endpoint instanceof DelegateEndpoint delegate) {
                endpoint = delegate.getEndpoint();
            }
            if (endpoint instanceof JobEndpoint job && job.getCron() != null) {
                owned.add(new TriggerKey(job.getJob(), JobComponent.TRIGGER_GROUP));
            } else if (endpoint instanceof QuartzEndpoint quartz) {
                owned.add(quartz.getTriggerKey());
            }
        }
        return owned;
    }
}
