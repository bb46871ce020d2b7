package io.factoryrunner;

import io.factoryrunner.logging.Secrets;
import io.factoryrunner.routes.RouteCatalog;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.FailedToCreateRouteException;
import org.apache.camel.FailedToStartRouteException;

/** Turns what Camel throws at start-up into one message that names the route, file, key or line at fault. */
final class StartupErrors {

    private static final Pattern MISSING_KEY = Pattern.compile("Property with key \\[([^\\]]+)] not found");
    private static final Pattern RESOURCE = Pattern.compile("(file:[^\\s,]+|classpath:[^\\s,]+)");

    private StartupErrors() {
    }

    static StartupException describe(Throwable error, RouteCatalog catalog) {
        StartupException own = find(error, StartupException.class);
        if (own != null) {
            return own;
        }
        String routeId = null;
        FailedToCreateRouteException create = find(error, FailedToCreateRouteException.class);
        if (create != null) {
            routeId = create.getRouteId();
        }
        FailedToStartRouteException start = find(error, FailedToStartRouteException.class);
        if (routeId == null && start != null) {
            routeId = start.getRouteId();
        }
        String where = "";
        if (routeId != null) {
            String file = catalog != null ? catalog.fileOf(routeId) : null;
            where = "Route '" + routeId + "'" + (file != null ? " in " + file : "") + ": ";
        }
        for (Throwable t = error; t != null; t = t.getCause()) {
            Matcher m = MISSING_KEY.matcher(String.valueOf(t.getMessage()));
            if (m.find()) {
                return new StartupException(where + "unknown configuration key '" + m.group(1)
                        + "' (set it in config/application.properties, the factory_config table or the environment)",
                        error);
            }
        }
        String message = Secrets.mask(deepestMessage(error));
        if (routeId == null && catalog != null) {
            // a route file Camel could not read: name it the way the operator knows it
            Matcher m = RESOURCE.matcher(String.valueOf(error.getMessage()));
            if (m.find()) {
                where = "Route file " + catalog.displayNameOfLocation(m.group(1)) + ": ";
            }
        }
        return new StartupException(where + message, error);
    }

    private static String deepestMessage(Throwable error) {
        String message = error.getMessage();
        for (Throwable t = error.getCause(); t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                message = t.getMessage();
            }
        }
        return message != null ? message : error.getClass().getName();
    }

    private static <T extends Throwable> T find(Throwable error, Class<T> type) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }
}
