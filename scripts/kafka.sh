#!/usr/bin/env bash
# Apache Kafka 4.x (KRaft) on this machine's loopback, assembled from Maven Central jars: no tarball, no
# Docker. Each node is one JVM running a combined broker+controller (kafka.Kafka); with 3 nodes every
# topic gets 3 replicas and min.insync.replicas=2, so a write acknowledged with acks=all survives the
# loss of any one node. See docs/deployers/apache-kafka.md.
#
#   scripts/kafka.sh fetch                          Kafka's jars into the cache (once: a stamp marks it done)
#   scripts/kafka.sh start --nodes 1|3 --dir DIR    format and start the nodes on free ports, wait until every
#         [--sasl [--admin NAME]]                   node serves and sees all brokers; prints the bootstrap list.
#                                                   --sasl: clients authenticate (SASL/SCRAM-SHA-512) and are
#                                                   authorized by ACLs; NAME (lgsp.admin) is the super user
#   scripts/kafka.sh stop --dir DIR                 SIGTERM every node, SIGKILL what is left after 30 s
#   scripts/kafka.sh kill ID --dir DIR              SIGKILL one node (a crash) and wait until it is gone
#   scripts/kafka.sh stop-node ID --dir DIR         SIGTERM one node, wait for its clean shutdown (SIGKILL at 30 s)
#   scripts/kafka.sh restart-node ID --dir DIR      start a stopped or killed node again on its config and data;
#                                                   waits until it serves and sees every running node
#   scripts/kafka.sh controller --dir DIR           the node id of the active KRaft controller
#   scripts/kafka.sh status --dir DIR               one line per node: "id pid running|stopped broker_port controller_port"
#
# DIR (created if missing; must not hold another cluster) receives:
#   DIR/bootstrap          one line: 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 (the clients' listener: with --sasl,
#                          the SASL_PLAINTEXT ports)
#   DIR/nodes              one line per node: "id pid broker_port controller_port" (pids change on restart-node);
#                          with --sasl a fifth column, the sasl_port
#   DIR/sasl_admin         with --sasl (mode 600): the super user's name, then its password, one per line;
#                          DIR/internal_bootstrap: the PLAINTEXT (inter-broker) ports
#   DIR/node-N/            server.properties, pid, data/ (the log dir), server.log (the broker's log4j2 log),
#                          stdout.log (the JVM's own output), format.log
#   DIR/log4j2.properties  the nodes' logging (a file per node); DIR/tools-log4j2.properties: tools, WARN on stderr
# Progress and errors go to stderr; stdout carries only answers (start: the bootstrap list).
#
# Environment: LGSP_KAFKA_VERSION (4.4.0), LGSP_KAFKA_HOME (cache, ~/.cache/lgsp/kafka-VERSION),
# LGSP_KAFKA_HEAP (512m per node), LGSP_KAFKA_START_TIMEOUT (120 s), LGSP_KAFKA_STOP_TIMEOUT (30 s),
# LGSP_KAFKA_REAUTH_MS (--sasl: connections.max.reauth.ms, 60000), LGSP_KAFKA_ADMIN_PASSWORD (--sasl: the
# super user's password; random by default), JAVA_HOME (else java on PATH; Kafka 4 needs Java 17 or later).
# Needs mvn (for fetch) and python3.
set -euo pipefail

