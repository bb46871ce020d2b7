package io.factoryrunner.routes;

import io.factoryrunner.config.ConfigType;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.model.Model;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.util.URISupport;

/**
 * The cron expressions routes start with ({@code quartz:x?cron=...}, {@code job:x} with {@code cron}, any
 * {@code scheduler.cron}), checked before a route is created. Quartz reads them only when a route starts, so without
 * this check {@code validate} passed a 5-field cron written in a route and {@code run} failed naming no route.
 */
public final class RouteCrons {

    private static final List<String> CRON_PARAMETERS = List.of("cron", "scheduler.cron");

    private RouteCrons() {
    }

    /** One message per cron Quartz would refuse, naming the route and its file; empty when all fit. */
    public static List<String> problems(CamelContext context, RouteCatalog catalog) {
        List<String> problems = new ArrayList<>();
        for (RouteDefinition route : context.getCamelContextExtension().getContextPlugin(Model.class)
                .getRouteDefinitions()) {
            if (route.getInput() == null || route.getInput().getEndpointUri() == null) {
                continue;
            }
            Map<String, Object> parameters = parameters(route.getInput().getEndpointUri());
            for (String name : CRON_PARAMETERS) {
                Object written = parameters.get(name);
                if (written == null) {
                    continue;
                }
                String value;
                try {
                    value = context.resolvePropertyPlaceholders(written.toString());
                } catch (RuntimeException unknownKey) {
                    // Camel reports an unknown key when it creates the route, naming the route and the key
                    continue;
                }
                String from = value.equals(written.toString()) ? "" : " (" + written + ")";
                ConfigType.CRON.problem(value).ifPresent(problem -> problems.add(where(route, catalog) + name + " '"
                        + value + "'" + from + " " + problem));
            }
        }
        return problems;
    }

    private static Map<String, Object> parameters(String uri) {
        int query = uri.indexOf('?');
        if (query < 0) {
            return Map.of();
        }
        try {
            return URISupport.parseQuery(uri.substring(query + 1), false, true);
        } catch (URISyntaxException unreadable) {
            // Camel refuses the URI itself when it creates the route, naming the route
            return Map.of();
        }
    }

    private static String where(RouteDefinition route, RouteCatalog catalog) {
        String id = route.getRouteId() != null ? route.getRouteId() : "(no id)";
        String file = catalog.fileOf(id);
        return "Route '" + id + "'" + (file != null ? " in " + file : "") + ": ";
    }
}
