#!/usr/bin/env bash
# `make run`: set up, build, start redis-server, the Tansu broker and every Parley service (two
# ws-edge instances), print where to connect, and keep them running until Ctrl-C (or SIGTERM),
# which stops everything it started. A service that exits is reported (name, exit status, log)
# and the rest keeps running.
#
#   scripts/run.sh                  the whole stack                       (make run)
#   scripts/run.sh --without SVC    all but SVC, and the command that     (make run-without SVC=...)
#                                   starts SVC by hand
#   scripts/run.sh restart SVC      restart SVC in the running stack      (make restart SVC=...)
#
# SVC: relay-svc, presence-svc, offline-svc, ws-edge-1 or ws-edge-2.
# Ports: EDGE1_PORT (8080), EDGE2_PORT (8081) public; admin ports (/healthz /readyz /metrics, the
# server API) EDGE1_ADMIN_PORT (9100), EDGE2_ADMIN_PORT (9104), RELAY_PORT (9101), PRESENCE_PORT
# (9102), OFFLINE_PORT (9103); REDIS_PORT (6379), KAFKA_PORT (9092). A port something else already
# listens on is refused. CONFIG=release builds optimised binaries. RUN_DIR (.parley/run) holds
# the logs, the pid files and the control FIFO that `restart` writes to.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

EDGE1_PORT=${EDGE1_PORT:-8080}; EDGE2_PORT=${EDGE2_PORT:-8081}
EDGE1_ADMIN_PORT=${EDGE1_ADMIN_PORT:-9100}; EDGE2_ADMIN_PORT=${EDGE2_ADMIN_PORT:-9104}
RELAY_PORT=${RELAY_PORT:-9101}; PRESENCE_PORT=${PRESENCE_PORT:-9102}; OFFLINE_PORT=${OFFLINE_PORT:-9103}
REDIS_PORT=${REDIS_PORT:-6379}; KAFKA_PORT=${KAFKA_PORT:-9092}
CONFIG=${CONFIG:-debug}
RUN_DIR=${RUN_DIR:-$ROOT/.parley/run}
SERVICES=(presence-svc offline-svc relay-svc ws-edge-1 ws-edge-2)
declare -A PID_OF=()  # name -> pid of every process this stack started and has not seen exit

usage() {
  echo "usage: make run | make run-without SVC=<name> | make restart SVC=<name>" \
    "(scripts/run.sh [--without <name> | restart <name>]); <name> is one of: ${SERVICES[*]}" >&2
  exit 2
}
is_service() { [[ " ${SERVICES[*]} " == *" $1 "* ]]; }
show() { echo "${1#"$ROOT"/}"; }  # a path, relative to the project when inside it
quoted() { local line; printf -v line '%q ' "$@"; echo "${line% }"; }  # words, as a shell reads them

port_setting() { # name -> the variable that holds its port (a ws-edge's: its public port)
  case $1 in
    redis) echo REDIS_PORT ;; tansu) echo KAFKA_PORT ;;
    relay-svc) echo RELAY_PORT ;; presence-svc) echo PRESENCE_PORT ;; offline-svc) echo OFFLINE_PORT ;;
    ws-edge-1) echo EDGE1_PORT ;; ws-edge-2) echo EDGE2_PORT ;;
  esac
}
admin_setting() { # name -> the variable that holds its admin port (/readyz)
  case $1 in
    ws-edge-[12]) echo "EDGE${1#ws-edge-}_ADMIN_PORT" ;;
    *) port_setting "$1" ;;
  esac
}
port_settings() { # name -> every variable that holds one of its ports
  local settings; settings=$(port_setting "$1")
  [ "$(admin_setting "$1")" = "$settings" ] || settings+=" $(admin_setting "$1")"
  echo "$settings"
}
port_of() { local setting; setting=$(port_setting "$1"); echo "${!setting}"; }
admin_port_of() { local setting; setting=$(admin_setting "$1"); echo "${!setting}"; }

