package io.factoryrunner.metrics;

import io.factoryrunner.job.JobEndpoint;
import java.time.Duration;
import org.apache.camel.Exchange;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.spi.CamelEvent.ExchangeEvent;
import org.apache.camel.support.EventNotifierSupport;

/**
 * Times each item of a job through the job's route: from its exchange's creation to its completion, failed or not.
 * An exchange is a job's item when it began at a {@code job:} consumer.
 */
public final class ItemDurations extends EventNotifierSupport {

    private final FactoryMetrics metrics;

    public ItemDurations(FactoryMetrics metrics) {
        this.metrics = metrics;
        setIgnoreCamelContextEvents(true);
        setIgnoreCamelContextInitEvents(true);
        setIgnoreRouteEvents(true);
        setIgnoreServiceEvents(true);
        setIgnoreStepEvents(true);
        setIgnoreExchangeCreatedEvent(true);
        setIgnoreExchangeSendingEvents(true);
        setIgnoreExchangeSentEvents(true);
        setIgnoreExchangeRedeliveryEvents(true);
        setIgnoreExchangeAsyncProcessingStartedEvents(true);
    }

    @Override
    public boolean isEnabled(CamelEvent event) {
        return event.getType() == CamelEvent.Type.ExchangeCompleted
                || event.getType() == CamelEvent.Type.ExchangeFailed;
    }

    @Override
    public void notify(CamelEvent event) {
        Exchange exchange = ((ExchangeEvent) event).getExchange();
        if (exchange.getFromEndpoint() instanceof JobEndpoint endpoint) {
            metrics.itemDone(endpoint.getJob(), Duration.ofMillis(exchange.getClock().elapsed()));
        }
    }
}
