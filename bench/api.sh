#!/usr/bin/env bash
# Operator API benchmark (io.factoryrunner.bench.ApiBenchmark, in the test sources): a factory whose database holds
# RUNS runs, STATES item states and ERRORS errors answers CLIENTS concurrent clients for SECONDS per endpoint:
# GET /api/jobs, GET /api/runs, GET /api/items/build?status=failed and GET /api/items/build/{key}. Prints requests
# per second and p50/p99 latency per endpoint, on an H2 file database and an embedded PostgreSQL.
#
#   bench/api.sh                              defaults, both databases
#   bench/api.sh DB=postgresql SECONDS=10     the same settings as KEY=value arguments
#
#   RUNS=100000 STATES=1000000 ERRORS=10000 CLIENTS=20 SECONDS=30 DB=both (or h2, postgresql)
#
# Target: p99 under 100 ms for each endpoint.
exec "$(dirname "${BASH_SOURCE[0]}")/run-java.sh" ApiBenchmark "$@"