EXE=""; ARGS=()
service_command() { # name -> EXE and ARGS: how this stack runs it
  case $1 in
    ws-edge-[12]) EXE=ws-edge
      ARGS=(--edge-id "edge-${1#ws-edge-}" --http-port "$(port_of "$1")" --admin-port "$(admin_port_of "$1")") ;;
    *) EXE=$1; ARGS=(--admin-port "$(port_of "$1")") ;;
  esac
}

stack_pid() { # the pid of the run.sh that owns RUN_DIR, when it is still running
  local pid
  pid=$(cat "$RUN_DIR/run.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && grep -qa "run.sh" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

# -- `restart SVC`: a request through the running stack's control FIFO ---------------------------

restart_client() {
  local name=$1 pid reply answer deadline started port
  pid=$(stack_pid) || { echo "run: no stack is running from $(show "$RUN_DIR") (start one with make run)" >&2; exit 1; }
  reply="$RUN_DIR/reply.$$"; rm -f "$reply"
  # shellcheck disable=SC2016  # $1 and $2 are the inner bash's arguments
  timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "restart $name $reply" "$RUN_DIR/control" \
    || { echo "run: the stack (pid $pid) does not read $(show "$RUN_DIR")/control" >&2; exit 1; }
  deadline=$((SECONDS + 120))
  until [ -f "$reply" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "run: the stack (pid $pid) stopped" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "run: no answer from the stack (pid $pid)" >&2; exit 1; }
    sleep 0.1
  done
  answer=$(cat "$reply"); rm -f "$reply"
  case $answer in
    ok\ *)
      read -r _ started port <<<"$answer"
      wait_ready "$port" 60 "$name" "$started"
      echo "run: $name restarted (pid $started), ready (admin port 127.0.0.1:$port); log: $(show "$RUN_DIR/$name.log")" ;;
    *) echo "run: ${answer#error }" >&2; exit 1 ;;
  esac
}

case ${1:-} in
  "") WITHOUT="" ;;
  --without) WITHOUT=${2:-}; is_service "$WITHOUT" || usage ;;
  restart) is_service "${2:-}" || usage; restart_client "$2"; exit 0 ;;
  *) usage ;;
esac

# -- the stack ------------------------------------------------------------------------------------

taken_message() { # name, setting, what to do: why the port of that setting cannot be used
  local setting=$2 port owner
  port=${!setting}
  owner=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n1 || true)
  echo "port $port ($setting, for $1) is already in use by another process${owner:+ $owner}: $3"
}

