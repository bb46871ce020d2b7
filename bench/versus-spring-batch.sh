#!/usr/bin/env bash
# The factory against Spring Batch on the same embedded PostgreSQL (fsync and synchronous_commit on): alternating
# rounds (factory, Spring Batch, factory, ...), each on databases of its own, then every round's figures and the
# median of the per-round ratios at each chunk size, with the CPU seconds each used per 10,000 hand-offs in its JVM
# and in its PostgreSQL server (the two compete for the same cores). The peer is ../shared/peers
# (peers.SpringBatchChain, six chunk steps with JdbcPagingItemReader and JdbcBatchItemWriter,
# reWriteBatchedInserts=true), built under target/peers and run through io.factoryrunner.bench.SpringBatchCpu, which
# reads the CPU meters around its measured job run.
#
#   bench/versus-spring-batch.sh
#   ROUNDS=8 N=10000 CHUNK=100,500 TX=chunk bench/versus-spring-batch.sh
#   BASELINE=../factory-before bench/versus-spring-batch.sh     adds that version of the factory to every round
#
#   ROUNDS=4         alternating rounds
#   N=10000          items through the six jobs (and the six steps)
#   CHUNK=100,500    chunk sizes (commit interval of the peer)
#   TX=claim         the factory jobs' transaction option: claim (the default) or chunk
#   REPEAT=1         each side makes its whole run this many times in one JVM (each time on a new server, as the peer
#                    does) and reports the last, once the JIT compilers have settled
#   BASELINE=        another checkout of the factory (an earlier version), built there and measured in each round
#                    with this checkout's benchmark class; its ratio to Spring Batch and this one's to it are printed
#   FOLLOW=off       on: every factory job but the first follows the one before it (follow: true; a pass triggers
#                    the first job, whose run starts the next one's, each taking the chunks of the one before as they
#                    commit); both: the factory measured both ways in every round, the following one printed apart
#
# Target: factory / Spring Batch hand-offs per second at least 1.5x at every chunk size.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${ROUNDS:-4}"
N="${N:-10000}"
CHUNK="${CHUNK:-100,500}"
TX="${TX:-claim}"
REPEAT="${REPEAT:-1}"
PEERS="${PEERS:-../shared/peers}"
BASELINE="${BASELINE:-}"
FOLLOW="${FOLLOW:-off}"
case "$FOLLOW" in
    on | off | both) ;;
    *) echo "FOLLOW must be on, off or both, not '$FOLLOW'" >&2; exit 2 ;;
esac

mvn -q -B test-compile
mvn -q -B dependency:build-classpath -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test
rm -rf target/peers
cp -r "$PEERS" target/peers
(cd target/peers && mvn -q -B compile dependency:build-classpath -Dmdep.outputFile=cp.txt)
if [ -n "$BASELINE" ]; then
    (cd "$BASELINE" && mvn -q -B process-classes)
fi

DEPS="$(cat target/bench-classpath.txt)"
FACTORY_CP="target/test-classes:target/classes:$DEPS"
# the peer's classes first; SpringBatchCpu and CpuMeter need nothing else from the factory's test classes
PEER_CP="target/peers/target/classes:$(cat target/peers/cp.txt):target/test-classes"
OUT=target/versus
rm -rf "$OUT"
mkdir -p "$OUT"

