package io.factoryrunner.routes;

import io.factoryrunner.StartupException;
import io.factoryrunner.program.ProgramEndpoint;
import io.factoryrunner.program.ProgramJobs;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.camel.CamelContext;
import org.apache.camel.model.Model;
import org.apache.camel.model.RouteDefinition;

/** The program jobs the routes declare: a program job is declared by the one route that starts with program:NAME. */
public final class ProgramRoutes {

    private ProgramRoutes() {
    }

    /** The declared program jobs; a name taken by more than one route is refused, naming the routes and files. */
    public static List<ProgramJobs.Declared> declared(CamelContext context, RouteCatalog catalog) {
        Map<String, List<ProgramJobs.Declared>> byJob = new TreeMap<>();
        for (RouteDefinition route : context.getCamelContextExtension().getContextPlugin(Model.class)
                .getRouteDefinitions()) {
            if (route.getInput() == null) {
                continue;
            }
            String id = route.getRouteId() != null ? route.getRouteId() : "(no id)";
            String file = catalog.fileOf(id);
            ProgramEndpoint.jobNameOf(route.getInput().getEndpointUri()).ifPresent(job -> byJob
                    .computeIfAbsent(job, k -> new ArrayList<>()).add(new ProgramJobs.Declared(job, id, file)));
        }
        byJob.forEach((job, routes) -> {
            if (routes.size() > 1) {
                throw new StartupException("Program job '" + job + "' is taken by more than one route: "
                        + String.join(" and ", routes.stream().map(d -> "'" + d.routeId() + "'"
                                + (d.file() != null ? " in " + d.file() : "")).toList())
                        + ". A program job is declared once, by the one route that starts with program:" + job
                        + "; rename the job of all but one");
            }
        });
        return byJob.values().stream().map(routes -> routes.get(0)).toList();
    }
}
