#!/usr/bin/env bash
# Docker source registry for `dcos-registry build` tests: Debian's docker-registry (distribution 2.8)
# on 127.0.0.1 with filesystem storage. Plain HTTP, no auth: tests that need auth spawn their own
# instance (test/docker/registry-process.ts) so parallel test files never share one.
#
#   scripts/docker-registry.sh start   # idempotent; waits until GET /v2/ answers
#   scripts/docker-registry.sh stop    # by pid file
#   scripts/docker-registry.sh env     # export REGISTRY_TEST_DOCKER_SOURCE=127.0.0.1:PORT
set -euo pipefail

PORT="${DOCKER_REGISTRY_PORT:-5000}"
DIR="${DOCKER_REGISTRY_DIR:-$PWD/.test-services/docker-registry}"
BIN="${DOCKER_REGISTRY_BIN:-/usr/bin/docker-registry}"
PIDFILE="$DIR/registry.pid"
LOG="$DIR/registry.log"

ping() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/v2/"; }

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
  if running && ping; then echo "docker-registry already running on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"; return 0; fi
  [[ -x "$BIN" ]] || { echo "docker-registry binary not found at $BIN (apt-get install docker-registry)" >&2; exit 1; }
  mkdir -p "$DIR/storage"
  cat > "$DIR/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog: { disabled: true }
storage:
  filesystem: { rootdirectory: $DIR/storage }
  delete: { enabled: true }
  maintenance:
    uploadpurging: { enabled: false }
http:
  addr: 127.0.0.1:$PORT
  secret: test-only-not-secret
  debug: { addr: "" }
YAML
  # setsid: the registry must not die with the shell that started it.
  setsid "$BIN" serve "$DIR/config.yml" >>"$LOG" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 100); do
    if ping; then echo "docker-registry ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"; return 0; fi
    running || { echo "docker-registry exited; log:" >&2; tail -20 "$LOG" >&2; exit 1; }
    sleep 0.1
  done
  echo "docker-registry did not answer GET /v2/ within 10 s; log:" >&2; tail -20 "$LOG" >&2; exit 1
}

stop() {
  if running; then
    local pid; pid="$(cat "$PIDFILE")"
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "docker-registry stopped (pid $pid)"
  else
    echo "docker-registry not running"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export REGISTRY_TEST_DOCKER_SOURCE=127.0.0.1:$PORT" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
