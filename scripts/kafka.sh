#!/usr/bin/env bash
# Apache Kafka (KRaft) on this machine's loopback, assembled from Maven Central jars: no Docker, no
# tarball. Each node is a combined broker+controller; with 3 nodes, every topic has 3 replicas and
# min.insync.replicas=2, so a write acknowledged by all in-sync replicas survives the loss of a node.
#
#   scripts/kafka.sh fetch                         jars into the cache (once; a stamp marks it complete)
#   scripts/kafka.sh start --nodes 1|3 --dir DIR   format and start; writes DIR/bootstrap and DIR/nodes
#   scripts/kafka.sh stop --dir DIR                SIGTERM every node, SIGKILL what is left after 30 s
#   scripts/kafka.sh kill ID --dir DIR             SIGKILL one node (a crash)
#   scripts/kafka.sh stop-node ID --dir DIR        SIGTERM one node and wait for its clean shutdown
#   scripts/kafka.sh restart-node ID --dir DIR     start one node again on its data; waits until it serves
#   scripts/kafka.sh controller --dir DIR          the id of the active KRaft controller
#
# The cache is ${LGSP_KAFKA_HOME:-$HOME/.cache/lgsp/kafka-$VERSION}; each node logs to DIR/node-ID/server.log.
# DIR/nodes has one line per node: "id pid broker_port controller_port".
set -euo pipefail

VERSION=${LGSP_KAFKA_VERSION:-4.4.0}
LOG4J=2.24.3
HOME_DIR=${LGSP_KAFKA_HOME:-$HOME/.cache/lgsp/kafka-$VERSION}
LIBS=$HOME_DIR/libs
HEAP=${LGSP_KAFKA_HEAP:-512m}

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

