#!/usr/bin/env bash
# Program throughput benchmark (io.factoryrunner.bench.ProgramsBenchmark, in the test sources): N programs of three
# no-op program jobs against N x 3 no-op one-time tasks of db-scheduler (lock-and-fetch polling), WORKERS workers
# each, in alternating rounds on one embedded PostgreSQL with fsync and synchronous_commit on; prints program steps
# per second, db-scheduler executions per second and their ratio.
#
#   bench/programs.sh                  defaults
#   N=500 ROUNDS=1 bench/programs.sh
#   bench/programs.sh N=500 WORKERS=8   the same settings as KEY=value arguments
#
#   N=2000           programs (db-scheduler gets N x 3 tasks)
#   WORKERS=4        program.workers of the factory, threads of db-scheduler
#   ROUNDS=3         measured rounds (a warm-up round of N / 5 comes first)
#   JAVA_OPTS=...    JVM options
#
# Target: program steps/s >= 1.5 x db-scheduler executions/s.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

mvn -q -B test-compile
mvn -q -B dependency:build-classpath -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test

read -r -a JAVA_ARGS <<< "${JAVA_OPTS:-}"
exec java "${JAVA_ARGS[@]}" -cp "target/test-classes:target/classes:$(cat target/bench-classpath.txt)" \
    io.factoryrunner.bench.ProgramsBenchmark "$@"
