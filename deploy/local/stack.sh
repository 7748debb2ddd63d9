#!/usr/bin/env bash
# Local meldespiegel stack: a real Apache Kafka broker (KRaft, jars from Maven Central, run with the
# machine's Java) and a real PostgreSQL server, both on 127.0.0.1. Installs what is missing.
#
#   deploy/local/stack.sh up|down|status|env [--profile dev|test]
#
# `down` stops only what this profile's last `up` started (.local/started-<profile>): a broker or
# PostgreSQL cluster that was already running stays, and so does a PostgreSQL cluster another
# profile still uses.
#
# Profiles keep the developer stack and the test stack apart:
#   dev   Kafka 127.0.0.1:9092 (controller 9093, SCRAM 9094), database "meldespiegel_<id>", data kept
#         between runs; <id> is kept beside the broker's data (.local/kafka-dev/database), so the database
#         always matches the broker's topics, however many checkouts share the PostgreSQL cluster
#   test  Kafka 127.0.0.1:19092 (controller 19093, SCRAM 19094), database "meldespiegel_test", both wiped on `up`
#   cluster  three Kafka nodes (combined broker and controller) on 127.0.0.1:29092, 29192, 29292
#         (controllers +1, SCRAM +2), topics with 3 replicas and min.insync.replicas=2, database
#         "meldespiegel_cluster", all wiped on `up`: what tests/cluster runs against
# PostgreSQL: the server DATABASE_URL names if it answers; otherwise Debian's PostgreSQL, as an own
# cluster on 127.0.0.1:${MELDESPIEGEL_PG_PORT:-5433} shared by both profiles.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ROOT/.local"
PROFILE="dev"
CMD="${1:-status}"
shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

# the dev database belongs with this checkout's broker data: named once, kept beside it, and new
# when that data is new (a database of another checkout or of wiped topics would not match them)
dev_database() {
  local file="$CACHE/kafka-dev/database"
  if [ ! -s "$file" ]; then
    mkdir -p "$CACHE/kafka-dev"
    echo "meldespiegel_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')" >"$file"
  fi
  cat "$file"
}

NODES=1  # Kafka nodes; node N listens 100 ports above node 1
case "$PROFILE" in
  dev)  KAFKA_PORT=9092;  DB_NAME="";                PROTOCOL_API_PORT=8083;  AUTH_API_PORT=8081 ;;
  test) KAFKA_PORT=19092; DB_NAME=meldespiegel_test; PROTOCOL_API_PORT=18083; AUTH_API_PORT=18081 ;;
  cluster) KAFKA_PORT=29092; DB_NAME=meldespiegel_cluster; PROTOCOL_API_PORT=28083
           AUTH_API_PORT=28081; NODES=3 ;;
  *) echo "unknown profile: $PROFILE" >&2; exit 2 ;;
esac
REPLICAS=$(( NODES < 3 ? 1 : 3 ))
MIN_INSYNC=$(( NODES < 3 ? 1 : 2 ))
KAFKA_DIR="$CACHE/kafka-$PROFILE"
KAFKA_LIBS="$CACHE/kafka-libs"
PG_PORT="${MELDESPIEGEL_PG_PORT:-5433}"
PG_STATE="${MELDESPIEGEL_PG_STATE:-/var/tmp/meldespiegel-postgres}"
PG_USER_URL="postgresql://meldespiegel:meldespiegel@127.0.0.1:$PG_PORT"

SAY_AS=stack
# shellcheck source=deploy/local/common.sh
source "$ROOT/deploy/local/common.sh"

# ---------------------------------------------------------------- Python environment
python_env() {
  local stamp="$ROOT/.venv/.installed" want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    python3 -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ required"'
    say "creating .venv"
    python3 -m venv "$ROOT/.venv"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python dependencies"
    if ! { "$ROOT/.venv/bin/pip" install -q --upgrade pip &&
           "$ROOT/.venv/bin/pip" install -q -e "$ROOT[dev]"; } >"$CACHE/pip.log" 2>&1; then
      cat "$CACHE/pip.log" >&2; echo "pip install failed" >&2; exit 1
    fi
    echo "$want" >"$stamp"
  fi
}

