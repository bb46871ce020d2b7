#!/usr/bin/env bash
# Items in parallel: a job whose step calls a local stand-in API answering in LATENCY ms, N items, one run at each
# concurrency; prints items/s beside the limit concurrency / latency. Not a test: run by hand.
#
#   bench/concurrency.sh
#   N=2000 LATENCY=50 CONCURRENCY=1,4,16,64 bench/concurrency.sh
#
# Target: at concurrency 16, at least 80% of the limit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mvn -q -B test-compile
mvn -q -B dependency:build-classpath -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test

read -r -a JAVA_ARGS <<< "${JAVA_OPTS:-}"
exec java "${JAVA_ARGS[@]}" -cp "target/test-classes:target/classes:$(cat target/bench-classpath.txt)" \
    io.factoryrunner.bench.ConcurrencyBenchmark "$@"
