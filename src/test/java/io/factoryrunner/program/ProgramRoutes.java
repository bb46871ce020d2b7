package io.factoryrunner.program;

/** The program jobs the tests run. */
final class ProgramRoutes {

    /**
     * collect appends its tag to the result; pager reads pages from its job data's currentPage to totalPages, storing
     * each page read, and fails once (retryable) at the program data's failAt on its first attempt; refuse fails for
     * good; slow waits for the program data's waitMs; busy always fails with a ConcurrentModificationException
     * (retryable when program.retry.exceptions lists it); spawn submits a program of one collect and leaves its run id.
     */
    static final String JOBS = """
            - route:
                id: program-collect
                from:
                  uri: "program:collect"
                  parameters:
                    description: "Appends |collect:<tag> to the result; argument tag"
                  steps:
                    - setBody:
                        simple: "${body}|collect:${exchangeProperty.FactoryStepArguments[tag]}"
            - route:
                id: program-pager
                from:
                  uri: "program:pager"
                  parameters:
                    description: "Reads pages; job data currentPage, totalPages; program data failAt"
                  steps:
                    - loop:
                        doWhile: true
                        simple: "${exchangeProperty.FactoryJobData[currentPage]}
                          < ${exchangeProperty.FactoryJobData[totalPages]}"
                        steps:
                          - setHeader:
                              name: page
                              simple: "${exchangeProperty.FactoryJobData[currentPage]}++"
                          - filter:
                              simple: "${header.page} == ${exchangeProperty.FactoryProgramData[failAt]}
                                && ${header.FactoryProgramAttempt} == 1"
                              steps:
                                - throwException:
                                    exceptionType: "io.factoryrunner.error.RetryableException"
                                    message: "page service busy at page ${header.page}"
                          - log: "read page ${header.page} of ${header.FactoryProgramRunId}"
                          - bean:
                              ref: jobData
                              method: "set('currentPage', ${header.page})"
                    - setBody:
                        simple: "${body}|pager:${exchangeProperty.FactoryJobData[currentPage]}"
            - route:
                id: program-refuse
                from:
                  uri: "program:refuse"
                  steps:
                    - throwException:
                        exceptionType: "java.lang.IllegalStateException"
                        message: "report template missing for ${exchangeProperty.FactoryProgramData[customer]}"
            - route:
                id: program-slow
                from:
                  uri: "program:slow"
                  steps:
                    - delay:
                        simple: "${exchangeProperty.FactoryProgramData[waitMs]}"
                    - setBody:
                        simple: "${body}|slow"
            - route:
                id: program-busy
                from:
                  uri: "program:busy"
                  steps:
                    - throwException:
                        exceptionType: "java.util.ConcurrentModificationException"
                        message: "ledger locked by another writer"
            - route:
                id: program-spawn
                from:
                  uri: "program:spawn"
                  steps:
                    - setBody:
                        constant: '{"steps": [["collect", {"tag": "spawned"}]], "programData": {"from": "spawn"}}'
                    - bean:
                        ref: programs
                        method: submit
            """;

    private ProgramRoutes() {
    }
}
