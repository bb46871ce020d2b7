package io.factoryrunner.program;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.factoryrunner.FactoryApplication;
import io.factoryrunner.StartupException;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What stops a start: a program job taken by two routes, a program setting that does not fit its type. */
class ProgramStartTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();

    static String job(String id) {
        return """
                - route:
                    id: %s
                    from:
                      uri: "program:send_report"
                      steps:
                        - log: "sent"
                """.formatted(id);
    }

    @Test
    void a_program_job_taken_by_two_routes_stops_the_start_naming_both_files() {
        FactoryHome home = factory.home(TestDatabase.H2).route("report.camel.yaml", job("report"))
                .route("report-again.camel.yaml", job("report-again"));
        assertThatThrownBy(() -> home.app(FactoryApplication.Mode.RUN).start()).isInstanceOf(StartupException.class)
                .hasMessageContaining("Program job 'send_report' is taken by more than one route")
                .hasMessageContaining("'report' in config/routes/report.camel.yaml")
                .hasMessageContaining("'report-again' in config/routes/report-again.camel.yaml");
    }

    @Test
    void validate_refuses_a_program_job_taken_by_two_routes_too() {
        FactoryHome home = factory.home(TestDatabase.H2).route("report.camel.yaml", job("report"))
                .route("report-again.camel.yaml", job("report-again"));
        assertThatThrownBy(() -> home.app(FactoryApplication.Mode.VALIDATE).start())
                .isInstanceOf(StartupException.class).hasMessageContaining("send_report");
    }

    @Test
    void program_settings_that_do_not_fit_their_type_stop_the_start_naming_the_key() {
        FactoryHome home = factory.home(TestDatabase.H2).route("report.camel.yaml", job("report"))
                .property("program.workers", "0")
                .property("program.retry.backoff", "soon")
                .property("program.retry.max-backoff", "-")
                .property("program.retry.exceptions", "java.util.ConcurrentModificationException, com.example.Nope")
                .property("program.retry.max-attempts", "many");
        assertThatThrownBy(() -> home.app(FactoryApplication.Mode.RUN).start()).isInstanceOf(StartupException.class)
                .hasMessageContaining("Configuration key 'program.workers' has value '0' that must be at least 1")
                .hasMessageContaining("Configuration key 'program.retry.backoff' has value 'soon' that must be a"
                        + " duration")
                .hasMessageContaining("'program.retry.max-backoff'")
                .hasMessageContaining("Configuration key 'program.retry.exceptions' has value"
                        + " 'java.util.ConcurrentModificationException, com.example.Nope' that names"
                        + " com.example.Nope, a class that is not on the class path")
                .hasMessageContaining("Configuration key 'program.retry.max-attempts' has value 'many' that must be a"
                        + " whole number");
    }

    @Test
    void a_class_that_is_not_an_exception_is_refused_as_retryable() {
        FactoryHome home = factory.home(TestDatabase.H2).property("program.retry.exceptions", "java.lang.String");
        assertThatThrownBy(() -> home.app(FactoryApplication.Mode.RUN).start()).isInstanceOf(StartupException.class)
                .hasMessageContaining("names java.lang.String, which is not an exception class");
    }
}
