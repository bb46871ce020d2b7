package io.factoryrunner;

import io.factoryrunner.api.OperatorCommand;
import io.factoryrunner.config.ConfigReport;
import io.factoryrunner.logging.QuietLog;
import io.factoryrunner.logging.Secrets;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.camel.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The command line: {@code factory-runner [run|validate|config|help] [--home DIR] [--verbose]}, and the operator
 * commands that ask the running factory ({@link OperatorCommand}).
 */
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

            Commands that ask the running factory (its operator API; --url URL or FACTORY_URL, default
            http://localhost:<camel.server.port>; --token T or FACTORY_TOKEN, default data/admin.token; --json prints
            the API's answer as JSON):
              jobs                         every job: chain, schedule, last run, item counts
              nodes                        the nodes sharing the database: status, heartbeat, version, runs
              runs [--job J] [--status S]  the latest runs (--limit N, --since 2026-01-31T00:00:00Z)
              errors [--status S]          error fingerprints (open, acknowledged, resolved)
              item JOB KEY                 one item's story across the jobs
              redrive JOB KEY              put a failed item back (--version V; --note TEXT)
              ack FINGERPRINT              acknowledge an error (--note TEXT)
              resolve FINGERPRINT          resolve an error (--note TEXT)
              trigger JOB                  start a run now
              pause JOB | resume JOB       pause or resume a job
              processes                    the declared processes, each with its latest run
              process-runs PROCESS         a process's latest runs (--status S, --limit N)
              process-retry PROCESS RUN    call again the tasks of a run that ended in error (--note TEXT)
              programs [--status S]        the latest programs (--limit N)
              program-cancel RUN           cancel a program: no step starts from now on (--note TEXT)
              program-resume RUN           resume an errored program at the step that failed (--note TEXT)
              token create NAME ROLE       create an API token (viewer, operator, admin); prints it once
              token list | token revoke NAME

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
        if (OperatorCommand.isCommand(firstWord(rest))) {
            return operatorCommand(rest, out, err);
        }
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

    /** A command that asks the running factory through its operator API. */
    private static int operatorCommand(List<String> args, PrintStream out, PrintStream err) {
        Path home = Path.of("").toAbsolutePath();
        String command = null;
        List<String> words = new ArrayList<>();
        Map<String, String> options = new LinkedHashMap<>();
        boolean json = false;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (arg.equals("--json")) {
                json = true;
            } else if (arg.startsWith("--")) {
                String name = arg.substring(2);
                if (!OPTIONS.contains(name) || i + 1 >= args.size()) {
                    err.println(OPTIONS.contains(name) ? arg + " needs a value" : "Unknown option '" + arg + "'");
                    return USAGE;
                }
                String value = args.get(++i);
                if (name.equals("home")) {
                    home = Path.of(value).toAbsolutePath();
                } else {
                    options.put(name, value);
                }
            } else if (command == null) {
                command = arg;
            } else {
                words.add(arg);
            }
        }
        return new OperatorCommand(home, System.getenv(), out, err).run(command, words, options, json);
    }

    /** The first argument that is neither an option nor an option's value. */
    private static String firstWord(List<String> args) {
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (arg.equals("--json") || arg.equals("--verbose") || arg.equals("-v")) {
                continue;
            }
            if (arg.startsWith("--")) {
                i++;
                continue;
            }
            return arg;
        }
        return "";
    }

    private static final Set<String> OPTIONS = Set.of("home", "url", "token", "job", "status", "limit", "since",
            "version", "note");

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
