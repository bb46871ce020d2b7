#!/usr/bin/env bash
# Start-up benchmark: Factory Runner against the floor, a bare Camel Main running one YAML Quartz route from the
# same libraries (target/lib). For each program it measures the wall time from launching java to the first
# "BENCH-FIRED" log line, and the peak RSS (VmHWM). Runs alternate between the two programs.
#
#   bench/startup.sh                 5 runs of each program
#   RUNS=3 bench/startup.sh          another number of runs
#   TRIGGER=cron bench/startup.sh    cron trigger 0/1 * * * * ? instead of a simple trigger firing at once
#                                    (adds up to 1s of waiting for the next whole second to every run)
#   HOLD=2                           seconds each program keeps running after its first fire (peak RSS)
#   TIMEOUT=60                       seconds to wait for the first fire before giving up
#   JAVA_OPTS="-Xmx256m"             JVM options given to both programs
#   INSTALL=existing                 (default) every factory run restarts one installation whose database a first,
#                                    unmeasured start created: what an operator's restart costs
#   SHIPPED='framework/**,factory/**'  also load the reference factory's routes (default: the framework only)
#   INSTALL=fresh                    every factory run gets a new home, so it also creates the H2 database and
#                                    its schema
#
# Targets: factory start-up <= 1.5 x floor, factory peak RSS <= 2 x floor.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${RUNS:-5}
TRIGGER=${TRIGGER:-simple}
HOLD=${HOLD:-2}
TIMEOUT=${TIMEOUT:-60}
INSTALL=${INSTALL:-existing}
# the shipped routes the factory loads beside the bench route: the framework (error handling, notifications,
# housekeeping) by default; SHIPPED='framework/**,factory/**' adds the six routes of the reference factory
SHIPPED=${SHIPPED:-framework/**}
case "$INSTALL" in existing | fresh) ;; *) echo "INSTALL must be existing or fresh, not '$INSTALL'" >&2; exit 2 ;; esac
read -r -a JAVA_ARGS <<< "${JAVA_OPTS:-}"
CRON='0/1 * * * * ?'

case "$TRIGGER" in
    simple) TRIGGER_PARAMETERS=$'        trigger.repeatCount: 0\n        trigger.repeatInterval: 1' ;;
    cron)   TRIGGER_PARAMETERS='        cron: "{{job.bench.cron}}"' ;;
    *) echo "TRIGGER must be simple or cron, not '$TRIGGER'" >&2; exit 2 ;;
esac

if [[ ! -f target/factory-runner.jar || ! -d target/lib ]]; then
    echo "Building target/factory-runner.jar ..."
    mvn -q -B package -DskipTests
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/startup-bench.XXXXXX")
PID=
TAIL_PID=

stop_tail() {
    if [[ -n "$TAIL_PID" ]]; then
        kill "$TAIL_PID" 2>/dev/null || true
        wait "$TAIL_PID" 2>/dev/null || true
        TAIL_PID=
    fi
}

cleanup() {
    stop_tail
    if [[ -n "$PID" ]]; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The same route for both programs, logging BENCH-FIRED on its first fire.
route_file() {
    cat > "$1" <<EOF
- route:
    id: bench
    from:
      uri: "quartz:bench/first"
      parameters:
$TRIGGER_PARAMETERS
      steps:
        - log: "BENCH-FIRED"
EOF
}

# A TCP port nobody listens on.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

now_ns() { date +%s%N; }

vm_hwm_kib() {
    local kib
    kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || true
    if [[ -z "$kib" ]]; then
        echo "Cannot read VmHWM of process $1: it is no longer running" >&2
        exit 1
    fi
    echo "$kib"
}

# Prepares the directory for one run of a program and prints the command that starts it, one word a line.
# With INSTALL=fresh every factory run gets a new home, so its start also creates the H2 database and the schema;
# with INSTALL=existing all runs share one home.
prepare_factory() {
    local home=$1
    if [[ $INSTALL == existing ]]; then
        home=$WORK/factory-home
    fi
    mkdir -p "$1"
    if [[ ! -d $home/config ]]; then
        mkdir -p "$home/config/routes"
        route_file "$home/config/routes/bench.camel.yaml"
        cat > "$home/config/application.properties" <<EOF
camel.server.port = $(free_port)
job.bench.cron = $CRON
factory.routes.shipped = $SHIPPED
EOF
    fi
    printf '%s\n' java "${JAVA_ARGS[@]}" -jar "$PWD/target/factory-runner.jar" --home "$home"
}

# The floor: org.apache.camel.main.Main reads camel.main.* from JVM system properties; it loads only the one route
# file, no properties file, and nothing of Factory Runner (its jar, defaults and logback.xml are not on the class
# path). The minimal logback.xml keeps logback from its default DEBUG level.
prepare_floor() {
    local dir=$1
    mkdir -p "$dir"
    route_file "$dir/floor.camel.yaml"
    cat > "$dir/logback.xml" <<'EOF'
<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{24} - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.quartz" level="WARN"/>
  <root level="INFO"><appender-ref ref="CONSOLE"/></root>
</configuration>
EOF
    printf '%s\n' java "${JAVA_ARGS[@]}" -cp "$PWD/target/lib/*" \
        "-Dlogback.configurationFile=$dir/logback.xml" \
        "-Dcamel.main.routes-include-pattern=file:$dir/floor.camel.yaml" \
        "-Djob.bench.cron=$CRON" \
        org.apache.camel.main.Main
}

# Stops the running program: SIGTERM, then SIGKILL if it has not ended after 30s.
stop_program() {
    kill -TERM "$PID" 2>/dev/null || true
    for ((t = 0; t < 300; t++)); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
}

# One run of a program; sets RUN_MS (launch to first fire) and RUN_KIB (peak RSS).
# The log is followed with tail -F (inotify), which sees the line within a few ms and, unlike a polling loop that
# forks grep and date every 10 ms, takes no CPU from the JVM being measured.
run_once() {
    local program=$1 dir=$2 log=$2.log
    local -a cmd
    mapfile -t cmd < <("prepare_$program" "$dir")
    : > "$log"
    mkfifo "$dir.fifo"

    local start fired hwm rc=0
    start=$(now_ns)
    (cd "$dir" && exec "${cmd[@]}") > "$log" 2>&1 &
    PID=$!
    tail -F -n +1 --pid="$PID" "$log" > "$dir.fifo" 2>/dev/null &
    TAIL_PID=$!
    timeout "$TIMEOUT" grep -q -m 1 -F BENCH-FIRED < "$dir.fifo" || rc=$?
    fired=$(now_ns)
    stop_tail
    if ((rc != 0)); then
        if ((rc == 124)); then
            echo "$program did not fire within ${TIMEOUT}s; its log ends with:" >&2
        else
            echo "$program ended before it fired; its log ends with:" >&2
        fi
        tail -n 30 "$log" >&2
        exit 1
    fi
    RUN_MS=$(((fired - start) / 1000000))
    if [[ $program == floor ]] && grep -q -E 'HttpServer started|factory-defaults|factoryrunner' "$log"; then
        echo "The floor started something of Factory Runner; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    RUN_KIB=$(vm_hwm_kib "$PID")
    sleep "$HOLD"
    hwm=$(vm_hwm_kib "$PID")
    if ((hwm > RUN_KIB)); then RUN_KIB=$hwm; fi
    stop_program
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -a factory_ms=() factory_kib=() floor_ms=() floor_kib=()
echo "Runs: $RUNS of each program, $TRIGGER trigger, $INSTALL installation"
if [[ $INSTALL == existing ]]; then
    run_once factory "$WORK/factory-first-start"
    echo "first start (creates the database, not counted): ${RUN_MS} ms"
fi
printf '%-4s %-8s %12s %14s\n' run program start-up_ms peak_RSS_MiB
for ((i = 1; i <= RUNS; i++)); do
    for program in factory floor; do
        run_once "$program" "$WORK/$program-$i"
        if [[ $program == factory ]]; then
            factory_ms+=("$RUN_MS") factory_kib+=("$RUN_KIB")
        else
            floor_ms+=("$RUN_MS") floor_kib+=("$RUN_KIB")
        fi
        printf '%-4s %-8s %12d %14.1f\n' "$i" "$program" "$RUN_MS" "$(awk -v k="$RUN_KIB" 'BEGIN { print k / 1024 }')"
        rm -rf "${WORK:?}/$program-$i" "$WORK/$program-$i".*
    done
done

fm=$(printf '%s\n' "${factory_ms[@]}" | median)
fk=$(printf '%s\n' "${factory_kib[@]}" | median)
lm=$(printf '%s\n' "${floor_ms[@]}" | median)
lk=$(printf '%s\n' "${floor_kib[@]}" | median)

echo
awk -v fm="$fm" -v fk="$fk" -v lm="$lm" -v lk="$lk" 'BEGIN {
    printf "%-22s %14s %14s %8s %8s %6s\n", "median", "factory", "floor", "ratio", "target", ""
    rt = fm / lm; rr = fk / lk
    printf "%-22s %14.0f %14.0f %7.2fx %7.1fx %6s\n", "start-up to fire (ms)", fm, lm, rt, 1.5, (rt <= 1.5 ? "PASS" : "MISS")
    printf "%-22s %14.1f %14.1f %7.2fx %7.1fx %6s\n", "peak RSS (MiB)", fk / 1024, lk / 1024, rr, 2.0, (rr <= 2.0 ? "PASS" : "MISS")
}'