fetch() {
  [ -f "$HOME_DIR/complete" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka's jars"
  say "fetching Apache Kafka $VERSION and its dependencies from Maven Central into $LIBS"
  mkdir -p "$HOME_DIR"
  cat >"$HOME_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lgsp</groupId><artifactId>kafka-libs</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$LIBS"
  (cd "$HOME_DIR" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS") \
    || die "mvn could not fetch Kafka $VERSION"
  # Two SLF4J bindings would make the logs go nowhere predictable: keep the log4j one for slf4j 1.x.
  rm -f "$LIBS"/log4j-slf4j2-impl-*.jar
  cat >"$HOME_DIR/log4j2.properties" <<'EOF'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  touch "$HOME_DIR/complete"
  say "fetched $(ls "$LIBS" | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

java_run() {  # java_run LOGDIR MAINCLASS ARGS...: in the foreground
  local logs=$1; shift
  java -Xmx"$HEAP" -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -Dkafka.logs.dir="$logs" \
    -cp "$LIBS/*" "$@"
}

launch() {  # launch DIR ID: start one node in the background, record its pid
  local dir=$1 id=$2 node=$1/node-$2
  nohup java -Xmx"$HEAP" -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -Dkafka.logs.dir="$node" \
    -cp "$LIBS/*" kafka.Kafka "$node/server.properties" >"$node/stdout.log" 2>&1 </dev/null &
  echo $! >"$node/pid"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_serving() {  # wait_serving DIR ID PORT
  local dir=$1 id=$2 port=$3
  for _ in $(seq 1 240); do
    listening "$port" && grep -q "Kafka Server started" "$dir/node-$id/server.log" 2>/dev/null && return 0
    kill -0 "$(cat "$dir/node-$id/pid")" 2>/dev/null || { tail -n 30 "$dir/node-$id/stdout.log" "$dir/node-$id/server.log" >&2 || true; die "node $id exited"; }
    sleep 0.5
  done
  tail -n 30 "$dir/node-$id/server.log" >&2 || true
  die "node $id did not serve on 127.0.0.1:$port within 120 s"
}

write_nodes() {  # DIR/nodes from the node directories
  local dir=$1
  : >"$dir/nodes.tmp"
  for node in "$dir"/node-*; do
    echo "$(cat "$node/id") $(cat "$node/pid") $(cat "$node/broker_port") $(cat "$node/controller_port")" >>"$dir/nodes.tmp"
  done
  mv "$dir/nodes.tmp" "$dir/nodes"
}

start() {
  local nodes=1 dir=""
  while [ $# -gt 0 ]; do
    case $1 in --nodes) nodes=$2; shift 2 ;; --dir) dir=$2; shift 2 ;; *) die "start: unknown $1" ;; esac
  done
  [ -n "$dir" ] || die "start needs --dir"
  [ "$nodes" = 1 ] || [ "$nodes" = 3 ] || die "start: --nodes is 1 or 3"
  fetch
  mkdir -p "$dir"
  local replicas=$nodes min_isr=$(( nodes > 1 ? 2 : 1 )) voters="" bootstrap=""
  for id in $(seq 1 "$nodes"); do
    mkdir -p "$dir/node-$id/data"
    echo "$id" >"$dir/node-$id/id"
    free_port >"$dir/node-$id/broker_port"
    free_port >"$dir/node-$id/controller_port"
    voters+="${voters:+,}$id@127.0.0.1:$(cat "$dir/node-$id/controller_port")"
    bootstrap+="${bootstrap:+,}127.0.0.1:$(cat "$dir/node-$id/broker_port")"
  done
  local cluster
  cluster=$(java_run "$dir" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
  for id in $(seq 1 "$nodes"); do
    local node=$dir/node-$id
    cat >"$node/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(cat "$node/broker_port"),CONTROLLER://127.0.0.1:$(cat "$node/controller_port")
advertised.listeners=PLAINTEXT://127.0.0.1:$(cat "$node/broker_port")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$node/data
num.partitions=2
default.replication.factor=$replicas
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replicas
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$min_isr
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
# Kafka refuses consumer sessions under 6 s by default; the tests run the hub with 2-3 s sessions so that
# a killed consumer's partitions move on quickly (LGSP_CONSUMER_SESSION_TIMEOUT_MS).
group.min.session.timeout.ms=1000
# A node that stops heartbeating is fenced after 3 s (9 s by default), so the partitions it led get new
# leaders sooner after a crash.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=1000
log.segment.bytes=16777216
log.retention.hours=24
num.network.threads=2
num.io.threads=2
background.threads=2
EOF
    java_run "$node" kafka.tools.StorageTool format -t "$cluster" -c "$node/server.properties" >"$node/format.log" 2>&1 \
      || { cat "$node/format.log" >&2; die "formatting node $id failed"; }
  done
  for id in $(seq 1 "$nodes"); do launch "$dir" "$id"; done
  write_nodes "$dir"
  echo "$bootstrap" >"$dir/bootstrap"
  for id in $(seq 1 "$nodes"); do wait_serving "$dir" "$id" "$(cat "$dir/node-$id/broker_port")"; done
  say "$nodes node(s) serving on $bootstrap"
  echo "$bootstrap"
}

pid_of() { cat "$1/node-$2/pid"; }

stop() {
  local dir=""
  while [ $# -gt 0 ]; do case $1 in --dir) dir=$2; shift 2 ;; *) die "stop: unknown $1" ;; esac; done
  [ -d "$dir" ] || die "stop: no cluster in '$dir'"
  local pids=()
  for node in "$dir"/node-*; do
    local pid; pid=$(cat "$node/pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && { kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); }
  done
  for _ in $(seq 1 60); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  say "some nodes did not stop in 30 s and were killed"
}

signal_node() {  # signal_node SIGNAL ID --dir DIR: send it and wait for the node to exit
  local sig=$1 id=$2; shift 2; local dir=""
  while [ $# -gt 0 ]; do case $1 in --dir) dir=$2; shift 2 ;; *) die "unknown $1" ;; esac; done
  local pid; pid=$(pid_of "$dir" "$id")
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  say "node $id did not stop within 60 s and was killed"
}

restart_node() {
  local id=$1; shift; local dir=""
  while [ $# -gt 0 ]; do case $1 in --dir) dir=$2; shift 2 ;; *) die "restart-node: unknown $1" ;; esac; done
  kill -0 "$(pid_of "$dir" "$id")" 2>/dev/null && die "node $id is still running"
  mv "$dir/node-$id/server.log" "$dir/node-$id/server.log.$(date +%s)" 2>/dev/null || true
  launch "$dir" "$id"
  write_nodes "$dir"
  wait_serving "$dir" "$id" "$(cat "$dir/node-$id/broker_port")"
}

controller() {
  local dir=""
  while [ $# -gt 0 ]; do case $1 in --dir) dir=$2; shift 2 ;; *) die "controller: unknown $1" ;; esac; done
  java_run "$dir" org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$(cat "$dir/bootstrap")" \
    describe --status 2>/dev/null | awk -F: '/^LeaderId/ {gsub(/ /, "", $2); print $2}'
}

command=${1:-}
shift || true
case $command in
  fetch) fetch ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  kill) signal_node KILL "$@" ;;
  stop-node) signal_node TERM "$@" ;;
  restart-node) restart_node "$@" ;;
  controller) controller "$@" ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
