#!/usr/bin/env bash
# The factory against Spring Batch on the same embedded PostgreSQL (fsync and synchronous_commit on): alternating
# rounds (factory, Spring Batch, factory, ...), each on databases of its own, then every round's figures and the
# median of the per-round ratios at each chunk size. The peer is ../shared/peers (peers.SpringBatchChain, six chunk
# steps with JdbcPagingItemReader and JdbcBatchItemWriter, reWriteBatchedInserts=true), built under target/peers.
#
#   bench/versus-spring-batch.sh
#   ROUNDS=8 N=10000 CHUNK=100,500 TX=chunk bench/versus-spring-batch.sh
#
#   ROUNDS=4         alternating rounds
#   N=10000          items through the six jobs (and the six steps)
#   CHUNK=100,500    chunk sizes (commit interval of the peer)
#   TX=claim         the factory jobs' transaction option: claim (the default) or chunk
#
# Target: factory / Spring Batch hand-offs per second at least 1.5x at every chunk size.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${ROUNDS:-4}"
N="${N:-10000}"
CHUNK="${CHUNK:-100,500}"
TX="${TX:-claim}"
PEERS="${PEERS:-../shared/peers}"

mvn -q -B test-compile
mvn -q -B dependency:build-classpath -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test
rm -rf target/peers
cp -r "$PEERS" target/peers
(cd target/peers && mvn -q -B compile dependency:build-classpath -Dmdep.outputFile=cp.txt)

FACTORY_CP="target/test-classes:target/classes:$(cat target/bench-classpath.txt)"
PEER_CP="target/peers/target/classes:$(cat target/peers/cp.txt)"
OUT=target/versus
rm -rf "$OUT"
mkdir -p "$OUT"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round of $ROUNDS: factory"
    java -cp "$FACTORY_CP" io.factoryrunner.bench.PipelineBenchmark DB=postgresql N="$N" CHUNK="$CHUNK" TX="$TX" \
        FLATNESS=off > "$OUT/factory-$round.txt"
    awk -v tx="$TX" '$1 == "PostgreSQL" && $2 == tx && NF == 6 { print $3, $4 }' "$OUT/factory-$round.txt" \
        | tee "$OUT/factory-$round.csv"
    echo "== round $round of $ROUNDS: spring batch"
    java -cp "$PEER_CP" peers.SpringBatchChain N="$N" CHUNK="$CHUNK" DRIVER=rewrite > "$OUT/peer-$round.txt"
    awk '$1 == "spring-batch" { print $2, $3 }' "$OUT/peer-$round.txt" | tee "$OUT/peer-$round.csv"
done

echo
printf '%-6s %-6s %14s %14s %8s\n' round chunk factory/s spring-batch/s ratio
for round in $(seq 1 "$ROUNDS"); do
    join "$OUT/factory-$round.csv" "$OUT/peer-$round.csv" | while read -r chunk factory peer; do
        printf '%-6s %-6s %14.0f %14.0f %7.2fx\n' "$round" "$chunk" "$factory" "$peer" \
            "$(echo "$factory / $peer" | bc -l)"
    done
done | tee "$OUT/rounds.txt"
echo
for chunk in ${CHUNK//,/ }; do
    awk -v c="$chunk" '$2 == c { sub("x", "", $5); print $5 }' "$OUT/rounds.txt" | sort -n \
        | awk -v c="$chunk" '{ r[NR] = $1 } END { m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2;
            printf "chunk size %s: median factory / Spring Batch = %.2fx over %d rounds (target >= 1.5x)\n", c, m, NR }'
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
