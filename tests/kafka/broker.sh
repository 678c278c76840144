#!/usr/bin/env bash
# broker.sh — a real Apache Kafka broker (4.x, KRaft, one node on 127.0.0.1) for giftope's
# Kafka tests, run from Maven Central jars with the JDK (17+) on PATH. docs/kafka-tests.md
# explains the design; in short:
#   - `fetch` resolves tests/kafka/pom.xml with Maven: ~/.m2 is the download cache, and the
#     runtime jars are copied once into a versioned folder that a stamp marks complete, so a
#     later fetch costs no Maven run at all;
#   - every broker lives in its own work dir (a mktemp dir unless --dir is given) holding its
#     config, data, logs and pid file, and listens on ports picked free at start, so parallel
#     runs never share anything;
#   - `start` returns only when the broker answers a metadata request with the cluster id it
#     was formatted with (ClusterTool cluster-id); it prints shell assignments
#     (GOPE_KAFKA_BROKERS=127.0.0.1:PORT ...) on stdout, all progress and errors on stderr;
#   - besides PLAINTEXT it listens on SASL_PLAINTEXT (mechanism PLAIN, user gope, password
#     gope-secret) at GOPE_KAFKA_SASL_BROKERS, for the test of security settings.
#
# Usage: broker.sh fetch [DIR]
#        broker.sh start [--port P] [--dir D] [--owner PID]
#        broker.sh stop|restart|status [--dir D]
#        broker.sh topic create NAME PARTITIONS [--dir D]
#        broker.sh topic list [--dir D]
# Without --dir, stop/restart/status/topic use $GOPE_KAFKA_DIR (start prints it).
# --owner PID: a watchdog stops the broker once process PID has gone (even if PID was
#              SIGKILLed and could not run its own cleanup).
# Environment: GOPE_KAFKA_HOME (jar folder; default ~/.cache/giftope/kafka-<version>),
#   GOPE_KAFKA_VERSION (override the pom's Kafka version), GOPE_KAFKA_JAVA (java binary),
#   GOPE_KAFKA_HEAP (broker heap flags, default "-Xms128m -Xmx512m"),
#   GOPE_KAFKA_START_TIMEOUT (s, default 90), GOPE_KAFKA_STOP_TIMEOUT (s, default 30),
#   MAVEN_ARGS (extra mvn arguments, e.g. -Dmaven.repo.local=DIR).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
JAVA=${GOPE_KAFKA_JAVA:-java}
HEAP=${GOPE_KAFKA_HEAP:--Xms128m -Xmx512m}
START_TIMEOUT=${GOPE_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${GOPE_KAFKA_STOP_TIMEOUT:-30}
STAMP=.giftope-fetched

say() { echo "broker.sh: $*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '/^# Usage:/,/^# Without/p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2; }

kafka_version() {
  if [ -n "${GOPE_KAFKA_VERSION:-}" ]; then echo "$GOPE_KAFKA_VERSION"; return; fi
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml"
}

kafka_home() {
  echo "${GOPE_KAFKA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/giftope/kafka-$(kafka_version)}"
}

# What a complete jar folder was fetched from: the pom's content and the version override.
fetch_id() { echo "$(sha256sum < "$HERE/pom.xml" | cut -c1-16) ${GOPE_KAFKA_VERSION:-pom}"; }

fetched() { [ -f "$1/$STAMP" ] && [ "$(cat "$1/$STAMP")" = "$(fetch_id)" ]; }

# fetch [DIR]: resolve the jars into DIR (default kafka_home). Maven copies into a sibling
# temporary folder that is renamed into place only when complete, so an interrupted or
# concurrent fetch never leaves a half-filled DIR behind a valid stamp.
cmd_fetch() {
  local dir=${1:-$(kafka_home)} tmp log t0=$SECONDS
  if fetched "$dir"; then echo "GOPE_KAFKA_HOME=$dir"; return 0; fi
  command -v mvn > /dev/null || die "Maven (mvn) is not installed (Debian: apt-get install maven)"
  mkdir -p "$(dirname "$dir")"
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  log=$tmp.mvn.log
  say "fetching Kafka $(kafka_version) jars with Maven into $dir"
  # Maven -q prints its errors on stdout (and Debian's 3.8.7 stray colour codes): keep them
  # in a log shown only on failure.
  # shellcheck disable=SC2086 # MAVEN_ARGS is a list of arguments
  if ! mvn -B -q ${MAVEN_ARGS:-} -f "$HERE/pom.xml" \
         ${GOPE_KAFKA_VERSION:+-Dkafka.version="$GOPE_KAFKA_VERSION"} \
         dependency:copy-dependencies -DoutputDirectory="$tmp" > "$log" 2>&1; then
    cat "$log" >&2
    rm -rf "$tmp" "$log"
    die "mvn dependency:copy-dependencies failed (see above)"
  fi
  rm -f "$log"
  compgen -G "$tmp/kafka_2.13-*.jar" > /dev/null || { rm -rf "$tmp"; die "no kafka_2.13 jar resolved"; }
  fetch_id > "$tmp/$STAMP"
  if fetched "$dir"; then
    rm -rf "$tmp"   # a concurrent fetch finished first; its jars may be in use already
  else
    rm -rf "$dir"   # an incomplete or outdated folder
    if ! mv -T "$tmp" "$dir" 2> /dev/null; then
      rm -rf "$tmp"
      fetched "$dir" || die "could not move the jars into $dir"
    fi
  fi
  say "fetched $(find "$dir" -name '*.jar' | wc -l) jars ($(du -sh "$dir" | cut -f1)) in $((SECONDS - t0)) s"
  echo "GOPE_KAFKA_HOME=$dir"
}

check_java() {
  command -v "$JAVA" > /dev/null || die "no java ($JAVA): Kafka 4.x needs JDK 17+ (Debian: openjdk-17-jre-headless)"
  local v
  v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -n "$v" ] && [ "$v" -ge 17 ] && return
  die "Kafka 4.x needs Java 17+, $JAVA is version '${v:-unknown}'"
}

# --- the work dir: server.properties, data/, logs/, broker.pid, broker.env ---------------

DIR='' PORT='' OWNER=''

parse_opts() {
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
      --port) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--port needs a port number"; PORT=$2; shift 2 ;;
      --owner) [ $# -ge 2 ] || usage; OWNER=$2; shift 2 ;;
      *) usage ;;
    esac
  done
}

