package io.factoryrunner.program;

import io.factoryrunner.support.EndpointNames;
import java.util.Optional;
import org.apache.camel.Category;
import org.apache.camel.Consumer;
import org.apache.camel.Processor;
import org.apache.camel.Producer;
import org.apache.camel.spi.Metadata;
import org.apache.camel.spi.UriEndpoint;
import org.apache.camel.spi.UriParam;
import org.apache.camel.spi.UriPath;
import org.apache.camel.support.DefaultEndpoint;

/**
 * One program job: the route that starts with it runs each program step that names the job. A program job has one
 * route; a second route starting with the same name stops the start naming both files.
 */
@UriEndpoint(firstVersion = "0.1.0", scheme = "program", title = "Factory Program Job", syntax = "program:name",
        remote = false, consumerOnly = true, category = {Category.SCHEDULING}, headersClass = ProgramConstants.class)
public final class ProgramEndpoint extends DefaultEndpoint {

    @UriPath(name = "name", description = "The program job's name, unique in the factory; programs name their jobs"
            + " by it.")
    @Metadata(required = true)
    private final String job;
    @UriParam(label = "consumer", description = "What the job does and the data it expects (program data, job data,"
            + " arguments), shown by GET /api/program-jobs.")
    private String description;

    ProgramEndpoint(String uri, ProgramComponent component, String job) {
        super(uri, component);
        this.job = job;
    }

    @Override
    public ProgramComponent getComponent() {
        return (ProgramComponent) super.getComponent();
    }

    @Override
    public Producer createProducer() {
        throw new UnsupportedOperationException("program:" + job + " only starts a route; to start a program from a"
                + " route, send its submission to the programs bean (bean: {ref: programs, method: submit})");
    }

    @Override
    public Consumer createConsumer(Processor processor) throws Exception {
        ProgramConsumer consumer = new ProgramConsumer(this, processor);
        configureConsumer(consumer);
        return consumer;
    }

    /** The program job an endpoint URI names ({@code program:send_report?description=...} names send_report). */
    public static Optional<String> jobNameOf(String uri) {
        return EndpointNames.nameOf("program", uri);
    }

    public String getJob() {
        return job;
    }

    public String getDescription() {
        return description;
    }

    /** What the job does and the data it expects, for GET /api/program-jobs. */
    public void setDescription(String description) {
        this.description = description;
    }
}
