#!/usr/bin/env bash
# Runs one benchmark class of the test sources (io.factoryrunner.bench.CLASS) on the test classpath, after building
# it; the benchmark scripts call it with their KEY=value arguments.
#
#   bench/run-java.sh ApiBenchmark DB=h2 SECONDS=10
#   JAVA_OPTS=...    JVM options
set -euo pipefail
export LC_ALL=C

if [ $# -lt 1 ]; then
    echo "Usage: bench/run-java.sh CLASS [KEY=value ...]" >&2
    exit 2
fi
CLASS=$1
shift

cd "$(dirname "${BASH_SOURCE[0]}")/.."

mvn -q -B test-compile
mvn -q -B dependency:build-classpath -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test

read -r -a JAVA_ARGS <<< "${JAVA_OPTS:-}"
exec java "${JAVA_ARGS[@]}" -cp "target/test-classes:target/classes:$(cat target/bench-classpath.txt)" \
    "io.factoryrunner.bench.$CLASS" "$@"