check_ports() { # names: refuse ports that are invalid, shared or taken, naming the setting
  local name setting port problems=() seen=" "
  for name in "$@"; do
    for setting in $(port_settings "$name"); do
      port=${!setting}
      if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
        problems+=("$setting=$port is not a port number")
      elif [[ $seen == *" $port "* ]]; then
        problems+=("port $port ($setting, for $name) is also set for another process: choose another one")
      elif port_in_use "$port"; then
        problems+=("$(taken_message "$name" "$setting" "stop that process or choose another port, e.g. $setting=$(free_port)")")
      fi
      seen+="$port "
    done
  done
  [ ${#problems[@]} -eq 0 ] && return 0
  printf 'run: %s\n' "${problems[@]}" >&2
  return 1
}

start_one() { # service name: start it, record its pid
  service_command "$1"
  start_service "$RUN_DIR" "$1" "$EXE" "${ARGS[@]}"
  PID_OF[$1]=$!
}

describe_exit() { # status -> words
  if [ "$1" -gt 128 ]; then echo "status $1 (killed by SIG$(kill -l $(($1 - 128))))"; else echo "status $1"; fi
}

report_exits() { # tell about every process of the stack that exited since the last look
  local name pid status
  for name in "${!PID_OF[@]}"; do
    pid=${PID_OF[$name]}
    kill -0 "$pid" 2>/dev/null && continue
    status=0; wait "$pid" 2>/dev/null || status=$?
    unset "PID_OF[$name]"; rm -f "$RUN_DIR/$name.pid"
    echo "run: $name (pid $pid) exited with $(describe_exit "$status"); log: $(show "$RUN_DIR/$name.log")" >&2
    if is_service "$name"; then
      echo "run: the rest keeps running; 'make restart SVC=$name' starts it again, Ctrl-C stops everything" >&2
    else
      echo "run: the services cannot work without $name: stop the stack with Ctrl-C and start it again" >&2
    fi
  done
}

restart_service() { # name, reply file: stop it if it runs, start it again, answer "ok PID ADMIN-PORT" or "error WHY"
  local name=$1 reply=$2 answer setting taken
  [[ $reply =~ ^"$RUN_DIR"/reply\.[0-9]+$ ]] || return 0
  if ! is_service "$name"; then
    answer="error unknown service '$name' (one of: ${SERVICES[*]})"
  else
    if [ -n "${PID_OF[$name]:-}" ]; then
      echo "run: restarting $name (stopping pid ${PID_OF[$name]})"
      stop_pids "${PID_OF[$name]}"
      unset "PID_OF[$name]"; rm -f "$RUN_DIR/$name.pid"
    fi
    taken=""
    for setting in $(port_settings "$name"); do
      [ -n "$taken" ] || ! port_in_use "${!setting}" || taken=$setting
    done
    if [ -n "$taken" ]; then
      answer="error $(taken_message "$name" "$taken" "stop that process (your own $name?) and make restart SVC=$name again")"
    else
      start_one "$name"
      echo "run: started $name (pid ${PID_OF[$name]}); log: $(show "$RUN_DIR/$name.log")"
      answer="ok ${PID_OF[$name]} $(admin_port_of "$name")"
    fi
  fi
  printf '%s\n' "$answer" >"$reply.tmp" && mv "$reply.tmp" "$reply"
}

shutdown() { # services first, then the broker and Redis they talk to
  trap '' INT TERM HUP  # a second Ctrl-C does not cut the clean-up short
  echo; echo "stopping..."
  local name pids=()
  for name in "${SERVICES[@]}"; do [ -z "${PID_OF[$name]:-}" ] || pids+=("${PID_OF[$name]}"); done
  stop_pids "${pids[@]}"
  pids=()
  for name in tansu redis; do [ -z "${PID_OF[$name]:-}" ] || pids+=("${PID_OF[$name]}"); done
  stop_pids "${pids[@]}"
  rm -f "$RUN_DIR"/*.pid "$RUN_DIR/control"
  echo "stopped"
}

if pid=$(stack_pid); then
  echo "run: a stack is already running from $(show "$RUN_DIR") (pid $pid): stop it with Ctrl-C in its terminal," \
    "or restart one service with make restart SVC=..." >&2
  exit 1
fi
STARTED=(redis tansu)
for name in "${SERVICES[@]}"; do [ "$name" = "$WITHOUT" ] || STARTED+=("$name"); done
check_ports "${STARTED[@]}"

scripts/setup.sh run
rm -rf "$RUN_DIR"; mkdir -p "$RUN_DIR"
echo $$ >"$RUN_DIR/run.pid"
mkfifo "$RUN_DIR/control"
exec 3<>"$RUN_DIR/control"  # read and write: reads never see end-of-file between two requests
trap shutdown EXIT
trap 'exit 0' INT TERM HUP
LAUNCH=(setsid)  # every process in a session of its own: Ctrl-C reaches only this script

echo "building ($CONFIG)..."
build_services "$CONFIG"
check_ports "${STARTED[@]}"  # again: the build may have taken minutes

start_redis "$REDIS_PORT" "$RUN_DIR"; PID_OF[redis]=${PIDS[-1]}
start_tansu "$KAFKA_PORT" "$RUN_DIR"; PID_OF[tansu]=${PIDS[-1]}
for name in redis tansu; do echo "${PID_OF[$name]}" >"$RUN_DIR/$name.pid"; done

export PARLEY_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export PARLEY_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export PARLEY_KAFKA_SESSION_TIMEOUT=${PARLEY_KAFKA_SESSION_TIMEOUT:-3s}
export PARLEY_TOPIC_PARTITIONS=${PARLEY_TOPIC_PARTITIONS:-4}
export PARLEY_DEV_LOGIN=${PARLEY_DEV_LOGIN:-true}
export PARLEY_JWT_SECRET=${PARLEY_JWT_SECRET:-local-development-secret-0123456789}
# Both edges (and an edge after `make restart`) accept each other's dev-login tokens.
export PARLEY_DEV_LOGIN_SECRET=${PARLEY_DEV_LOGIN_SECRET:-local-development-dev-login-secret-0123}

for name in "${STARTED[@]:2}"; do start_one "$name"; done
for name in "${STARTED[@]:2}"; do wait_ready "$(admin_port_of "$name")" 60 "$name" "${PID_OF[$name]}"; done

cat <<MSG

Parley is running (logs: $(show "$RUN_DIR")/*.log). Ctrl-C stops everything.
  web client:  http://127.0.0.1:$EDGE1_PORT/   and   http://127.0.0.1:$EDGE2_PORT/
  WebSocket:   ws://127.0.0.1:$EDGE1_PORT/ws + Authorization: Bearer <token>  (token: curl -s -XPOST 127.0.0.1:$EDGE1_PORT/api/login -d '{"user":"alice"}')
  seed mode:   ws://127.0.0.1:$EDGE1_PORT/read?user=alice  (dev login on a loopback listener only)
  admin ports: ws-edge-1 :$EDGE1_ADMIN_PORT, ws-edge-2 :$EDGE2_ADMIN_PORT, relay-svc :$RELAY_PORT, presence-svc :$PRESENCE_PORT,
               offline-svc :$OFFLINE_PORT (/healthz /readyz /metrics; ws-edge: the server API with PARLEY_API_KEY_FILE)
  broker:      127.0.0.1:$KAFKA_PORT (Tansu)   redis: 127.0.0.1:$REDIS_PORT
  one service: make restart SVC=<name> restarts it (${SERVICES[*]})
MSG

if [ -n "$WITHOUT" ]; then
  # Every setting the stack gives its processes through PARLEY_* variables, as the flag the
  # executable's --help pairs with it: one command line, for a terminal or a debugger.
  service_command "$WITHOUT"
  while read -r flag variable; do
    [[ " ${ARGS[*]} " == *" $flag "* || -z "${!variable+set}" ]] || ARGS+=("$flag" "${!variable}")
  done < <("$BIN_DIR/$EXE" --help | sed -n 's/^ *\(--[a-z0-9-]*\) <value> *\[\(PARLEY_[A-Z0-9_]*\)\].*/\1 \2/p')
  build_flags=(); [ "$CONFIG" = debug ] || build_flags=(-c "$CONFIG")
  cat <<MSG

$WITHOUT is not started. Start it by hand from $ROOT ($(for s in $(port_settings "$WITHOUT"); do printf '%s=%s ' "$s" "${!s}"; done | sed 's/ $//')):
  $(quoted swift run "${build_flags[@]}" "$EXE" "${ARGS[@]}")
or the built binary, e.g. under a debugger:
  $(quoted "$BIN_DIR/$EXE" "${ARGS[@]}")
When you stop it, 'make restart SVC=$WITHOUT' runs it in this stack again.
MSG
fi

# `read -t 0` only looks: bash 5.2 can crash when a trap that ends the script interrupts `read -t 1`.
while :; do
  while read -r -t 0 -u 3; do
    read -r -u 3 verb name reply
    [ "$verb" != restart ] || restart_service "$name" "$reply"
  done
  report_exits
  sleep 0.5
done
