#!/usr/bin/env bash
# Where the factory's JVM spends its CPU in the pipeline benchmark's measured passes: runs
# io.factoryrunner.bench.PipelineBenchmark with JFR=target/jfr (each measured pass recorded by the JDK's flight
# recorder: CPU samples every 2 ms, stacks of up to 256 frames), then prints each recording's CPU samples by thread, by library, by top frame and by
# method on the stack (io.factoryrunner.bench.JfrTop).
#
#   bench/profile.sh                                   PostgreSQL, chunk 100 and 500, transaction chunk
#   bench/profile.sh N=20000 CHUNK=100 TX=claim        any PipelineBenchmark setting, as KEY=value
#   TOP=40 bench/profile.sh                            rows per table (25)
#   jfr print --events jdk.ExecutionSample target/jfr/postgresql-100-chunk.jfr     the samples themselves
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf target/jfr
JAVA_OPTS="${JAVA_OPTS:-} -XX:FlightRecorderOptions:stackdepth=256" \
"$(dirname "${BASH_SOURCE[0]}")/run-java.sh" PipelineBenchmark DB=postgresql TX=chunk FLATNESS=off "$@" JFR=target/jfr
for recording in target/jfr/*.jfr; do
    echo
    java -cp "target/test-classes" io.factoryrunner.bench.JfrTop "$recording" "${TOP:-25}" \
        io.factoryrunner.job.JobConsumer.process io.factoryrunner.job.ChunkLoop.runChunks
done