# what the tests check against in another language (tests/deploy, tests/interop): the AsyncAPI
# parser, an RFC 8785 canonicaliser (the chain's auditor) and an RFC 9180 HPKE implementation
NODE_TOOLS="@asyncapi/parser@3.6.6 canonicalize@2.1.0 @hpke/core@1.9.0"
node_tools() {
  local stamp="$CACHE/node/.installed"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$NODE_TOOLS" ]; then return; fi
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing $NODE_TOOLS from npm"
  mkdir -p "$CACHE/node"
  # shellcheck disable=SC2086
  if ! npm install --prefix "$CACHE/node" --no-audit --no-fund --silent $NODE_TOOLS \
       >"$CACHE/npm.log" 2>&1; then
    cat "$CACHE/npm.log" >&2; echo "npm install failed" >&2; exit 1
  fi
  echo "$NODE_TOOLS" >"$stamp"
}

# ---------------------------------------------------------------- Kafka
kafka_jars() {
  local stamp="$KAFKA_LIBS/.pom" want
  want="$(sha256sum "$ROOT/deploy/kafka/pom.xml" | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return; fi
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  say "resolving Apache Kafka jars from Maven Central"
  rm -rf "$KAFKA_LIBS"
  mvn -q -B -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS" -DincludeScope=runtime >/dev/null
  echo "$want" >"$stamp"
}

