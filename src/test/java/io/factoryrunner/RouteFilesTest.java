package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.camel.builder.NotifyBuilder;
import org.apache.camel.main.Main;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class RouteFilesTest {

    private static JsonSchema schema;
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    @BeforeAll
    static void loadCamelSchema() throws IOException {
        // the schema of the YAML DSL this build runs, as shipped inside the camel-yaml-dsl jar
        try (InputStream in = Main.class.getClassLoader().getResourceAsStream("schema/camelYamlDsl.json")) {
            assertThat(in).as("schema/camelYamlDsl.json in camel-yaml-dsl").isNotNull();
            schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4).getSchema(in);
        }
    }

    /** Every route file shipped in the jar and every example in config/routes. */
    static Stream<Path> routeFiles() throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path root : List.of(Path.of("src/main/resources/routes"), Path.of("config/routes"))) {
            if (Files.isDirectory(root)) {
                try (Stream<Path> walk = Files.walk(root)) {
                    walk.filter(p -> p.toString().endsWith(".yaml")).forEach(files::add);
                }
            }
        }
        assertThat(files).as("route files to check").isNotEmpty();
        return files.stream();
    }

    @ParameterizedTest
    @MethodSource("routeFiles")
    void route_file_conforms_to_the_camel_yaml_dsl_schema(Path file) throws IOException {
        Set<ValidationMessage> errors = schema.validate(YAML.readTree(file.toFile()));
        assertThat(errors).as(file.toString()).isEmpty();
    }

    @Test
    void the_schema_check_refuses_an_unknown_step() throws IOException {
        JsonNode broken = YAML.readTree("""
                - route:
                    id: x
                    from:
                      uri: "timer:x"
                      steps:
                        - too: "log:x"
                """);
        assertThat(schema.validate(broken)).isNotEmpty();
    }

    @Test
    void an_operator_route_with_a_shipped_id_replaces_the_shipped_route() {
        FactoryHome home = factory.home(TestDatabase.H2).property("factory.routes.shipped", "testing/**")
                .route("mine.camel.yaml", """
                        - route:
                            id: shipped-demo
                            from:
                              uri: "timer:mine?repeatCount=1"
                              steps:
                                - setBody:
                                    constant: "operator"
                        """);
        try (var running = factory.start(home)) {
            NotifyBuilder done = new NotifyBuilder(running.app().context()).fromRoute("shipped-demo")
                    .whenAnyDoneMatches(e -> "operator".equals(e.getMessage().getBody(String.class))).create();
            assertThat(done.matches(10, TimeUnit.SECONDS)).isTrue();
            assertThat(running.app().context().getRoutes()).hasSize(1);
            assertThat(running.app().routes().fileOf("shipped-demo")).isEqualTo("config/routes/mine.camel.yaml");
        }
    }

    @Test
    void a_shipped_route_runs_when_no_operator_file_replaces_it() {
        FactoryHome home = factory.home(TestDatabase.H2).property("factory.routes.shipped", "testing/**");
        try (var running = factory.start(home)) {
            NotifyBuilder done = new NotifyBuilder(running.app().context()).fromRoute("shipped-demo")
                    .whenAnyDoneMatches(e -> "shipped".equals(e.getMessage().getBody(String.class))).create();
            assertThat(done.matches(10, TimeUnit.SECONDS)).isTrue();
            assertThat(running.app().routes().fileOf("shipped-demo")).isEqualTo("jar:routes/testing/shipped-demo.camel.yaml");
        }
    }

    @Test
    void two_operator_files_with_one_route_id_are_refused_naming_both() {
        String route = """
                - route:
                    id: twin
                    from:
                      uri: "timer:twin?repeatCount=1"
                      steps:
                        - log: "x"
                """;
        FactoryHome home = factory.home(TestDatabase.H2).route("a.yaml", route).route("b.yaml", route);
        var app = home.app(FactoryApplication.Mode.RUN);
        Assertions.assertThatThrownBy(app::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("twin").hasMessageContaining("config/routes/a.yaml")
                .hasMessageContaining("config/routes/b.yaml");
    }

    @Test
    void an_operator_file_that_replaces_only_part_of_a_shipped_file_is_refused_naming_the_rest() {
        FactoryHome home = factory.home(TestDatabase.H2).property("factory.routes.shipped", "factory/**")
                .route("prepare.camel.yaml", """
                        - route:
                            id: prepare
                            from:
                              uri: "job:prepare"
                              steps:
                                - log: "mine"
                        """);
        var app = home.app(FactoryApplication.Mode.RUN);
        Assertions.assertThatThrownBy(app::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("[prepare]")
                .hasMessageContaining("jar:routes/factory/prepare.camel.yaml")
                .hasMessageContaining("prepare-intake").hasMessageContaining("prepare-drop");
    }
}
