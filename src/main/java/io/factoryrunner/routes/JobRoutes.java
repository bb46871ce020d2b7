package io.factoryrunner.routes;

import io.factoryrunner.StartupException;
import io.factoryrunner.job.JobEndpoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.camel.CamelContext;
import org.apache.camel.model.Model;
import org.apache.camel.model.RouteDefinition;

/** The jobs the routes declare: a job is declared by the one route that starts with {@code job:NAME}. */
public final class JobRoutes {

    private JobRoutes() {
    }

    /** The declared jobs, sorted; a job taken by more than one route is refused, naming the routes and files. */
    public static Set<String> declared(CamelContext context, RouteCatalog catalog) {
        Map<String, List<String>> routesByJob = new TreeMap<>();
        for (RouteDefinition route : context.getCamelContextExtension().getContextPlugin(Model.class)
                .getRouteDefinitions()) {
            if (route.getInput() == null) {
                continue;
            }
            String id = route.getRouteId() != null ? route.getRouteId() : "(no id)";
            String file = catalog.fileOf(id);
            JobEndpoint.jobNameOf(route.getInput().getEndpointUri()).ifPresent(job -> routesByJob
                    .computeIfAbsent(job, k -> new ArrayList<>())
                    .add("'" + id + "'" + (file != null ? " in " + file : "")));
        }
        routesByJob.forEach((job, routes) -> {
            if (routes.size() > 1) {
                throw new StartupException("Job '" + job + "' is taken by more than one route: "
                        + String.join(" and ", routes) + ". A job is declared once, by the one route that"
                        + " starts with job:" + job + "; rename the job of all but one");
            }
        });
        return routesByJob.keySet();
    }
}