need_dir() {
  [ -n "$DIR" ] || DIR=${GOPE_KAFKA_DIR:-}
  [ -n "$DIR" ] || die "no work dir: pass --dir D or set GOPE_KAFKA_DIR (printed by start)"
  [ -f "$DIR/server.properties" ] || die "$DIR holds no broker (no server.properties)"
  DIR=$(cd "$DIR" && pwd)
}

broker_pid() {
  local pid
  [ -f "$DIR/broker.pid" ] || return 1
  pid=$(cat "$DIR/broker.pid")
  # The pid must still be this dir's broker, not a recycled pid of another process.
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" |
    grep -qF "kafka.Kafka $DIR/server.properties" || return 1
  echo "$pid"
}

listen_port() { sed -n 's/^listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$DIR/server.properties"; }

sasl_port() { sed -n 's/^listeners=.*SASL_PLAINTEXT:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$DIR/server.properties"; }

port_open() { (: <> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

# A port nobody listens on, below Linux's ephemeral range (32768-60999) so that no outgoing
# connection holds it either, and none of the arguments (ports picked already). A race with
# another process is caught by start's bind check.
free_port() {
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    [[ " $* " != *" $p "* ]] && ! port_open "$p" && { echo "$p"; return 0; }
  done
  die "found no free port in 20000-31999"
}

# Kafka's cluster id: 16 random bytes in URL-safe base64 without padding (what
# `StorageTool random-uuid` prints, minus one JVM start). Kafka rejects a leading '-'.
cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [ "${id:0:1}" != - ] && { echo "$id"; return; }
  done
}

# A Kafka tool (not the broker): small heap, quick start, log to logs/tools.log.
tool() {
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$DIR/logs" \
    -Dgope.log.name=tools -Dgope.log.level=WARN -cp "$JARS/*" "$@"
}

admin() {
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$(listen_port)" \
    --command-config "$DIR/admin.properties" "$@"
}

log_tail() {
  local f
  for f in "$DIR/logs/console.log" "$DIR/logs/server.log"; do
    [ -s "$f" ] || continue
    echo "--- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
}

launch() {
  # shellcheck disable=SC2086 # HEAP is a list of JVM flags
  "$JAVA" $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$DIR/logs" \
    -Dgope.log.name=server -Dgope.log.level=INFO -cp "$JARS/*" \
    kafka.Kafka "$DIR/server.properties" >> "$DIR/logs/console.log" 2>&1 < /dev/null &
  echo $! > "$DIR/broker.pid"
}

# The broker JVM has exited: 3 if it could not bind a port, else 2.
death_code() {
  if grep -qs 'Address already in use' "$DIR/logs/console.log" "$DIR/logs/server.log"; then
    echo 3
  else
    echo 2
  fi
}

# Wait until both client ports (PLAINTEXT, SASL) accept connections, then until a
# DescribeCluster request (answered from the broker's metadata) returns this dir's cluster
# id: proof that the broker serving the port is ours, not another one that held it first.
# @return 0 ready, 1 timeout, 2 the JVM died (3 when it died of a port taken meanwhile).
wait_ready() {
  local port deadline=$((SECONDS + START_TIMEOUT))
  port=$(listen_port)
  while ! port_open "$port" || ! port_open "$(sasl_port)"; do
    broker_pid > /dev/null || return "$(death_code)"
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
  until [ "$(tool org.apache.kafka.tools.ClusterTool cluster-id --bootstrap-server "127.0.0.1:$port" \
               --command-config "$DIR/admin.properties" 2>> "$DIR/logs/tools.log")" = \
          "Cluster ID: $(sed -n 's/^cluster.id=//p' "$DIR/data/meta.properties")" ]; do
    broker_pid > /dev/null || return "$(death_code)"
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

print_env() {
  cat > "$DIR/broker.env" << EOF
GOPE_KAFKA_BROKERS=127.0.0.1:$(listen_port)
GOPE_KAFKA_SASL_BROKERS=127.0.0.1:$(sasl_port)
GOPE_KAFKA_DIR=$(printf %q "$DIR")
GOPE_KAFKA_PIDFILE=$(printf %q "$DIR/broker.pid")
EOF
  cat "$DIR/broker.env"
}

# Launch the configured broker in DIR and wait for it; on failure kill it and say why.
bring_up() {
  local t0=$SECONDS rc=0
  launch
  wait_ready || rc=$?
  case $rc in
    0) say "broker ready on 127.0.0.1:$(listen_port) in $((SECONDS - t0)) s (pid $(cat "$DIR/broker.pid"), dir $DIR)"
       return 0 ;;
    1) say "broker not ready after ${START_TIMEOUT} s" ;;
    2) say "the broker JVM exited during start" ;;
    3) say "the broker JVM could not bind its ports" ;;
  esac
  [ $rc = 3 ] || log_tail
  cmd_stop > /dev/null 2>&1
  return $rc
}

watchdog() {
  ( exec > /dev/null 2>&1 < /dev/null
    while kill -0 "$OWNER" 2> /dev/null && [ -d "$DIR" ]; do sleep 1; done
    [ -d "$DIR" ] && bash "$SELF" stop --dir "$DIR" ) &
}

cmd_start() {
  local attempt rc cport sport
  check_java
  [ -z "$PORT" ] || ! port_open "$PORT" || die "port $PORT is in use"
  JARS=$(kafka_home)
  fetched "$JARS" || cmd_fetch "$JARS" > /dev/null
  if [ -n "$DIR" ]; then
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    ! broker_pid > /dev/null || die "a broker already runs in $DIR (pid $(broker_pid))"
  else
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/giftope-kafka.XXXXXX")
  fi
  printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' > "$DIR/admin.properties"
  # Ports we picked ourselves may be taken between the check and the bind: try new ones.
  for attempt in 1 2 3; do
    rm -rf "$DIR/data" "$DIR/logs"
    mkdir -p "$DIR/data" "$DIR/logs"
    local port=${PORT:-$(free_port)}
    cport=$(free_port "$port")
    sport=$(free_port "$port" "$cport")
    sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$cport|g" -e "s|@SASL_PORT@|$sport|g" \
      -e "s|@DATA_DIR@|$DIR/data|g" \
      "$HERE/server.properties.in" > "$DIR/server.properties"
    tool kafka.tools.StorageTool format -t "$(cluster_id)" -c "$DIR/server.properties" \
      > "$DIR/logs/format.log" 2>&1 || { cat "$DIR/logs/format.log" >&2; die "formatting $DIR/data failed"; }
    rc=0
    bring_up || rc=$?
    if [ $rc != 3 ] || [ -n "$PORT" ] || [ $attempt = 3 ]; then break; fi
    say "port $port, $cport or $sport was taken meanwhile; trying others"
  done
  [ $rc = 0 ] || { [ $rc != 3 ] || log_tail; die "could not start a broker in $DIR"; }
  [ -z "$OWNER" ] || watchdog
  print_env
}

cmd_stop() {
  local pid i
  need_dir
  if ! pid=$(broker_pid); then
    rm -f "$DIR/broker.pid"
    say "no broker running in $DIR"
    return 0
  fi
  # broker_pid, not kill -0: an exited broker that is our own child stays a zombie (which
  # kill -0 still finds) until bash reaps it.
  kill -TERM "$pid" 2> /dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    broker_pid > /dev/null || break
    sleep 0.2
  done
  if broker_pid > /dev/null; then
    say "broker pid $pid still up after ${STOP_TIMEOUT} s: SIGKILL"
    kill -KILL "$pid" 2> /dev/null || true
    while broker_pid > /dev/null; do sleep 0.1; done
  fi
  rm -f "$DIR/broker.pid"
  say "stopped broker pid $pid ($DIR)"
}

# Same ports, same data: what a test of a broker restart mid-consumption needs.
cmd_restart() {
  need_dir
  check_java
  JARS=$(kafka_home)
  cmd_stop
  bring_up || die "could not restart the broker in $DIR"
  print_env
}

cmd_status() {
  local pid
  need_dir
  if pid=$(broker_pid); then
    echo "running: pid $pid, 127.0.0.1:$(listen_port), dir $DIR"
  else
    echo "not running: dir $DIR"
    return 3
  fi
}

cmd_topic() {
  local sub=${1:-} name='' parts='' out
  case $sub in
    create) [ $# -ge 3 ] || usage; name=$2; parts=$3; shift 3 ;;
    list) shift ;;
    *) usage ;;
  esac
  parse_opts "$@"
  need_dir
  JARS=$(kafka_home)
  broker_pid > /dev/null || die "no broker running in $DIR"
  if [ "$sub" = create ]; then
    out=$(admin --create --topic "$name" --partitions "$parts" --replication-factor 1 2>&1) ||
      die "could not create topic $name: $(grep -m1 -i error <<< "$out" || echo "$out")"
    say "created topic $name with $parts partitions"
  else
    admin --list
  fi
}

case ${1:-} in
  fetch) shift; [ $# -le 1 ] || usage; cmd_fetch "$@" ;;
  start) shift; parse_opts "$@"; cmd_start ;;
  stop) shift; parse_opts "$@"; cmd_stop ;;
  restart) shift; parse_opts "$@"; cmd_restart ;;
  status) shift; parse_opts "$@"; cmd_status ;;
  topic) shift; cmd_topic "$@" ;;
  *) usage ;;
esac