kafka_java() {
  java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_DIR/logs" -cp "$KAFKA_LIBS/*" "$@"
}

# node N's directory and ports: the single node of dev and test keeps the plain layout
node_dir() { if [ "$NODES" = 1 ]; then echo "$KAFKA_DIR"; else echo "$KAFKA_DIR/node-$1"; fi; }
node_port() { echo $(( KAFKA_PORT + 100 * ($1 - 1) + ${2:-0} )); }
bootstrap_servers() {
  local n out=""
  for n in $(seq 1 "$NODES"); do out+="${out:+,}127.0.0.1:$(node_port "$n" "${1:-0}")"; done
  echo "$out"
}

# the SCRAM user of the SASL listener; its password is made once per profile
SCRAM_USER=meldespiegel
scram_password() {
  local file="$CACHE/kafka-scram-$PROFILE.password"
  if [ ! -s "$file" ]; then
    (umask 077; "$ROOT/.venv/bin/python" -c 'import secrets; print(secrets.token_hex(24))' >"$file")
  fi
  cat "$file"
}

kafka_up() {
  kafka_jars
  if [ "$PROFILE" != dev ]; then kafka_down; rm -rf "$KAFKA_DIR"; fi
  if port_open "$KAFKA_PORT"; then say "Kafka already listening on 127.0.0.1:$KAFKA_PORT"; return; fi
  local n voters="" cluster_id
  for n in $(seq 1 "$NODES"); do voters+="${voters:+,}$n@127.0.0.1:$(node_port "$n" 1)"; done
  cluster_id="$(cat "$KAFKA_DIR/cluster-id" 2>/dev/null || true)"
  if [ -z "$cluster_id" ]; then
    mkdir -p "$KAFKA_DIR"
    cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid)"
    echo "$cluster_id" >"$KAFKA_DIR/cluster-id"
  fi
  for n in $(seq 1 "$NODES"); do kafka_node_up "$n" "$voters" "$cluster_id"; done
  for n in $(seq 1 "$NODES"); do kafka_node_wait "$n"; done
  say "Kafka is up ($NODES node$([ "$NODES" = 1 ] || echo s))"
}

kafka_node_up() {
  local n="$1" voters="$2" cluster_id="$3" dir port
  dir="$(node_dir "$n")"; port="$(node_port "$n")"
  mkdir -p "$dir/logs" "$dir/data"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$(node_port "$n" 1),SASL_PLAINTEXT://127.0.0.1:$(node_port "$n" 2)
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$(node_port "$n" 2)
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
# a SCRAM listener beside the plaintext one: clients of a secured cluster are tried against it
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=3
default.replication.factor=$REPLICAS
min.insync.replicas=$MIN_INSYNC
offsets.topic.replication.factor=$REPLICAS
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$REPLICAS
transaction.state.log.min.isr=$MIN_INSYNC
group.initial.rebalance.delay.ms=0
# topics are created from the catalogue in shared/, never by accident
auto.create.topics.enable=false
EOF
  if [ ! -f "$dir/data/meta.properties" ]; then
    say "formatting KRaft storage in $dir/data"
    KAFKA_DIR="$dir" kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" \
      --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$(scram_password)]" \
      -c "$dir/server.properties" >/dev/null
  fi
  kafka_node_start "$n"
}

# starts node N from its formatted storage (also what tests/cluster does after killing one)
kafka_node_start() {
  local dir; dir="$(node_dir "$1")"
  say "starting Kafka $(ls "$KAFKA_LIBS" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p') on 127.0.0.1:$(node_port "$1")"
  # own session, so that `down` can signal the whole JVM process group
  setsid java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$dir/logs" -cp "$KAFKA_LIBS/*" \
    kafka.Kafka "$dir/server.properties" >>"$dir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
  started kafka
}

kafka_node_wait() {
  local dir port
  dir="$(node_dir "$1")"; port="$(node_port "$1")"
  for _ in $(seq 1 120); do
    if port_open "$port"; then return; fi
    if ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
      tail -n 30 "$dir/logs/"*.log >&2; echo "Kafka node $1 failed to start" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "Kafka did not open port $port in 60 s" >&2; exit 1
}

kafka_down() {
  local n
  for n in $(seq 1 "$NODES"); do kafka_node_down "$n"; done
}

kafka_node_down() {
  local pidfile pid
  pidfile="$(node_dir "$1")/kafka.pid"
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping Kafka$([ "$NODES" = 1 ] || echo " node $1") (controlled shutdown)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# ---------------------------------------------------------------- PostgreSQL
pg_answers() { "$ROOT/.venv/bin/python" -m shared.platform.db ping "$1" >/dev/null 2>&1; }

pg_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$bin" ]; then
    say "installing Debian's postgresql package"
    apt_install postgresql
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  echo "$bin"
}

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_up() {
  if [ -n "${DATABASE_URL:-}" ] && pg_answers "$DATABASE_URL"; then
    say "using the PostgreSQL server DATABASE_URL names"
    DB_URL="$DATABASE_URL"; return
  fi
  local bin; bin="$(pg_bin)"
  local data="$PG_STATE/data"
  if ! port_open "$PG_PORT"; then
    mkdir -p "$PG_STATE"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PG_STATE"
    if [ ! -f "$data/PG_VERSION" ]; then
      say "initialising a PostgreSQL cluster in $data"
      as_pg "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$data" -l "$PG_STATE/server.log" -w -t 60 start \
      -o "-p $PG_PORT -k $PG_STATE -c listen_addresses=127.0.0.1 -c max_connections=200" >/dev/null
    started postgres
    as_pg "$bin/psql" -h "$PG_STATE" -p "$PG_PORT" -U postgres -qtAc \
      "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='meldespiegel') THEN
         CREATE ROLE meldespiegel LOGIN CREATEDB PASSWORD 'meldespiegel'; END IF; END\$\$;
       -- recreating the test database ends its sessions, an autovacuum worker's too (a benchmark
       -- leaves millions of fresh rows behind for one)
       GRANT pg_signal_backend TO meldespiegel;" >/dev/null
  fi
  mkdir -p "$CACHE/postgres-users" && touch "$CACHE/postgres-users/$PROFILE"
  if [ "$PROFILE" = dev ]; then DB_NAME="$(dev_database)"; fi
  DB_URL="$PG_USER_URL/$DB_NAME"
  "$ROOT/.venv/bin/python" -m shared.platform.db create-database "$PG_USER_URL/postgres" "$DB_NAME" \
    $([ "$PROFILE" != dev ] && echo --recreate)
}

pg_down() {
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$bin" ] && [ -f "$PG_STATE/data/postmaster.pid" ]; then
    say "stopping PostgreSQL"
    as_pg "$bin/pg_ctl" -D "$PG_STATE/data" -m fast -w stop >/dev/null || true
  fi
}

# what this profile's `up` started, for `down`
started() { echo "$1" >>"$CACHE/started-$PROFILE"; }
did_start() { grep -qx "$1" "$CACHE/started-$PROFILE" 2>/dev/null; }

down() {
  rm -f "$CACHE/postgres-users/$PROFILE"
  if did_start kafka; then kafka_down; else say "Kafka was running before: left running"; fi
  if did_start postgres; then
    local others; others="$(ls "$CACHE/postgres-users" 2>/dev/null | tr '\n' ' ')"
    if [ -n "$others" ]; then
      say "PostgreSQL is still used by profile(s) ${others% }: left running"
    else
      pg_down
    fi
  else
    say "PostgreSQL was running before: left running"
  fi
  rm -f "$CACHE/started-$PROFILE"
}

# ---------------------------------------------------------------- commands
write_env() {
  cat >"$CACHE/stack-$PROFILE.env" <<EOF
export MELDESPIEGEL_KAFKA_BOOTSTRAP=$(bootstrap_servers)
export MELDESPIEGEL_KAFKA_REPLICATION_FACTOR=$REPLICAS
export MELDESPIEGEL_KAFKA_MIN_INSYNC_REPLICAS=$MIN_INSYNC
export DATABASE_URL=$DB_URL
export MELDESPIEGEL_PKI_DIR=$CACHE/pki
export MELDESPIEGEL_PRINT_SPOOL_DIR=$CACHE/print-spool-$PROFILE
export MELDESPIEGEL_PROTOCOL_API_PORT=$PROTOCOL_API_PORT
export MELDESPIEGEL_PROTOCOL_API_URL=http://127.0.0.1:$PROTOCOL_API_PORT
export MELDESPIEGEL_HTTP_PORT=$AUTH_API_PORT
export MELDESPIEGEL_AUTH_API_URL=http://127.0.0.1:$AUTH_API_PORT
# the brokers' least (group.min.session.timeout.ms): a killed process's partitions move after 6 s
export MELDESPIEGEL_KAFKA_SESSION_TIMEOUT_MS=6000
EOF
  # the same cluster through its SCRAM listener: source this after the env file to use it
  cat >"$CACHE/kafka-sasl-$PROFILE.env" <<EOF
export MELDESPIEGEL_KAFKA_BOOTSTRAP=$(bootstrap_servers 2)
export MELDESPIEGEL_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT
export MELDESPIEGEL_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
export MELDESPIEGEL_KAFKA_SASL_USERNAME=$SCRAM_USER
export MELDESPIEGEL_KAFKA_SASL_PASSWORD=$(scram_password)
EOF
  say "environment in .local/stack-$PROFILE.env (Kafka 127.0.0.1:$KAFKA_PORT, ${DB_URL%%:*}://…@${DB_URL##*@})"
}

case "$CMD" in
  up)
    mkdir -p "$CACHE"
    rm -f "$CACHE/started-$PROFILE"
    python_env
    kafka_up
    pg_up
    "$ROOT/.venv/bin/python" -m shared.platform.pki init "$CACHE/pki"
    # the local installation's Verfahrensbetreuung signs its commands with this key
    "$ROOT/.venv/bin/python" -m shared.platform.pki operator "$CACHE/pki" \
      ops-verfahrensbetreuung betrieb >/dev/null
    # the gateway to other states' registers signs what it sends with this one (§ 39 Abs. 3 BMG)
    "$ROOT/.venv/bin/python" -m shared.platform.pki operator "$CACHE/pki" \
      gateway-03 land-gateway >/dev/null
    # the demo's stand-in for Nordrhein-Westfalen's gateway (demo.verbund), the local run's peer
    "$ROOT/.venv/bin/python" -m shared.platform.pki operator "$CACHE/pki" \
      gateway-05 land-gateway >/dev/null
    write_env
    # shellcheck disable=SC1090
    source "$CACHE/stack-$PROFILE.env"
    "$ROOT/.venv/bin/python" -m shared.platform.kafka_admin ensure
    # the dashboard's browser test runs in Debian's headless Chromium
    if [ "$PROFILE" = test ] && [ ! -x /usr/bin/chromium ]; then
      say "installing Debian's chromium for the browser test"
      apt_install chromium
    fi
    if [ "$PROFILE" = test ]; then node_tools; fi
    ;;
  python-env)  # what the fast test tier needs: the Python environment and the PKI, nothing else
    mkdir -p "$CACHE"
    python_env
    "$ROOT/.venv/bin/python" -m shared.platform.pki init "$CACHE/pki"
    ;;
  kafka-jars) kafka_jars ;;  # the broker's jars in .local/kafka-libs (deploy/compose/smoke's Kafka image)
  down) down ;;
  down-all) kafka_down; pg_down ;;
  env) cat "$CACHE/stack-$PROFILE.env" ;;
  node-start)  # a node of the cluster again, after tests/cluster killed it
    kafka_node_start "${NODE:?NODE=<n>}"
    kafka_node_wait "$NODE"
    ;;
  status)
    port_open "$KAFKA_PORT" && echo "kafka: up on 127.0.0.1:$KAFKA_PORT" || echo "kafka: down"
    port_open "$PG_PORT" && echo "postgresql: up on 127.0.0.1:$PG_PORT" || echo "postgresql: down"
    ;;
  *) echo "usage: stack.sh up|down|down-all|status|env|python-env|kafka-jars|node-start [--profile dev|test|cluster]" >&2; exit 2 ;;
esac
