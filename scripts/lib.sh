# Shared shell helpers for scripts/run.sh, scripts/test.sh and scripts/bench.sh (sourced, not run).
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TANSU="$ROOT/.parley/bin/tansu"
PIDS=()
# A prefix for every process started here: run.sh sets (setsid), so that Ctrl-C reaches only it
# and it stops the services before the broker and Redis they talk to.
LAUNCH=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() { # port, seconds, name
  local port=$1 deadline=$((SECONDS + $2))
  until port_in_use "$port"; do
    [ $SECONDS -lt $deadline ] || { echo "$3 did not listen on 127.0.0.1:$port within $2 s" >&2; return 1; }
    sleep 0.1
  done
}

start_redis() { # port, state dir
  mkdir -p "$2/redis"
  "${LAUNCH[@]}" redis-server --port "$1" --bind 127.0.0.1 --dir "$2/redis" --save "" --appendonly no \
    --daemonize no --loglevel warning >"$2/redis.log" 2>&1 &
  PIDS+=($!)
  wait_port "$1" 15 redis-server
}

# A 6-node Redis Cluster (3 primaries, 3 replicas) on free loopback ports, with a short
# cluster-node-timeout so a killed primary's replica takes over within seconds. Sets
# REDIS_CLUSTER_URL (redis+cluster://, every node a seed) and REDIS_CLUSTER_PORTS. Each node runs
# from redis.conf in its directory (its CONFIG GET dir), so a test can start a killed node again.
start_redis_cluster() { # state dir
  local dir="$1/redis-cluster" port nodes=()
  REDIS_CLUSTER_PORTS=()
  mkdir -p "$dir"
  for _ in 1 2 3 4 5 6; do
    port=$(free_port)
    # redis-server also listens on port + 10000 (the cluster bus): both must be free.
    while port_in_use $((port + 10000)) || [ $((port + 10000)) -gt 65535 ]; do port=$(free_port); done
    mkdir -p "$dir/$port"
    printf '%s\n' "port $port" "bind 127.0.0.1" "dir $dir/$port" 'save ""' "appendonly no" "daemonize no" \
      "loglevel warning" "repl-diskless-sync-delay 0" "cluster-enabled yes" "cluster-config-file nodes.conf" "cluster-node-timeout 1000" \
      "cluster-replica-validity-factor 0" "cluster-require-full-coverage no" >"$dir/$port/redis.conf"
    "${LAUNCH[@]}" redis-server "$dir/$port/redis.conf" >>"$dir/$port.log" 2>&1 &
    PIDS+=($!)
    REDIS_CLUSTER_PORTS+=("$port")
    nodes+=("127.0.0.1:$port")
  done
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do wait_port "$port" 15 "redis-server (cluster)"; done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; return 1; }
  local deadline=$((SECONDS + 30))
  # Ready: every node sees the cluster whole, and every replica finished its first sync (a
  # replica still loading its primary's snapshot would lose everything in a failover).
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    until redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' \
        && [ "$(redis-cli -p "$port" cluster nodes 2>/dev/null | grep -cE "[ ,]slave .* connected")" -eq 3 ] \
        && ! redis-cli -p "$port" info replication 2>/dev/null | grep -qE '^(master_link_status:down|master_sync_in_progress:1)'; do
      [ $SECONDS -lt $deadline ] || { echo "redis cluster node $port not ready within 30 s" >&2; return 1; }
      sleep 0.2
    done
  done
  # shellcheck disable=SC2034  # read by the caller (scripts/test.sh)
  REDIS_CLUSTER_URL="redis+cluster://$(IFS=,; echo "${nodes[*]}")"
}

start_tansu() { # port, state dir
  "${LAUNCH[@]}" "$TANSU" broker --listener-url "tcp://127.0.0.1:$1" --advertised-listener-url "tcp://127.0.0.1:$1" \
    --storage-engine memory://tansu/ >"$2/tansu.log" 2>&1 &
  PIDS+=($!)
  wait_port "$1" 15 tansu
}

stop_all() { stop_pids "${PIDS[@]}"; }

stop_pids() { # pids (children of this shell): SIGTERM, SIGKILL after 5 s, then reap them
  [ $# -gt 0 ] || return 0
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait "$@" 2>/dev/null || true
}

# SwiftPM keys its manifest cache on the whole environment, and after it loads the package graph
# again it may compile dependencies again (seen here: Hummingbird, about 100 files, at random).
# The scripts' builds all run in this one small environment, so `make run` builds nothing that
# `make test` built (and the reverse).
swift_build() { env -i PATH="$PATH" HOME="$HOME" swift build "$@"; }

BIN_DIR=""
build_services() { # configuration: debug or release (a no-op when the build is up to date)
  swift_build -c "$1" >/dev/null
  BIN_DIR=$(swift_build -c "$1" --show-bin-path)
}

start_service() { # log dir, name, executable, args... (the log is appended to: a restart keeps the last run's)
  local dir=$1 name=$2 exe=$3; shift 3
  "${LAUNCH[@]}" "$BIN_DIR/$exe" "$@" >>"$dir/$name.log" 2>&1 &
  PIDS+=($!)
  echo "$!" >"$dir/$name.pid"
}

wait_ready() { # port, seconds, name[, pid: give up as soon as that process is gone]
  local deadline=$((SECONDS + $2))
  until curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; do
    [ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || { echo "$3 (pid $4) exited before it was ready (see its log)" >&2; return 1; }
    [ $SECONDS -lt $deadline ] || { echo "$3 not ready on port $1 within $2 s (see its log)" >&2; return 1; }
    sleep 0.2
  done
}

port_in_use() { # port: true when something accepts connections on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
