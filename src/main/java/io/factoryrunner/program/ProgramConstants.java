package io.factoryrunner.program;

import org.apache.camel.spi.Metadata;

/**
 * The names of the headers and exchange properties a program job's exchange carries. Its body is the result the job
 * before it left (null for a program's first step): a Map or a List when that job left one, else what it left.
 */
public final class ProgramConstants {

    @Metadata(label = "consumer", description = "The program's run id (a UUID), as POST /api/programs answered it.",
            javaType = "String")
    public static final String RUN_ID = "FactoryProgramRunId";
    @Metadata(label = "consumer", description = "The program job the step runs.", javaType = "String")
    public static final String JOB = "FactoryProgramJob";
    @Metadata(label = "consumer", description = "The step's place in the program, from 0.", javaType = "int")
    public static final String STEP = "FactoryProgramStep";
    @Metadata(label = "consumer", description = "The step's attempt, from 1: above 1 after a retryable failure.",
            javaType = "int")
    public static final String ATTEMPT = "FactoryProgramAttempt";
    @Metadata(label = "consumer", description = "An exchange property, not a header: the program data, for every"
            + " job of the program (a Map).", javaType = "java.util.Map")
    public static final String PROGRAM_DATA = "FactoryProgramData";
    @Metadata(label = "consumer", description = "An exchange property, not a header: the step's own job data (a"
            + " Map), as stored so far; the jobData bean's set and merge write it durably and change this map too, so"
            + " a retried job reads the progress it stored.", javaType = "java.util.Map")
    public static final String JOB_DATA = "FactoryJobData";
    @Metadata(label = "consumer", description = "An exchange property, not a header: the step's arguments (a Map),"
            + " as submitted with the step.", javaType = "java.util.Map")
    public static final String ARGUMENTS = "FactoryStepArguments";

    private ProgramConstants() {
    }
}
