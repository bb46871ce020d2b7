#!/usr/bin/env bash
# Pipeline throughput benchmark (io.factoryrunner.bench.PipelineBenchmark, in the test sources): N items through a
# six-job chain of no-op routes after a warm-up pass, item hand-offs per second at each chunk size against the
# database's single-row commit rate, and the time of a six-job pass over 1,000 items with 1,000 and with BIG
# finished items in the state store. Runs on an embedded PostgreSQL (fsync and synchronous_commit on) and on an H2
# file database.
#
#   bench/pipeline.sh                  defaults, both databases
#   N=2000 BIG=20000 DB=h2 bench/pipeline.sh
#   bench/pipeline.sh N=2000 DB=postgresql      the same settings as KEY=value arguments
#
#   N=10000          items pushed through the chain
#   BIG=1000000      finished items in the state store for the second flatness case
#   DB=both          both, postgresql or h2
#   CHUNK=100,500    chunk sizes of every job: throughput is measured at each, flatness at the first
#   COMMITS=3000     timed single-row commits of the floor
#   PASSES=5         timed flatness passes per size (the median is reported)
#   TX=claim,chunk   the jobs' transaction option, each measured (flatness with the first)
#   FLATNESS=on      off skips the flatness passes
#   NODES=1          2 (or more): instead of the above, the chain on one node and on NODES nodes (child JVMs with
#                    factory.cluster.enabled = true on one PostgreSQL, every job firing every second), alternately,
#                    ROUNDS times each, at the first CHUNK and TX; hand-offs/s side by side with the core count
#   ROUNDS=3         rounds of the NODES comparison
#   STATEMENTS=on    off: PostgreSQL does not time its statements (pg_stat_statements), which costs it a little CPU
#   JFR=             a directory: each measured pass's CPU samples and JIT compilations recorded there (bench/profile.sh)
#   REPEAT=1         the throughput measurements made this many times in the JVM (a new server each time), the last
#                    reported: once the JIT compilers have settled
#   FOLLOW=off       on: every job but the first follows the one before it (follow: true), and a pass triggers the
#                    first job only; its run starts the next job's, each taking the chunks of the one before as they
#                    commit
#   JAVA_OPTS=...    JVM options
#
#   bench/pipeline.sh NODES=2 N=50000 CHUNK=100 TX=claim
#
# Targets: hand-offs/s >= 5 x raw commits/s on PostgreSQL; pass with BIG finished items <= 1.5 x pass with 1,000.
exec "$(dirname "${BASH_SOURCE[0]}")/run-java.sh" PipelineBenchmark "$@"
