package io.factoryrunner.job;

import java.util.Map;
import org.apache.camel.Endpoint;
import org.apache.camel.support.DefaultComponent;

/**
 * The {@code job:} component: {@code from: job:build?upstream=prepare&cron=...} makes a route a factory job.
 * The route holds only the business steps for one item; the component schedules runs, claims items, records
 * results and runs. Written as a component because it is the one place where Camel lets a route's start own
 * both the trigger and a loop over items with a commit per chunk.
 */
public final class JobComponent extends DefaultComponent {

    private final JobStore store;
    private final JobRegistry registry;
    private final String node;
    private FailureRecorder failureRecorder;
    private RunListener runListener;

    public JobComponent(JobStore store, JobRegistry registry, String node) {
        this.store = store;
        this.registry = registry;
        this.node = node;
    }

    @Override
    protected Endpoint createEndpoint(String uri, String remaining, Map<String, Object> parameters) throws Exception {
        if (remaining == null || remaining.isBlank()) {
            throw new IllegalArgumentException("A job endpoint needs the job's name: job:<name>");
        }
        Object cron = parameters.remove("cron");
        if (cron != null && !cron.toString().isBlank()) {
            parameters.put("scheduler", "quartz");
            parameters.put("scheduler.cron", cron.toString().trim());
            parameters.put("scheduler.triggerId", remaining);
            parameters.put("scheduler.triggerGroup", "factory-jobs");
        }
        JobEndpoint endpoint = new JobEndpoint(uri, this, remaining);
        if (cron != null && !cron.toString().isBlank()) {
            endpoint.setCron(cron.toString().trim().replace('+', ' '));
        }
        setProperties(endpoint, parameters);
        return endpoint;
    }

    public void setFailureRecorder(FailureRecorder failureRecorder) {
        this.failureRecorder = failureRecorder;
    }

    public void setRunListener(RunListener runListener) {
        this.runListener = runListener;
    }

    FailureRecorder failureRecorder() {
        return failureRecorder;
    }

    RunListener runListener() {
        return runListener;
    }

    JobStore store() {
        return store;
    }

    JobRegistry registry() {
        return registry;
    }

    String node() {
        return node;
    }
}
