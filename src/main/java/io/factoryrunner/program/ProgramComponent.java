package io.factoryrunner.program;

import java.util.Map;
import org.apache.camel.Endpoint;
import org.apache.camel.spi.annotations.Component;
import org.apache.camel.support.DefaultComponent;

/**
 * The {@code program:} component: {@code from: program:send_report} makes a route a program job, a step that
 * programs submitted through the operator API (or the {@code programs} bean) run in their order. The route holds the
 * job's steps; the program executor claims the programs, runs each step through its job's route and records it.
 */
@Component("program")
public final class ProgramComponent extends DefaultComponent {

    private final ProgramJobs jobs;

    public ProgramComponent(ProgramJobs jobs) {
        this.jobs = jobs;
    }

    @Override
    protected Endpoint createEndpoint(String uri, String remaining, Map<String, Object> parameters) throws Exception {
        if (remaining == null || remaining.isBlank()) {
            throw new IllegalArgumentException("A program job endpoint needs the job's name: program:<name>");
        }
        ProgramEndpoint endpoint = new ProgramEndpoint(uri, this, remaining);
        setProperties(endpoint, parameters);
        return endpoint;
    }

    ProgramJobs jobs() {
        return jobs;
    }
}
