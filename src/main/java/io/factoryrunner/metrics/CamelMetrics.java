package io.factoryrunner.metrics;

import io.factoryrunner.job.JobEndpoint;
import java.util.List;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.NamedNode;
import org.apache.camel.component.micrometer.eventnotifier.MicrometerExchangeEventNotifier;
import org.apache.camel.component.micrometer.routepolicy.MicrometerRoutePolicyFactory;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.spi.CamelEvent.ExchangeEvent;
import org.apache.camel.spi.EventNotifier;
import org.apache.camel.spi.ManagementStrategy;
import org.apache.camel.spi.RoutePolicy;
import org.apache.camel.spi.RoutePolicyFactory;
import org.apache.camel.support.EventNotifierSupport;
import org.apache.camel.support.service.ServiceHelper;
import org.apache.camel.support.service.ServiceSupport;

/**
 * Camel's own metrics (camel-micrometer: {@code camel_exchanges_total}, {@code camel_route_policy_seconds}, the
 * exchange event timers) for every route but the jobs'. A job's route takes one exchange per item, and Camel's route
 * policy and exchange event notifier cost more per exchange than a short job route itself (a formatted name, a timer
 * looked up in the registry, a search of the registry for the last exchange's gauge): the largest part of the
 * factory's own CPU per item in the pipeline benchmark. A job's items are counted and timed by the factory's metrics
 * instead ({@code factory_items_total}, {@code factory_item_duration_seconds}), and the calls a job's steps make (an
 * HTTP call, a query) are still timed by Camel's notifier.
 */
public final class CamelMetrics {

    private CamelMetrics() {
    }

    /** Gives job routes neither Camel's route policy nor its exchange events; call before the routes start. */
    public static void leaveJobItemsOut(CamelContext context) {
        List<RoutePolicyFactory> factories = context.getRoutePolicyFactories();
        factories.replaceAll(f -> f instanceof MicrometerRoutePolicyFactory ? new NotForJobs(f) : f);
        ManagementStrategy management = context.getManagementStrategy();
        for (EventNotifier notifier : List.copyOf(management.getEventNotifiers())) {
            if (notifier instanceof MicrometerExchangeEventNotifier) {
                management.removeEventNotifier(notifier);
                management.addEventNotifier(new ItemEventsLeftOut(notifier));
            }
        }
    }

    /** Whether a route starts with {@code job:}. */
    static boolean isJob(NamedNode route) {
        return route instanceof RouteDefinition definition && definition.getInput() != null
                && JobEndpoint.jobNameOf(definition.getInput().getEndpointUri()).isPresent();
    }

    /** Whether an exchange is a job's item: it began at a {@code job:} consumer. */
    static boolean isItem(Exchange exchange) {
        return exchange.getFromEndpoint() instanceof JobEndpoint;
    }

    /** Camel's route policy for every route but a job's. */
    private static final class NotForJobs extends ServiceSupport implements RoutePolicyFactory {
        private final RoutePolicyFactory camels;

        NotForJobs(RoutePolicyFactory camels) {
            this.camels = camels;
        }

        @Override
        public RoutePolicy createRoutePolicy(CamelContext context, String routeId, NamedNode route) {
            return isJob(route) ? null : camels.createRoutePolicy(context, routeId, route);
        }

        @Override
        protected void doStart() {
            ServiceHelper.startService(camels);
        }

        @Override
        protected void doStop() {
            ServiceHelper.stopService(camels);
        }

        @Override
        protected void doShutdown() {
            ServiceHelper.stopAndShutdownService(camels);
        }
    }

    /**
     * Camel's exchange event notifier without the creation and completion of a job's items; the exchanges a job's
     * steps send to endpoints are still timed.
     */
    private static final class ItemEventsLeftOut extends EventNotifierSupport {
        private final EventNotifier camels;

        ItemEventsLeftOut(EventNotifier camels) {
            this.camels = camels;
            setIgnoreCamelContextEvents(camels.isIgnoreCamelContextEvents());
            setIgnoreCamelContextInitEvents(camels.isIgnoreCamelContextInitEvents());
            setIgnoreRouteEvents(camels.isIgnoreRouteEvents());
            setIgnoreServiceEvents(camels.isIgnoreServiceEvents());
            setIgnoreExchangeEvents(camels.isIgnoreExchangeEvents());
            setIgnoreExchangeCreatedEvent(camels.isIgnoreExchangeCreatedEvent());
            setIgnoreExchangeCompletedEvent(camels.isIgnoreExchangeCompletedEvent());
            setIgnoreExchangeFailedEvents(camels.isIgnoreExchangeFailedEvents());
            setIgnoreExchangeRedeliveryEvents(camels.isIgnoreExchangeRedeliveryEvents());
            setIgnoreExchangeSendingEvents(camels.isIgnoreExchangeSendingEvents());
            setIgnoreExchangeSentEvents(camels.isIgnoreExchangeSentEvents());
            setIgnoreExchangeAsyncProcessingStartedEvents(camels.isIgnoreExchangeAsyncProcessingStartedEvents());
            setIgnoreStepEvents(camels.isIgnoreStepEvents());
        }

        @Override
        public boolean isEnabled(CamelEvent event) {
            if (event instanceof ExchangeEvent exchangeEvent && isItem(exchangeEvent.getExchange())) {
                CamelEvent.Type type = event.getType();
                if (type == CamelEvent.Type.ExchangeCreated || type == CamelEvent.Type.ExchangeCompleted
                        || type == CamelEvent.Type.ExchangeFailed) {
                    return false;
                }
            }
            return camels.isEnabled(event);
        }

        @Override
        public void notify(CamelEvent event) throws Exception {
            camels.notify(event);
        }

        @Override
        protected void doStart() throws Exception {
            ServiceHelper.startService(camels);
        }

        @Override
        protected void doStop() throws Exception {
            ServiceHelper.stopService(camels);
        }
    }
}
