package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.program.ProgramEndpoint;
import java.util.Map;
import org.apache.camel.CatalogCamelContext;
import org.apache.camel.ResolveEndpointFailedException;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.pollconsumer.quartz.QuartzScheduledPollConsumerScheduler;
import org.apache.camel.support.PluginHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The job: component as Camel and its tooling see it: documented options, and configured without reflection. */
class JobComponentTest {

    private CatalogCamelContext context;

    @BeforeEach
    void context() {
        context = new DefaultCamelContext();
        context.addComponent("job", new JobComponent(null, new JobRegistry(), "test-node"));
    }

    @AfterEach
    void close() throws Exception {
        context.close();
    }

    private JsonNode json() throws Exception {
        String schema = context.getComponentParameterJsonSchema("job");
        assertThat(schema).as("job.json on the classpath").isNotNull();
        return new ObjectMapper().readTree(schema);
    }

    @Test
    void the_component_json_describes_the_job_scheme() throws Exception {
        JsonNode component = json().path("component");
        assertThat(component.path("scheme").asText()).isEqualTo("job");
        assertThat(component.path("syntax").asText()).isEqualTo("job:name");
        assertThat(component.path("label").asText()).isEqualTo("scheduling");
        assertThat(component.path("consumerOnly").asBoolean()).isFalse();
        assertThat(component.path("producerOnly").asBoolean()).isFalse();
        assertThat(component.path("javaType").asText()).isEqualTo(JobComponent.class.getName());
    }

    @Test
    void every_job_option_is_documented_with_its_default_and_whether_it_runs_or_offers() throws Exception {
        JsonNode properties = json().path("properties");
        assertThat(properties.path("name").path("kind").asText()).isEqualTo("path");
        assertThat(properties.path("name").path("required").asBoolean()).isTrue();
        Map<String, String> labels = Map.of("upstream", "consumer", "chunkSize", "consumer", "cron", "consumer",
                "transaction", "consumer", "dataFormat", "consumer", "key", "producer", "version", "producer",
                "complete", "producer");
        labels.forEach((option, label) -> {
            JsonNode node = properties.path(option);
            assertThat(node.path("label").asText()).as(option).isEqualTo(label);
            assertThat(node.path("description").asText()).as(option).isNotBlank();
        });
        assertThat(properties.path("chunkSize").path("defaultValue").asInt()).isEqualTo(100);
        assertThat(properties.path("transaction").path("defaultValue").asText()).isEqualTo("claim");
        assertThat(properties.path("transaction").path("enum").toString()).contains("claim", "chunk");
        assertThat(properties.path("dataFormat").path("defaultValue").asText()).isEqualTo("text");
        assertThat(properties.path("dataFormat").path("enum").toString()).contains("text", "json");
        assertThat(properties.path("dataFormat").path("description").asText()).contains(JobConstants.ITEM_DATA);
        assertThat(properties.path("cron").path("description").asText()).contains("Quartz cron");
        assertThat(properties.path("key").path("description").asText()).contains(JobConstants.ITEM_KEY);
    }

    @Test
    void the_headers_are_documented_under_the_names_of_the_constants() throws Exception {
        JsonNode headers = json().path("headers");
        for (String header : new String[] {JobConstants.JOB, JobConstants.RUN_ID, JobConstants.ITEM_KEY,
                JobConstants.ITEM_VERSION, JobConstants.ITEM_COMPLETE, JobConstants.ATTEMPT,
                JobConstants.FAILING_SINCE, JobConstants.DEFER, JobConstants.ITEMS_OFFERED, JobConstants.ITEM_DATA}) {
            assertThat(headers.path(header).path("description").asText()).as(header).isNotBlank();
        }
    }

    @Test
    void job_endpoints_are_configured_by_the_generated_configurer() {
        JobEndpoint endpoint = context.getEndpoint(
                "job:build?upstream=prepare&chunkSize=7&transaction=chunk&dataFormat=json&key=${body[id]}",
                JobEndpoint.class);
        assertThat(endpoint.getJob()).isEqualTo("build");
        assertThat(endpoint.getUpstream()).isEqualTo("prepare");
        assertThat(endpoint.getChunkSize()).isEqualTo(7);
        assertThat(endpoint.isChunkTransaction()).isTrue();
        assertThat(endpoint.isJsonData()).isTrue();
        assertThat(endpoint.getKey()).isEqualTo("${body[id]}");
        JobComponent component = endpoint.getComponent();
        assertThat(component.getEndpointPropertyConfigurer()).isInstanceOf(JobEndpointConfigurer.class);
        assertThat(component.getComponentPropertyConfigurer()).isInstanceOf(JobComponentConfigurer.class);
        assertThat(PluginHelper.getUriFactoryResolver(context).resolveFactory("job", context))
                .isInstanceOf(JobEndpointUriFactory.class);
    }

