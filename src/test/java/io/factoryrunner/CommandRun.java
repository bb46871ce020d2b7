package io.factoryrunner;

import io.factoryrunner.testsupport.FactoryHome;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A command a user runs: its exit code and what it printed, line ends as {@code \n}. */
public record CommandRun(int code, String out, String err) {

    /** {@code validate} on the home's files and settings, as the command line runs it. */
    static CommandRun validate(FactoryHome home) {
        FactoryApplication app = home.app(FactoryApplication.Mode.VALIDATE);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = FactoryRunner.validate(app, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), false);
        return new CommandRun(code, lines(out), lines(err));
    }

    /** The command line with these arguments. */
    public static CommandRun execute(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = FactoryRunner.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new CommandRun(code, lines(out), lines(err));
    }

    /** An operator command against the factory at {@code url}, with the token of the installation at {@code home}. */
    public static CommandRun operator(Path home, String url, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--home", home.toString(), "--url", url));
        return execute(all.toArray(String[]::new));
    }

    private static String lines(ByteArrayOutputStream stream) {
        return stream.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
    }
}
