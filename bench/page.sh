#!/usr/bin/env bash
# Status page benchmark (io.factoryrunner.bench.PageBenchmark, in the test sources): a factory whose database holds
# RUNS runs, STATES item states and ERRORS errors serves its status page to headless Chromium (Debian's chromium and
# chromium-driver), which opens it LOADS times. Prints the time from navigation until every panel is filled, and the
# time from the first of a refresh's API calls sent to the last answered, on an H2 file database and an embedded
# PostgreSQL.
#
#   bench/page.sh                              defaults, both databases
#   bench/page.sh DB=postgresql LOADS=5        the same settings as KEY=value arguments
#
#   RUNS=100000 STATES=1000000 ERRORS=10000 LOADS=10 DB=both (or h2, postgresql)
#
# Targets: the page complete within 1 s of navigation; a refresh costs the server under 50 ms.
exec "$(dirname "${BASH_SOURCE[0]}")/run-java.sh" PageBenchmark "$@"
