package io.factoryrunner.testsupport;

/**
 * The chain prepare -> build -> check that job and operator API tests run: each job appends its name to the data
 * ({@code a} leaves check as {@code a-prepared-built-checked}); build holds an item at {@code io.factoryrunner.job.Gate}
 * when a test asks it to, refuses the item whose key is {@code test.fail-key}, and every item while
 * {@code test.down} is true (an outage of the API it would call). Every job waits for a trigger.
 */
public final class ThreeJobChain {

    public static final String ROUTES = """
            - route:
                id: prepare
                from:
                  uri: "job:prepare"
                  parameters:
                    cron: "{{job.prepare.cron}}"
                    chunkSize: "{{job.prepare.chunk-size}}"
                  steps:
                    - setBody:
                        simple: "${body}-prepared"
            - route:
                id: build
                from:
                  uri: "job:build"
                  parameters:
                    upstream: prepare
                    cron: "{{job.build.cron}}"
                    chunkSize: "{{job.build.chunk-size}}"
                    transaction: "{{job.build.transaction}}"
                  steps:
                    - bean:
                        beanType: "io.factoryrunner.job.Gate"
                        method: "pass"
                    - choice:
                        when:
                          - simple: "${properties:test.down:false} == 'true'"
                            steps:
                              - throwException:
                                  exceptionType: "java.lang.IllegalStateException"
                                  message: "analytics API down"
                          - simple: "${header.FactoryItemKey} == '${properties:test.fail-key}'"
                            steps:
                              - throwException:
                                  exceptionType: "java.lang.IllegalStateException"
                                  message: "refused ${header.FactoryItemKey}"
                    - setBody:
                        simple: "${body}-built"
            - route:
                id: check
                from:
                  uri: "job:check"
                  parameters:
                    upstream: build
                    cron: "{{job.check.cron}}"
                    follow: "{{job.check.follow:false}}"
                    transaction: "{{job.check.transaction:claim}}"
                    chunkSize: "{{job.check.chunk-size:100}}"
                  steps:
                    - setBody:
                        simple: "${body}-checked"
            """;

    /** The chain's settings: crons in 2099, chunks of 100, build's transaction {@code claim}, no key refused. */
    public static final String SETTINGS = """
            job.prepare.cron = 0 0 0 1 1 ? 2099
            job.build.cron = 0 0 0 1 1 ? 2099
            job.check.cron = 0 0 0 1 1 ? 2099
            job.prepare.chunk-size = 100
            job.build.chunk-size = 100
            job.build.transaction = claim
            test.fail-key = none
            """;

    private ThreeJobChain() {
    }

    /** The chain in the home's config/routes/chain.camel.yaml, its settings then {@code settings} in its file. */
    public static FactoryHome on(FactoryHome home, String settings) {
        return home.applicationProperties(SETTINGS + settings).route("chain.camel.yaml", ROUTES);
    }
}