VERSION=${LGSP_KAFKA_VERSION:-4.4.0}
LOG4J_VERSION=2.24.3 # the SLF4J 1.x binding: Kafka 4.x logs through slf4j-api 1.7.36
CACHE=${LGSP_KAFKA_HOME:-$HOME/.cache/lgsp/kafka-$VERSION}
LIBS=$CACHE/libs
HEAP=${LGSP_KAFKA_HEAP:-512m}
START_TIMEOUT=${LGSP_KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${LGSP_KAFKA_STOP_TIMEOUT:-30}
REAUTH_MS=${LGSP_KAFKA_REAUTH_MS:-60000}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

say() { echo "kafka.sh: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# --- fetch --------------------------------------------------------------------------------------------

pom() { # the throwaway project whose runtime dependencies are Kafka's libs/ folder
  cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lgsp.local</groupId><artifactId>kafka-libs</artifactId><version>1</version>
  <dependencies>
    <!-- the broker (kafka.Kafka, kafka.tools.StorageTool) and, through it, server, raft, metadata,
         storage and the coordinators -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <!-- the command-line tools (MetadataQuorumCommand); Connect's runtime, which only the Connect tools
         use, is left out -->
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version>
      <exclusions><exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion></exclusions>
    </dependency>
    <!-- logging: the Maven artifacts bring slf4j-api alone, which logs nothing -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
}

fetched() { [ -f "$CACHE/complete" ] && [ "$(cat "$CACHE/complete")" = "$1" ] && [ -d "$LIBS" ]; }

fetch() {
  local recipe stamp
  recipe=$(pom)
  stamp=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
  fetched "$stamp" && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka's jars"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9 # one fetch at a time; a second caller waits, then finds the stamp
  if fetched "$stamp"; then exec 9>&-; return 0; fi
  say "fetching Apache Kafka $VERSION and its runtime dependencies from Maven Central into $LIBS"
  local began=$SECONDS work
  work=$(mktemp -d "$CACHE/fetch.XXXXXX")
  printf '%s\n' "$recipe" >"$work/pom.xml"
  if ! (cd "$work" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$work/libs") >"$CACHE/fetch.log" 2>&1; then
    tail -n 40 "$CACHE/fetch.log" >&2
    rm -rf "$work"
    die "mvn could not fetch Kafka $VERSION (is Maven Central reachable, is $VERSION published?); see $CACHE/fetch.log"
  fi
  local jar
  for jar in kafka_2.13-$VERSION kafka-tools-$VERSION kafka-server-$VERSION log4j-core-$LOG4J_VERSION \
    log4j-slf4j-impl-$LOG4J_VERSION slf4j-api-1; do
    compgen -G "$work/libs/$jar*.jar" >/dev/null || { rm -rf "$work"; die "fetch: no $jar*.jar in the result"; }
  done
  # A second SLF4J binding would make the choice of logger arbitrary: keep the one for slf4j-api 1.x.
  rm -f "$work"/libs/log4j-slf4j2-impl-*.jar "$work"/libs/slf4j-reload4j-*.jar "$work"/libs/slf4j-simple-*.jar
  rm -rf "$LIBS"
  mv "$work/libs" "$LIBS"
  mv "$work/pom.xml" "$CACHE/pom.xml"
  rm -rf "$work"
  echo "$stamp" >"$CACHE/complete"
  exec 9>&-
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$LIBS" | cut -f1), in $((SECONDS - began)) s"
}

# --- helpers ------------------------------------------------------------------------------------------

need_java() {
  local line major
  line=$("$JAVA" -version 2>&1 | head -n1) || die "no java ($JAVA); Kafka $VERSION needs Java 17 or later"
  major=$(sed -E 's/.*version "([0-9]+)(\.[0-9]+)?.*/\1/' <<<"$line")
  if ! [[ $major =~ ^[0-9]+$ ]] || [ "$major" -lt 17 ]; then
    die "Kafka $VERSION needs Java 17 or later; $JAVA is: $line"
  fi
  command -v python3 >/dev/null || die "python3 is needed (free ports, readiness checks)"
}

free_ports() { # free_ports N: N distinct free loopback ports, held together while chosen
  python3 - "$1" <<'EOF'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
}

cluster_id() { # a random Kafka Uuid (base64url, 22 characters; Kafka never makes one starting with '-')
  python3 -c '
import base64, os
while True:
    u = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not u.startswith("-"):
        print(u)
        break'
}

node_ids() { # node_ids DIR: the ids of the cluster's nodes, ascending
  local n
  for n in "$1"/node-*/; do [ -f "$n/server.properties" ] && basename "$n" | cut -d- -f2; done | sort -n
}

node_pid() { cat "$1/node-$2/pid" 2>/dev/null || true; }

running() { # running DIR ID: the recorded pid is alive and is this node's JVM (not a zombie, not a reused pid)
  local pid cmdline
  pid=$(node_pid "$1" "$2")
  [ -n "$pid" ] || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *" $1/node-$2/server.properties"* ]]
}

port_of() { cat "$1/node-$2/${3}_port"; }

sasl_mode() { [ -f "$1/sasl_admin" ]; } # sasl_mode DIR: the cluster was started with --sasl

write_nodes() { # DIR/nodes and DIR/bootstrap (and with --sasl DIR/internal_bootstrap) from the node directories
  local dir=$1 id line bootstrap="" internal=""
  : >"$dir/nodes.tmp"
  for id in $(node_ids "$dir"); do
    line="$id $(node_pid "$dir" "$id") $(port_of "$dir" "$id" broker) $(port_of "$dir" "$id" controller)"
    internal+="${internal:+,}127.0.0.1:$(port_of "$dir" "$id" broker)"
    if sasl_mode "$dir"; then
      line+=" $(port_of "$dir" "$id" sasl)"
      bootstrap+="${bootstrap:+,}127.0.0.1:$(port_of "$dir" "$id" sasl)"
    fi
    echo "$line" >>"$dir/nodes.tmp"
  done
  mv "$dir/nodes.tmp" "$dir/nodes"
  if sasl_mode "$dir"; then
    echo "$internal" >"$dir/internal_bootstrap"
    echo "$bootstrap" >"$dir/bootstrap"
  else
    echo "$internal" >"$dir/bootstrap"
  fi
}

write_log_configs() { # DIR/log4j2.properties (nodes: a file each) and DIR/tools-log4j2.properties (stderr)
  cat >"$1/log4j2.properties" <<'EOF'
# The nodes' logging: everything at INFO into ${kafka.logs.dir}/server.log (rolled at 100 MB, 2 kept).
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 100MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  cat >"$1/tools-log4j2.properties" <<'EOF'
# Kafka's command-line tools: warnings and errors on stderr.
status = warn
appender.err.type = Console
appender.err.name = stderr
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = stderr
EOF
}

tool() { # tool DIR MAINCLASS ARGS...: a short-lived Kafka tool, tuned to start fast on little CPU
  local dir=$1
  shift
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/tools-log4j2.properties" -cp "$LIBS/*" "$@"
}

launch() { # launch DIR ID: start one node in the background and record its pid
  local dir=$1 id=$2 node=$1/node-$2
  echo "--- $(date '+%F %T') starting node $id" >>"$node/stdout.log"
  nohup "$JAVA" -Xmx"$HEAP" -Xms256m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$node" \
    -cp "$LIBS/*" kafka.Kafka "$node/server.properties" >>"$node/stdout.log" 2>&1 </dev/null &
  echo $! >"$node/pid"
}

# await DIR TIMEOUT ID...: wait until each listed node answers a Kafka Metadata request on its broker port
# listing every node that runs (itself included). Prints nothing on success; on failure, the ids of the
# nodes that were not ready on stdout and the reason on stderr.
await() {
  local dir=$1 timeout=$2
  shift 2
  local expected="" id
  for id in $(node_ids "$dir"); do
    if running "$dir" "$id" || [[ " $* " == *" $id "* ]]; then expected+="$id "; fi
  done
  python3 - "$dir" "$timeout" "$expected" "$@" <<'EOF'
import socket, struct, sys, time

directory, timeout, expected = sys.argv[1], float(sys.argv[2]), {int(i) for i in sys.argv[3].split()}
waiting = [int(i) for i in sys.argv[4:]]

def read(path):
    with open(path) as f:
        return f.read().strip()

def running(node):
    try:
        with open(f"/proc/{read(f'{directory}/node-{node}/pid')}/cmdline", "rb") as f:
            return f"{directory}/node-{node}/server.properties".encode() in f.read()
    except OSError:
        return False

def brokers(port):
    """The broker ids that the node on `port` lists (a Metadata v4 request for no topic)."""
    body = struct.pack(">hhih", 3, 4, 1, 4) + b"lgsp" + struct.pack(">ib", 0, 0)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the broker")
            data += chunk
    at = 12  # size, correlation id, throttle time
    (count,) = struct.unpack_from(">i", data, at)
    at += 4
    ids = set()
    for _ in range(count):
        node_id, host_len = struct.unpack_from(">ih", data, at)
        at += 6 + host_len + 4
        (rack_len,) = struct.unpack_from(">h", data, at)
        at += 2 + max(rack_len, 0)
        ids.add(node_id)
    return ids

deadline = time.monotonic() + timeout
state = {node: "not checked" for node in waiting}
while waiting:
    for node in list(waiting):
        if not running(node):
            print(f"node {node} exited while starting", file=sys.stderr)
            print(node)
            sys.exit(3)
        try:
            seen = brokers(int(read(f"{directory}/node-{node}/broker_port")))
        except (OSError, struct.error) as e:
            state[node] = f"not serving ({e.__class__.__name__})"
            continue
        if expected <= seen:
            waiting.remove(node)
        else:
            state[node] = f"serving, but lists brokers {sorted(seen)} of {sorted(expected)}"
    if not waiting:
        break
    if time.monotonic() > deadline:
        for node in waiting:
            print(f"node {node}: {state[node]} after {timeout:.0f} s", file=sys.stderr)
            print(node)
        sys.exit(2)
    time.sleep(0.25)
EOF
}

show_logs() { # show_logs DIR ID...: the tail of each node's logs on stderr
  local dir=$1 id
  shift
  for id in "$@"; do
    for f in "$dir/node-$id/stdout.log" "$dir/node-$id/server.log"; do
      [ -s "$f" ] && { echo "----- $f (last 25 lines)"; tail -n 25 "$f"; } >&2
    done
  done
  return 0
}

# signal_nodes DIR SIGNAL PATIENCE ID...: send SIGNAL to the running ones among the nodes, wait up to
# PATIENCE seconds until they are gone, then SIGKILL the rest. Prints the ids that had to be killed.
signal_nodes() {
  local dir=$1 sig=$2 patience=$3 id
  shift 3
  local targets=()
  for id in "$@"; do
    if running "$dir" "$id"; then
      kill "-$sig" "$(node_pid "$dir" "$id")" 2>/dev/null || true
      targets+=("$id")
    fi
  done
  [ ${#targets[@]} -gt 0 ] || return 0
  local deadline=$((SECONDS + patience)) left
  while :; do
    left=()
    for id in "${targets[@]}"; do running "$dir" "$id" && left+=("$id"); done
    [ ${#left[@]} -eq 0 ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.2
  done
  for id in "${left[@]}"; do kill -KILL "$(node_pid "$dir" "$id")" 2>/dev/null || true; done
  echo "${left[*]}"
  for _ in $(seq 1 50); do
    left=()
    for id in "${targets[@]}"; do running "$dir" "$id" && left+=("$id"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.2
  done
  die "node(s) ${left[*]} still alive after SIGKILL"
}

# --- arguments ----------------------------------------------------------------------------------------

DIR="" NODES="" ID="" SASL="" ADMIN=""
parse() { # parse [ID] --dir DIR [--nodes N] [--sasl [--admin NAME]]
  while [ $# -gt 0 ]; do
    case $1 in
      --sasl) SASL=1; shift ;;
      --admin) [ $# -ge 2 ] || die "--admin needs a value"; ADMIN=$2; shift 2 ;;
      --admin=*) ADMIN=${1#--admin=}; shift ;;
      --dir) [ $# -ge 2 ] || die "--dir needs a value"; DIR=$2; shift 2 ;;
      --dir=*) DIR=${1#--dir=}; shift ;;
      --nodes) [ $# -ge 2 ] || die "--nodes needs a value"; NODES=$2; shift 2 ;;
      --nodes=*) NODES=${1#--nodes=}; shift ;;
      -h | --help) usage ;;
      -*) die "unknown option $1" ;;
      *) [ -z "$ID" ] || die "unexpected argument $1"; ID=$1; shift ;;
    esac
  done
  [ -n "$DIR" ] || die "--dir DIR is required"
  [ -z "$ADMIN" ] || [ -n "$SASL" ] || die "--admin goes with --sasl"
}

existing_dir() { # the absolute path of DIR, which must hold a cluster
  [ -z "$SASL" ] || die "--sasl goes with start (a cluster keeps the mode it was started in)"
  [ -f "$DIR/nodes" ] || die "no cluster in '$DIR' (no $DIR/nodes)"
  DIR=$(cd "$DIR" && pwd)
}

node_arg() { # the node id argument, which must name a node of the cluster
  [[ $ID =~ ^[0-9]+$ ]] || die "a node id is required (one of: $(node_ids "$DIR" | xargs))"
  [ -f "$DIR/node-$ID/server.properties" ] || die "no node $ID in $DIR (nodes: $(node_ids "$DIR" | xargs))"
}

# --- commands -----------------------------------------------------------------------------------------

cmd_start() {
  parse "$@"
  [ -z "$ID" ] || die "start takes no node id"
  NODES=${NODES:-1}
  [ "$NODES" = 1 ] || [ "$NODES" = 3 ] || die "--nodes is 1 or 3"
  need_java
  fetch
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  [ -z "$(node_ids "$DIR")" ] || die "$DIR already holds a cluster: stop it and remove the directory, or use another"
  ADMIN=${ADMIN:-lgsp.admin}
  [[ $ADMIN =~ ^[A-Za-z0-9._-]+$ ]] || die "--admin: a SCRAM user name of letters, digits, '.', '_' and '-'"
  # Each node listens on 2 ports (PLAINTEXT for clients and brokers, CONTROLLER), with --sasl on a third
  # (SASL_PLAINTEXT, then the clients' one).
  local began=$SECONDS replicas=$NODES min_isr=$((NODES > 1 ? 2 : 1)) found ports voters="" id cluster
  local per=$((SASL ? 3 : 2)) password=""
  found=$(free_ports $((per * NODES))) || die "could not pick free loopback ports"
  read -r -a ports <<<"$found"
  for id in $(seq 1 "$NODES"); do
    mkdir -p "$DIR/node-$id/data"
    echo "${ports[per * (id - 1)]}" >"$DIR/node-$id/broker_port"
    echo "${ports[per * (id - 1) + 1]}" >"$DIR/node-$id/controller_port"
    [ -z "$SASL" ] || echo "${ports[per * (id - 1) + 2]}" >"$DIR/node-$id/sasl_port"
    voters+="${voters:+,}$id@127.0.0.1:${ports[per * (id - 1) + 1]}"
  done
  if [ -n "$SASL" ]; then
    # base64url: no ',', '=', '[' or ']', which --add-scram's syntax would take for its own.
    password=${LGSP_KAFKA_ADMIN_PASSWORD:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')}
    [[ $password =~ ^[A-Za-z0-9._~-]+$ ]] || die "LGSP_KAFKA_ADMIN_PASSWORD: letters, digits and . _ ~ - only"
    (umask 077 && printf '%s\n%s\n' "$ADMIN" "$password" >"$DIR/sasl_admin")
  fi
  write_log_configs "$DIR"
  cluster=$(cluster_id)
  echo "$cluster" >"$DIR/cluster_id"
  for id in $(seq 1 "$NODES"); do
    local node=$DIR/node-$id listeners
    listeners=PLAINTEXT://127.0.0.1:$(port_of "$DIR" "$id" broker)
    [ -z "$SASL" ] || listeners+=",SASL_PLAINTEXT://127.0.0.1:$(port_of "$DIR" "$id" sasl)"
    cat >"$node/server.properties" <<EOF
# Node $id of a $NODES-node KRaft cluster (written by scripts/kafka.sh; cluster id $cluster)
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=$listeners,CONTROLLER://127.0.0.1:$(port_of "$DIR" "$id" controller)
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${SASL:+,SASL_PLAINTEXT:SASL_PLAINTEXT}
log.dirs=$node/data

# Durability: every topic on every node, a write acknowledged (acks=all) once 2 replicas hold it.
default.replication.factor=$replicas
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replicas
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$min_isr
unclean.leader.election.enable=false

# Topics appear on first use; fewer internal partitions than the defaults (50) start faster.
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=2
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

# Consumer groups: no wait for more members before the first rebalance, and sessions down to 1 s
# (Kafka's minimum is 6 s by default; the tests run consumers with 2-3 s sessions).
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000

# A node that stops heartbeating is fenced after 3 s (9 s by default), so the partitions it led get
# new leaders and leave it out of their ISR sooner after a crash.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=1000

# Small footprint: 16 MB segments, a day of retention, few threads (2 cores shared by 3 nodes).
log.segment.bytes=16777216
log.retention.hours=24
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=2
EOF
    [ -z "$SASL" ] || cat >>"$node/server.properties" <<EOF

# --sasl: clients authenticate on SASL_PLAINTEXT with SCRAM-SHA-512 (credentials live in the cluster's
# metadata; the super user's was added at format time) and may do only what an ACL allows them.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# The PLAINTEXT and CONTROLLER listeners carry the brokers' and controllers' own requests and the
# script's readiness checks, unauthenticated (User:ANONYMOUS, so a super user too): they are on
# loopback here; a production cluster authenticates them as well (docs/deployers/kafka-acls.md).
super.users=User:$ADMIN;User:ANONYMOUS
# A session lasts this long, then the client must log in again: a deleted or changed credential ends
# the sessions opened with it within this time.
connections.max.reauth.ms=$REAUTH_MS
EOF
  done
  # Format every node's storage (in parallel: each is a JVM start).
  local pids=() failed=""
  for id in $(seq 1 "$NODES"); do
    tool "$DIR" kafka.tools.StorageTool format --cluster-id "$cluster" --config "$DIR/node-$id/server.properties" \
      ${SASL:+--add-scram "SCRAM-SHA-512=[name=$ADMIN,password=$password]"} >"$DIR/node-$id/format.log" 2>&1 &
    pids+=($!)
  done
  for id in $(seq 1 "$NODES"); do wait "${pids[id - 1]}" || failed+=" $id"; done
  if [ -n "$failed" ]; then
    for id in $failed; do cat "$DIR/node-$id/format.log" >&2; done
    die "formatting the storage of node(s)$failed failed"
  fi
  for id in $(seq 1 "$NODES"); do launch "$DIR" "$id"; done
  write_nodes "$DIR"
  say "starting $NODES node(s) in $DIR (Kafka $VERSION, cluster $cluster${SASL:+; SASL/SCRAM and ACLs, super user $ADMIN})"
  local late all
  mapfile -t all < <(node_ids "$DIR")
  if ! late=$(await "$DIR" "$START_TIMEOUT" "${all[@]}"); then
    mapfile -t late <<<"$late"
    show_logs "$DIR" "${late[@]}"
    signal_nodes "$DIR" TERM 10 "${all[@]}" >/dev/null
    die "the cluster in $DIR did not start (node(s) ${late[*]} not ready); its nodes were stopped, logs are kept"
  fi
  say "$NODES node(s) serving on $(cat "$DIR/bootstrap") after $((SECONDS - began)) s"
  cat "$DIR/bootstrap"
}

cmd_stop() {
  parse "$@"
  [ -z "$ID" ] || die "stop takes no node id (stop-node ID stops one)"
  existing_dir
  local began=$SECONDS killed all
  mapfile -t all < <(node_ids "$DIR")
  killed=$(signal_nodes "$DIR" TERM "$STOP_TIMEOUT" "${all[@]}")
  [ -z "$killed" ] || say "node(s) $killed did not stop within $STOP_TIMEOUT s and were killed"
  say "stopped the cluster in $DIR in $((SECONDS - began)) s"
}

cmd_kill() {
  parse "$@"
  existing_dir
  node_arg
  running "$DIR" "$ID" || say "node $ID was not running"
  signal_nodes "$DIR" KILL 10 "$ID" >/dev/null
}

cmd_stop_node() {
  parse "$@"
  existing_dir
  node_arg
  running "$DIR" "$ID" || say "node $ID was not running"
  local killed
  killed=$(signal_nodes "$DIR" TERM "$STOP_TIMEOUT" "$ID")
  [ -z "$killed" ] || say "node $ID did not stop within $STOP_TIMEOUT s and was killed"
}

cmd_restart_node() {
  parse "$@"
  existing_dir
  node_arg
  running "$DIR" "$ID" && die "node $ID is still running (pid $(node_pid "$DIR" "$ID"))"
  need_java
  fetch
  local began=$SECONDS late
  launch "$DIR" "$ID"
  write_nodes "$DIR"
  if ! late=$(await "$DIR" "$START_TIMEOUT" "$ID"); then
    show_logs "$DIR" "$ID"
    signal_nodes "$DIR" TERM 10 "$ID" >/dev/null
    die "node $ID did not come back; it was stopped again, its logs are kept"
  fi
  say "node $ID serving again on 127.0.0.1:$(port_of "$DIR" "$ID" broker) after $((SECONDS - began)) s"
}

cmd_controller() {
  parse "$@"
  existing_dir
  local id bootstrap out leader deadline=$((SECONDS + 30))
  while :; do
    bootstrap=""
    for id in $(node_ids "$DIR"); do
      running "$DIR" "$id" && bootstrap+="${bootstrap:+,}127.0.0.1:$(port_of "$DIR" "$id" broker)"
    done
    [ -n "$bootstrap" ] || die "no node of $DIR is running"
    out=$(tool "$DIR" org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$bootstrap" \
      describe --status 2>&1) || { echo "$out" >&2; die "MetadataQuorumCommand failed"; }
    leader=$(awk -F: '/^LeaderId/ { gsub(/[ \t]/, "", $2); print $2 }' <<<"$out")
    [[ $leader =~ ^[0-9]+$ ]] || { echo "$out" >&2; die "no LeaderId in the quorum's status"; }
    # Just after the leader dies the survivors may still name it until they elect another: ask again.
    if running "$DIR" "$leader" || [ "$SECONDS" -ge "$deadline" ]; then break; fi
    sleep 1
  done
  running "$DIR" "$leader" || die "the quorum still names node $leader, which is not running, as its leader"
  echo "$leader"
}

cmd_status() {
  parse "$@"
  existing_dir
  local id
  for id in $(node_ids "$DIR"); do
    echo "$id $(node_pid "$DIR" "$id") $(running "$DIR" "$id" && echo running || echo stopped)" \
      "$(port_of "$DIR" "$id" broker) $(port_of "$DIR" "$id" controller)$(sasl_mode "$DIR" && echo " $(port_of "$DIR" "$id" sasl)")"
  done
}

command=${1:-}
shift || true
case $command in
  fetch) [ $# -eq 0 ] || die "fetch takes no argument"; fetch ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill) cmd_kill "$@" ;;
  stop-node) cmd_stop_node "$@" ;;
  restart-node) cmd_restart_node "$@" ;;
  controller) cmd_controller "$@" ;;
  status) cmd_status "$@" ;;
  help | -h | --help | "") usage ;;
  *) say "unknown command '$command'"; usage ;;
esac
