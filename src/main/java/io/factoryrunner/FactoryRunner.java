package io.factoryrunner;

import io.factoryrunner.config.ConfigReport;
import io.factoryrunner.logging.QuietLog;
import io.factoryrunner.logging.Secrets;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.camel.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The command line: {@code factory-runner [run|validate|config|help] [--home DIR] [--verbose]}. */
public final class FactoryRunner {

    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    private static final Logger LOG = LoggerFactory.getLogger(FactoryRunner.class);

    private static final String USAGE_TEXT = """
            Usage: java -jar factory-runner.jar [command] [--home DIR] [--verbose]

            Commands:
              run        start the factory and run its jobs until stopped (default)
              validate   load the configuration and every route, start no job, change nothing;
                         exit 0 when everything loads, 1 otherwise
              config     print every configuration key with its value (secrets masked) and its source
              help       print this text

            --home DIR   the directory holding config/ and data/ (default: the working directory); relative
                         paths in the configuration (file:config/sql/source.sql) are taken from it
            --verbose    validate and config: print the log as well as the answer
            """;

    private FactoryRunner() {
    }

    public static void main(String[] args) {
        System.exit(execute(args, System.out, System.err));
    }

    /** Runs one command and returns the process exit code. */
    public static int execute(String[] args, PrintStream out, PrintStream err) {
        String command = "run";
        boolean verbose = false;
        Path home = Path.of("").toAbsolutePath();
        List<String> rest = new ArrayList<>(List.of(args));
        for (int i = 0; i < rest.size(); i++) {
            String arg = rest.get(i);
            if (arg.equals("--home")) {
                if (i + 1 >= rest.size()) {
                    err.println("--home needs a directory");
                    return USAGE;
                }
                home = Path.of(rest.get(++i)).toAbsolutePath();
            } else if (arg.equals("-h") || arg.equals("--help") || arg.equals("help")) {
                out.print(USAGE_TEXT);
                return OK;
            } else if (arg.equals("--verbose") || arg.equals("-v")) {
                verbose = true;
            } else if (arg.equals("run") || arg.equals("validate") || arg.equals("config")) {
                command = arg;
            } else {
                err.println("Unknown argument '" + arg + "'");
                err.print(USAGE_TEXT);
                return USAGE;
            }
        }
        if (command.equals("run")) {
            return run(home, err);
        }
        try (QuietLog quiet = QuietLog.unless(verbose)) {
            return validate(home, out, err, command.equals("config"));
        }
    }

    private static int run(Path home, PrintStream err) {
        FactoryApplication app = FactoryApplication.create(home, FactoryApplication.Mode.RUN, Map.of());
        try {
            app.runUntilStopped();
            return OK;
        } catch (StartupException e) {
            LOG.debug("Start-up failed", e);
            err.println("Factory Runner cannot start: " + Secrets.mask(e.getMessage()));
            return FAILED;
        } catch (Exception e) {
            LOG.error("Factory Runner failed", e);
            return FAILED;
        }
    }

    private static int validate(Path home, PrintStream out, PrintStream err, boolean printConfig) {
        return validate(FactoryApplication.create(home, FactoryApplication.Mode.VALIDATE, Map.of()), out, err,
                printConfig);
    }

    static int validate(FactoryApplication app, PrintStream out, PrintStream err, boolean printConfig) {
        try {
            app.start();
            if (printConfig) {
                for (ConfigReport.Line line : app.configReport()) {
                    out.println(line.key() + " = " + line.value() + "    [" + line.source() + "]");
                }
                return OK;
            }
            List<String> routes = app.context().getRoutes().stream().map(Route::getRouteId).sorted().toList();
            out.println("Configuration valid. Routes (" + routes.size() + "): " + String.join(", ", routes));
            out.println("Database: " + database(app));
            return OK;
        } catch (StartupException e) {
            LOG.debug("Validation failed", e);
            err.println("Invalid: " + Secrets.mask(e.getMessage()).replace(System.lineSeparator(),
                    System.lineSeparator() + "Invalid: "));
            return FAILED;
        } finally {
            app.stop();
        }
    }

    private static String database(FactoryApplication app) {
        String url = Secrets.maskUrl(app.databaseSettings().url());
        if (!app.databaseExists()) {
            return url + " does not exist yet; the first start creates it";
        }
        int pending = app.pendingMigrations();
        return url + " reachable, " + (pending == 0 ? "schema up to date"
                : pending + " schema migrations will be applied at the next start");
    }
}
