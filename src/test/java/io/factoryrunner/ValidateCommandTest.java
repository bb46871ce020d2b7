package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code validate} refuses what {@code run} would refuse, changes nothing, and prints its verdict and reasons. */
class ValidateCommandTest {

    @TempDir
    Path dir;

    private FactoryHome home(TestDatabase db) {
        return new FactoryHome(dir, db).applicationProperties("job.fine.cron = 0 0 * * * ?\n")
                .route("fine.camel.yaml", BadInputTest.VALID_ROUTE);
    }

    private FactoryHome home() {
        return home(TestDatabase.H2);
    }

    @Test
    void a_job_that_validate_created_stops_without_an_error() {
        FactoryHome home = home().route("ship.camel.yaml", """
                - route:
                    id: ship
                    from:
                      uri: "job:ship"
                      parameters:
                        cron: "0 5 * * * ?"
                      steps:
                        - log: "x"
                """);
        int logged = CapturedLog.text().length();
        assertThat(validate(home).code()).isEqualTo(FactoryRunner.OK);
        assertThat(CapturedLog.text().substring(logged)).doesNotContain("NullPointerException")
                .doesNotContain("Error occurred while shutting down service");
    }

    record Result(int code, String out, String err) {
    }

    private static Result validate(FactoryHome home) {
        FactoryApplication app = home.app(FactoryApplication.Mode.VALIDATE);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = FactoryRunner.validate(app, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), false);
        return new Result(code, lines(out), lines(err));
    }

    private static String lines(ByteArrayOutputStream stream) {
        return stream.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
    }
}
