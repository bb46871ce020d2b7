package io.factoryrunner.job;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Expression;
import org.apache.camel.support.DefaultProducer;
import org.apache.camel.support.ExchangeHelper;

/**
 * {@code to: job:NAME} offers the message body to job NAME as an item, or one item per element when the body is a
 * list. The key comes from the {@code key} option (an expression, such as {@code ${body[id]}}, evaluated per
 * element) or else the {@link JobConstants#ITEM_KEY} header; the version from {@code version} or
 * {@link JobConstants#ITEM_VERSION}, else {@value JobEndpoint#DEFAULT_VERSION}; {@code complete} likewise, else true.
 */
final class JobProducer extends DefaultProducer {

    private static final ObjectMapper JSON = new ObjectMapper();

    private Expression key;
    private Expression version;
    private Expression complete;

    JobProducer(JobEndpoint endpoint) {
        super(endpoint);
    }

    @Override
    public JobEndpoint getEndpoint() {
        return (JobEndpoint) super.getEndpoint();
    }

    @Override
    protected void doBuild() throws Exception {
        super.doBuild();
        key = expression(getEndpoint().getKey());
        version = expression(getEndpoint().getVersion());
        complete = expression(getEndpoint().getComplete());
    }

    private Expression expression(String text) {
        if (text == null || text.isBlank()) {
            return null;
        }
        return getEndpoint().getCamelContext().resolveLanguage("simple").createExpression(text);
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        Object body = exchange.getMessage().getBody();
        List<?> elements = body instanceof Collection<?> many ? new ArrayList<>(many)
                : Collections.singletonList(body);
        String job = getEndpoint().getJob();
        if (body instanceof Collection<?> && key == null) {
            // each element would take the key of the message (an item's exchange carries its own): one item
            // offered N times over
            throw new IllegalArgumentException("Route '" + exchange.getFromRouteId() + "' sends a list to job:" + job
                    + " without the option key: give each element its key (for example key=${body[id]})");
        }
        int offered = 0;
        for (Object element : elements) {
            Exchange one = elements.size() == 1 && element == body ? exchange
                    : ExchangeHelper.createCopy(exchange, true);
            one.getMessage().setBody(element);
            String itemKey = value(one, key, JobConstants.ITEM_KEY);
            if (itemKey == null || itemKey.isBlank()) {
                throw new IllegalArgumentException("Route '" + exchange.getFromRouteId() + "' sends to job:" + job
                        + " a message with no item key: set the header " + JobConstants.ITEM_KEY
                        + " or the option key (for example key=${body[id]})");
            }
            String itemVersion = value(one, version, JobConstants.ITEM_VERSION);
            String isComplete = value(one, complete, JobConstants.ITEM_COMPLETE);
            if (getEndpoint().getComponent().store().offer(job, itemKey,
                    itemVersion == null || itemVersion.isBlank() ? JobEndpoint.DEFAULT_VERSION : itemVersion,
                    data(element), isComplete == null || isComplete.isBlank() || Boolean.parseBoolean(isComplete))) {
                offered++;
            }
        }
        exchange.getMessage().setHeader(JobConstants.ITEMS_OFFERED, offered);
    }

    private static String value(Exchange exchange, Expression expression, String header) {
        if (expression != null) {
            return expression.evaluate(exchange, String.class);
        }
        return exchange.getMessage().getHeader(header, String.class);
    }

    private String data(Object element) throws JsonProcessingException {
        if (element == null || element instanceof String) {
            return (String) element;
        }
        if (element instanceof Map || element instanceof List) {
            return JSON.writeValueAsString(element);
        }
        return getEndpoint().getCamelContext().getTypeConverter().convertTo(String.class, element);
    }
}