    @Test
    void a_cron_makes_the_job_fire_on_a_quartz_trigger_of_its_own_name() {
        JobEndpoint endpoint = context.getEndpoint("job:nightly?cron=0+0+2+*+*+?", JobEndpoint.class);
        assertThat(endpoint.getCron()).isEqualTo("0 0 2 * * ?");
        // camel-quartz's scheduler, which on a clustered job store first replaces a stored trigger that does not fit
        assertThat(endpoint.getScheduler()).isInstanceOf(QuartzScheduledPollConsumerScheduler.class)
                .isInstanceOf(JobTriggerScheduler.class);
        assertThat(endpoint.getSchedulerProperties()).containsEntry("triggerId", "nightly")
                .containsEntry("triggerGroup", "factory-jobs");
    }

    @Test
    void a_job_reads_its_items_as_text_unless_told_json() {
        assertThat(context.getEndpoint("job:build", JobEndpoint.class).getDataFormat()).isEqualTo("text");
        assertThatThrownBy(() -> context.getEndpoint("job:build?dataFormat=xml"))
                .isInstanceOf(ResolveEndpointFailedException.class).rootCause()
                .hasMessage("dataFormat of job build must be text or json, not 'xml'");
    }

    @Test
    void a_job_runs_its_items_one_at_a_time_unless_given_a_concurrency_of_at_least_one() {
        assertThat(context.getEndpoint("job:build", JobEndpoint.class).getConcurrency()).isEqualTo(1);
        assertThat(context.getEndpoint("job:fetch?concurrency=8", JobEndpoint.class).getConcurrency()).isEqualTo(8);
        assertThatThrownBy(() -> context.getEndpoint("job:score?concurrency=0"))
                .isInstanceOf(ResolveEndpointFailedException.class).rootCause()
                .hasMessage("concurrency of job score must be at least 1, not 0");
    }

    @Test
    void a_job_allows_one_run_at_once_unless_given_max_runs_of_at_least_one() {
        assertThat(context.getEndpoint("job:build", JobEndpoint.class).getMaxRuns()).isEqualTo(1);
        assertThat(context.getEndpoint("job:fetch?maxRuns=3", JobEndpoint.class).getMaxRuns()).isEqualTo(3);
        assertThatThrownBy(() -> context.getEndpoint("job:score?maxRuns=0"))
                .isInstanceOf(ResolveEndpointFailedException.class).rootCause()
                .hasMessage("maxRuns of job score must be at least 1, not 0");
    }

    @Test
    void several_runs_of_a_job_need_the_claim_transaction() {
        assertThat(context.getEndpoint("job:fetch?maxRuns=2&transaction=claim", JobEndpoint.class).getMaxRuns())
                .isEqualTo(2);
        assertThatThrownBy(() -> context.getEndpoint("job:load?maxRuns=2&transaction=chunk"))
                .isInstanceOf(ResolveEndpointFailedException.class).rootCause()
                .hasMessage("maxRuns 2 of job load needs transaction claim, not chunk: runs that share a job's items"
                        + " take them through claims committed apart; set transaction: claim, or maxRuns: 1");
    }

    @Test
    void a_job_follows_only_an_upstream_it_names() {
        assertThat(context.getEndpoint("job:build?upstream=prepare", JobEndpoint.class).isFollow()).isFalse();
        assertThat(context.getEndpoint("job:check?upstream=build&follow=true", JobEndpoint.class).isFollow())
                .isTrue();
        assertThatThrownBy(() -> context.getEndpoint("job:intake?follow=true"))
                .isInstanceOf(ResolveEndpointFailedException.class).rootCause()
                .hasMessage("follow of job intake needs an upstream to follow: set upstream, or remove follow");
    }

    @Test
    void endpoint_uris_name_their_job_or_program_job() {
        assertThat(JobEndpoint.jobNameOf("job:build?upstream=prepare")).contains("build");
        assertThat(JobEndpoint.jobNameOf("job://build")).contains("build");
        assertThat(JobEndpoint.jobNameOf("quartz:build")).isEmpty();
        assertThat(JobEndpoint.jobNameOf("job:?chunkSize=7")).isEmpty();
        assertThat(ProgramEndpoint.jobNameOf("program:send_report?description=x"))
                .contains("send_report");
    }

    @Test
    void an_unknown_option_is_refused_naming_it() {
        assertThatThrownBy(() -> context.getEndpoint("job:ship?batchSize=10"))
                .isInstanceOf(ResolveEndpointFailedException.class).hasMessageContaining("batchSize");
    }
}