# runs this checkout's PipelineBenchmark on the main classes given, its server as the peer's (no pg_stat_statements);
# CHUNK FACTORY/S JVM-CPU SERVER-CPU rows
factory_round() {
    local name=$1 classes=$2 round=$3 follow=${4:-$FOLLOW}
    java -cp "target/test-classes:$classes:$DEPS" io.factoryrunner.bench.PipelineBenchmark DB=postgresql N="$N" \
        CHUNK="$CHUNK" TX="$TX" FLATNESS=off STATEMENTS=off REPEAT="$REPEAT" FOLLOW="$follow" \
        > "$OUT/$name-$round.txt"
    awk -v tx="$TX" '$1 == "PostgreSQL" && $2 == tx && NF == 8 { print $3, $4, $7, $8 }' "$OUT/$name-$round.txt" \
        | sort | tee "$OUT/$name-$round.csv"
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round of $ROUNDS: factory$([ "$FOLLOW" = on ] && echo ", following") (load average $(cut -d' ' -f1 /proc/loadavg))"
    factory_round factory target/classes "$round" "$([ "$FOLLOW" = both ] && echo off || echo "$FOLLOW")"
    if [ "$FOLLOW" = both ]; then
        echo "== round $round of $ROUNDS: factory, following (load average $(cut -d' ' -f1 /proc/loadavg))"
        factory_round following target/classes "$round" on
    fi
    echo "== round $round of $ROUNDS: spring batch (load average $(cut -d' ' -f1 /proc/loadavg))"
    java -cp "$PEER_CP" io.factoryrunner.bench.SpringBatchCpu N="$N" CHUNK="$CHUNK" DRIVER=rewrite REPEAT="$REPEAT" \
        > "$OUT/peer-$round.txt"
    join <(awk '$1 == "spring-batch" { print $2, $3 }' "$OUT/peer-$round.txt" | sort) \
        <(awk '$1 == "spring-batch-cpu" { print $2, $3, $4 }' "$OUT/peer-$round.txt" | sort) \
        | tee "$OUT/peer-$round.csv"
    if [ -n "$BASELINE" ]; then
        echo "== round $round of $ROUNDS: baseline $BASELINE (load average $(cut -d' ' -f1 /proc/loadavg))"
        factory_round baseline "$BASELINE/target/classes" "$round"
    fi
done

# the median of column $1 of the rows of chunk size $2 in file $3
median() {
    awk -v c="$2" -v k="$1" '$2 == c { sub("x", "", $k); print $k }' "$3" | sort -n \
        | awk '{ r[NR] = $1 } END { if (NR == 0) print "nan"; else print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'
}

echo
echo "CPU seconds per 10,000 hand-offs: JVM and PostgreSQL server, factory (f) and Spring Batch (sb)"
printf '%-6s %-6s %12s %14s %8s %8s %8s %8s %8s\n' round chunk factory/s spring-batch/s ratio f-jvm f-pg sb-jvm sb-pg
for round in $(seq 1 "$ROUNDS"); do
    join "$OUT/factory-$round.csv" "$OUT/peer-$round.csv" | while read -r chunk factory fjvm fpg peer sbjvm sbpg; do
        printf '%-6s %-6s %12.0f %14.0f %7.2fx %8.2f %8.2f %8.2f %8.2f\n' "$round" "$chunk" "$factory" "$peer" \
            "$(echo "$factory / $peer" | bc -l)" "$fjvm" "$fpg" "$sbjvm" "$sbpg"
    done
done | tee "$OUT/rounds.txt"
if [ "$FOLLOW" = both ]; then
    echo
    echo "the factory with every job but the first following the one before it: the same rounds"
    printf '%-6s %-6s %12s %14s %8s %8s %8s %10s\n' round chunk following/s spring-batch/s ratio f-jvm f-pg /in-order
    for round in $(seq 1 "$ROUNDS"); do
        join "$OUT/following-$round.csv" "$OUT/peer-$round.csv" | join - "$OUT/factory-$round.csv" \
            | while read -r chunk follow fjvm fpg peer _ _ factory _ _; do
            printf '%-6s %-6s %12.0f %14.0f %7.2fx %8.2f %8.2f %9.2fx\n' "$round" "$chunk" "$follow" "$peer" \
                "$(echo "$follow / $peer" | bc -l)" "$fjvm" "$fpg" "$(echo "$follow / $factory" | bc -l)"
        done
    done | tee "$OUT/following-rounds.txt"
fi
if [ -n "$BASELINE" ]; then
    echo
    echo "baseline ($BASELINE): the same rounds"
    printf '%-6s %-6s %12s %14s %8s %8s %8s %10s\n' round chunk baseline/s spring-batch/s ratio b-jvm b-pg this/base
    for round in $(seq 1 "$ROUNDS"); do
        join "$OUT/baseline-$round.csv" "$OUT/peer-$round.csv" | join - "$OUT/factory-$round.csv" \
            | while read -r chunk base bjvm bpg peer _ _ factory _ _; do
            printf '%-6s %-6s %12.0f %14.0f %7.2fx %8.2f %8.2f %9.2fx\n' "$round" "$chunk" "$base" "$peer" \
                "$(echo "$base / $peer" | bc -l)" "$bjvm" "$bpg" "$(echo "$factory / $base" | bc -l)"
        done
    done | tee "$OUT/baseline-rounds.txt"
fi
echo
for chunk in ${CHUNK//,/ }; do
    # each side's own median too: a ratio that moves between runs moves with one side or the other
    printf 'chunk size %s: median factory / Spring Batch = %.2fx over %d rounds (target >= 1.5x); median hand-offs/s:' \
        "$chunk" "$(median 5 "$chunk" "$OUT/rounds.txt")" "$ROUNDS"
    printf ' factory %.0f, Spring Batch %.0f; CPU s per 10,000' "$(median 3 "$chunk" "$OUT/rounds.txt")" \
        "$(median 4 "$chunk" "$OUT/rounds.txt")"
    printf ' hand-offs: factory JVM %.2f + server %.2f, Spring Batch JVM %.2f + server %.2f\n' \
        "$(median 6 "$chunk" "$OUT/rounds.txt")" "$(median 7 "$chunk" "$OUT/rounds.txt")" \
        "$(median 8 "$chunk" "$OUT/rounds.txt")" "$(median 9 "$chunk" "$OUT/rounds.txt")"
    if [ "$FOLLOW" = both ]; then
        printf 'chunk size %s: following, median factory / Spring Batch = %.2fx (target >= 1.5x), following / in order' \
            "$chunk" "$(median 5 "$chunk" "$OUT/following-rounds.txt")"
        printf ' = %.2fx; median hand-offs/s %.0f; CPU s per 10,000 hand-offs: JVM %.2f + server %.2f\n' \
            "$(median 8 "$chunk" "$OUT/following-rounds.txt")" "$(median 3 "$chunk" "$OUT/following-rounds.txt")" \
            "$(median 6 "$chunk" "$OUT/following-rounds.txt")" "$(median 7 "$chunk" "$OUT/following-rounds.txt")"
    fi
    if [ -n "$BASELINE" ]; then
        printf 'chunk size %s: median baseline / Spring Batch = %.2fx, this / baseline = %.2fx; baseline CPU s per' \
            "$chunk" "$(median 5 "$chunk" "$OUT/baseline-rounds.txt")" "$(median 8 "$chunk" "$OUT/baseline-rounds.txt")"
        printf ' 10,000 hand-offs: JVM %.2f + server %.2f\n' "$(median 6 "$chunk" "$OUT/baseline-rounds.txt")" \
            "$(median 7 "$chunk" "$OUT/baseline-rounds.txt")"
    fi
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
