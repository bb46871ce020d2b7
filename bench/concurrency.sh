#!/usr/bin/env bash
# Items in parallel: a job whose step calls a local stand-in API answering in LATENCY ms, N items, one run at each
# concurrency; prints items/s beside the limit concurrency / latency, and where the rest of the time went: a call's
# time in the job and the same calls without the job (JDK HttpClient, camel-http, and camel-http without the delay),
# the stand-in's own time, and the share of the pool's time spent calling, with no call under way between calls (a
# chunk's commit and the next claim), partly idle (a chunk's last calls) and at the run's start and end.
# Not a test: run by hand.
#
#   bench/concurrency.sh
#   bench/concurrency.sh N=2000 LATENCY=50 CONCURRENCY=1,4,16,64 CHUNK=100 ROUNDS=3
#   JAVA_OPTS=...    JVM options
#
# ROUNDS runs every concurrency that many times, alternately, and prints the medians.
# Target: at concurrency 16, at least 80% of the limit.
exec "$(dirname "${BASH_SOURCE[0]}")/run-java.sh" ConcurrencyBenchmark "$@"
