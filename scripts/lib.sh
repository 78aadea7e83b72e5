# Shared shell helpers for scripts/run.sh and scripts/test.sh (sourced, not run).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TANSU="$ROOT/.parley/bin/tansu"
PIDS=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() { # port, seconds, name
  local port=$1 deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "$3 did not listen on 127.0.0.1:$port within $2 s" >&2; return 1; }
    sleep 0.1
  done
}

start_redis() { # port, state dir
  mkdir -p "$2/redis"
  redis-server --port "$1" --bind 127.0.0.1 --dir "$2/redis" --save "" --appendonly no \
    --daemonize no --loglevel warning >"$2/redis.log" 2>&1 &
  PIDS+=($!)
  wait_port "$1" 15 redis-server
}

start_tansu() { # port, state dir
  "$TANSU" broker --listener-url "tcp://127.0.0.1:$1" --advertised-listener-url "tcp://127.0.0.1:$1" \
    --storage-engine memory://tansu/ >"$2/tansu.log" 2>&1 &
  PIDS+=($!)
  wait_port "$1" 15 tansu
}

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}

BIN_DIR=""
build_services() { # configuration: debug or release
  swift build -c "$1" --product ws-edge >/dev/null
  swift build -c "$1" >/dev/null
  BIN_DIR=$(swift build -c "$1" --show-bin-path)
}

start_service() { # log dir, name, executable, args...
  local dir=$1 name=$2 exe=$3; shift 3
  "$BIN_DIR/$exe" "$@" >"$dir/$name.log" 2>&1 &
  PIDS+=($!)
  echo "$!" >"$dir/$name.pid"
}

wait_ready() { # port, seconds, name
  local deadline=$((SECONDS + $2))
  until curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "$3 not ready on port $1 within $2 s (see its log)" >&2; return 1; }
    sleep 0.2
  done
}
