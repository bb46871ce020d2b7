package io.factoryrunner.program;

import io.factoryrunner.job.FailureRecorder;
import java.sql.SQLException;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.support.DefaultConsumer;
import org.apache.camel.support.ExchangeHelper;
import org.slf4j.MDC;

/**
 * Runs one step of a program through the job's route, on the executor's worker thread, as one exchange. The consumer
 * only hands the step to the route: claiming programs and recording their steps is the {@link ProgramExecutor}'s.
 */
public final class ProgramConsumer extends DefaultConsumer {

    /** Exchange property: the step under way, for the jobData bean. */
    static final String STEP_CONTEXT = "FactoryProgramStepContext";

    /** What the route made of a step: its exchange (alive while the caller looks at it) and the failure, if any. */
    record StepRun(Exchange exchange, Throwable error) {
    }

    /** Looks at what came of a step while its exchange is alive: records it, and says what comes next. */
    @FunctionalInterface
    interface Outcome<T> {
        T of(StepRun run) throws SQLException;
    }

    ProgramConsumer(ProgramEndpoint endpoint, Processor processor) {
        super(endpoint, processor);
    }

    @Override
    public ProgramEndpoint getEndpoint() {
        return (ProgramEndpoint) super.getEndpoint();
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        getEndpoint().getComponent().jobs().register(this);
    }

    @Override
    protected void doStop() throws Exception {
        getEndpoint().getComponent().jobs().unregister(this);
        super.doStop();
    }

    /** Sends the step through the route and has {@code outcome} look at what came of it before the exchange goes. */
    <T> T run(StepContext step, Outcome<T> outcome) throws SQLException {
        Exchange exchange = createExchange(false);
        exchange.getMessage().setBody(step.input());
        exchange.getMessage().setHeader(ProgramConstants.RUN_ID, step.runId());
        exchange.getMessage().setHeader(ProgramConstants.JOB, step.job());
        exchange.getMessage().setHeader(ProgramConstants.STEP, step.step());
        exchange.getMessage().setHeader(ProgramConstants.ATTEMPT, step.attempt());
        exchange.setProperty(ProgramConstants.PROGRAM_DATA, step.programData());
        exchange.setProperty(ProgramConstants.JOB_DATA, step.jobData());
        exchange.setProperty(ProgramConstants.ARGUMENTS, step.arguments());
        exchange.setProperty(STEP_CONTEXT, step);
        // the dead-letter channel of every route would write the error row now; the executor writes it itself, once it
        // knows whether the step is tried again (a retryable failure is no error of the program yet)
        exchange.setProperty(FailureRecorder.RECORDED, true);
        MDC.put("program", step.runId());
        MDC.put("job", step.job());
        try {
            try {
                getProcessor().process(exchange);
            } catch (Exception e) {
                exchange.setException(e);
            }
            Throwable error = exchange.getException();
            if (error == null && ExchangeHelper.isFailureHandled(exchange)) {
                // a dead-letter channel took the failure; a caught exception without that is from an attempt that a
                // later redelivery made good
                error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
            }
            exchange.removeProperty(FailureRecorder.RECORDED);
            return outcome.of(new StepRun(exchange, error));
        } finally {
            releaseExchange(exchange, false);
            MDC.remove("program");
            MDC.remove("job");
        }
    }
}
