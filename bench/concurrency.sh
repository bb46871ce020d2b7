#!/usr/bin/env bash
# Items in parallel: a job whose step calls a local stand-in API answering in LATENCY ms, N items, one run at each
# concurrency; prints items/s beside the limit concurrency / latency. Not a test: run by hand.
#
#   bench/concurrency.sh
#   bench/concurrency.sh N=2000 LATENCY=50 CONCURRENCY=1,4,16,64
#   JAVA_OPTS=...    JVM options
#
# Target: at concurrency 16, at least 80% of the limit.
exec "$(dirname "${BASH_SOURCE[0]}")/run-java.sh" ConcurrencyBenchmark "$@"
