#!/usr/bin/env bash
# Throwaway S3 server for tests: a single-node Ceph cluster (one mon, one memstore OSD, no mgr,
# cephx off inside the cluster) plus radosgw (beast) on 127.0.0.1. Everything it writes (conf,
# keyring, data, pid files, logs, admin sockets) lives under one scratch directory, so several
# clusters can run side by side with different RGW_DIR / RGW_PORT / RGW_MON_PORT.
# Recipe and the reasons for its settings: docs/operations.md ("The test S3 server").
#
#   scripts/rgw.sh start   # idempotent; creates the test user and bucket; retries once from scratch
#   scripts/rgw.sh stop    # kills by pid files, waits for exit, removes the scratch dir
#   scripts/rgw.sh env     # export lines for REGISTRY_TEST_S3_* and AWS_*
#
# Settings: RGW_DIR (default $PWD/.test-services/rgw), RGW_PORT (7480), RGW_MON_PORT (6789),
# RGW_MEMSTORE_BYTES (2 GiB; the OSD keeps all data in RAM up to this cap).
set -euo pipefail

DIR="${RGW_DIR:-$PWD/.test-services/rgw}"
PORT="${RGW_PORT:-7480}"
MON_PORT="${RGW_MON_PORT:-6789}"
MEMSTORE_BYTES="${RGW_MEMSTORE_BYTES:-2147483648}"
ACCESS_KEY=registrytest
SECRET_KEY=registrytestsecret
BUCKET=registry-test
REGION=us-east-1
RGW_NAME=client.rgw.test
CONF="$DIR/ceph.conf"
ENDPOINT="http://127.0.0.1:$PORT"
# Stop order: the gateway first (it talks to the OSD), the monitor last.
PIDFILES=(radosgw osd.0 mon.a)

# Only a directory this script made (or an empty one) is ever removed: RGW_DIR is user input.
MARKER=.rgw-sh-scratch
wipe() {
  [[ -e "$DIR" ]] || return 0
  if [[ -f "$DIR/$MARKER" ]] || [[ -z "$(ls -A "$DIR")" ]]; then rm -rf "$DIR"; return 0; fi
  log "refusing to remove $DIR: not a scratch dir made by $0"
  return 1
}

log() { printf '[rgw %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

ceph_cli() { ceph -c "$CONF" --connect-timeout 15 "$@"; }

# S3 request signed with the test user's credentials. curl 7.88 does SigV4 itself but leaves out
# x-amz-content-sha256, without which RGW answers SignatureDoesNotMatch; our bodies are empty.
s3_curl() {
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

bucket_ok() {
  [[ "$(s3_curl -o /dev/null -w '%{http_code}' -I "$ENDPOINT/$BUCKET" 2>/dev/null)" == 200 ]]
}

pid_of() { [[ -f "$DIR/run/$1.pid" ]] && cat "$DIR/run/$1.pid"; }

# Alive, and really one of ours: its command line names our ceph.conf (guards against pid reuse).
ours_alive() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONF"
}

all_running() {
  local name pid
  for name in "${PIDFILES[@]}"; do
    pid="$(pid_of "$name")" || return 1
    ours_alive "$pid" || return 1
  done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_logs() {
  local f
  for f in "$DIR"/log/*.log; do
    [[ -f "$f" ]] || continue
    echo "---- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
}

write_conf() {
  # \$name, \$id: Ceph's own metavariables, expanded per daemon.
  cat > "$CONF" <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
ms bind msgr2 = false
ms bind ipv6 = false
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
# The monitor commits a map change at most once per propose interval (1 s),
# and radosgw's first start creates its pools one map change at a time. 50 ms cuts a start
# from 14.4 s to about 2 s here.
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = $DIR/run
crash dir = $DIR/crash
keyring = $DIR/keyring
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
mon data = $DIR/mon/\$id
osd data = $DIR/osd/\$id

[mon]
admin socket = $DIR/run/\$name.asok

[osd]
admin socket = $DIR/run/\$name.asok
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd class update on start = false
osd crush update on start = false

[$RGW_NAME]
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/radosgw.pid
log file = $DIR/log/radosgw.log
rgw data = $DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
EOF
}

wait_for() { # description, seconds, command...
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then log "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

osd_up() { ceph_cli osd stat 2>/dev/null | grep -q '1 up'; }
s3_answers() { curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; }

# One attempt from an empty scratch dir. Runs in its own bash process (see start) so that
# `set -e` really applies: any failing step ends the attempt.
attempt() {
  local started=$SECONDS
  for p in "$PORT" "$MON_PORT"; do
    if port_busy "$p"; then log "port 127.0.0.1:$p is already in use (set RGW_PORT / RGW_MON_PORT)"; return 1; fi
  done
  wipe
  mkdir -p "$DIR"/{run,log,mon,osd/0,rgw,crash}
  touch "$DIR/$MARKER"
  FSID="$(cat /proc/sys/kernel/random/uuid)"
  local osd_uuid; osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  write_conf

  log "creating monitor (fsid $FSID)"
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
  ceph-mon -c "$CONF" -i a
  log "monitor up on 127.0.0.1:$MON_PORT; creating OSD"

  local id; id="$(ceph_cli osd create "$osd_uuid")"
  [[ "$id" == 0 ]] || { log "expected OSD id 0, got '$id'"; return 1; }
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>>"$DIR/log/osd-mkfs.log"
  ceph_cli osd crush add osd.0 1.0 root=default 2>/dev/null
  ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/osd-start.log"
  wait_for "the OSD to be up" 60 osd_up
  log "OSD up; starting radosgw on $ENDPOINT"

  radosgw -c "$CONF" -n "$RGW_NAME"
  wait_for "radosgw to answer on $ENDPOINT" 60 s3_answers

  radosgw-admin -c "$CONF" user create --uid="$ACCESS_KEY" --display-name="registry tests" \
    --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null
  # The first writes are slow (RGW creates its pools lazily), hence the generous timeout.
  local code
  code="$(s3_curl --max-time 60 -o "$DIR/log/create-bucket.out" -w '%{http_code}' -X PUT "$ENDPOINT/$BUCKET")"
  [[ "$code" == 200 ]] || { log "CreateBucket answered $code: $(cat "$DIR/log/create-bucket.out")"; return 1; }
  wait_for "bucket $BUCKET to answer HEAD" 30 bucket_ok
  all_running || { log "a daemon exited during start"; return 1; }
  log "ready in $((SECONDS - started))s: $ENDPOINT bucket $BUCKET"
}

stop() {
  # One at a time, gateway first: radosgw killed together with its OSD was seen to hang on
  # SIGTERM for over 30 s; stopped in order, each daemon exits in about 2 s.
  local name pid stopped=() deadline=$((SECONDS + 30))
  for name in "${PIDFILES[@]}"; do
    pid="$(pid_of "$name")" || continue
    ours_alive "$pid" || continue
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) still running after SIGTERM; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    stopped+=("$name:$pid")
  done
  wipe
  ((${#stopped[@]} == 0)) || log "stopped ${stopped[*]}"
}

start() {
  if all_running && bucket_ok; then log "already running: $ENDPOINT"; return 0; fi
  stop # leftovers of an earlier, half-dead cluster
  local try
  for try in 1 2; do
    if bash "${BASH_SOURCE[0]}" __attempt; then return 0; fi
    log "start attempt $try failed"
    show_logs
    stop
  done
  log "giving up: radosgw did not start (logs above)"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env)
    cat <<EOF
export REGISTRY_TEST_S3_ENDPOINT=$ENDPOINT
export REGISTRY_TEST_S3_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
EOF
    ;;
  __attempt) attempt ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
