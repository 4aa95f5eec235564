#!/usr/bin/env bash
# A client of another mesh (its own `meshctl init`, so another mesh key and
# another door key) gets no answer, and the node logs the refusal with the
# client's address although its CURVE handshake fails before the ZAP
# handler (node/membership/rm_door_watch.c).  Many attempts are rate-limited like every
# other refusal: at most RM_REFUSAL_LOGS (20) lines per 10 s window.
source "$(dirname "$0")/lib.sh"

LOGS_PER_WINDOW=20 # node/membership/rm_zap.h RM_REFUSAL_LOGS per RM_REFUSAL_WINDOW_MS
FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export MESH_BLENDER="$FAKE" # meshctl scans the fake scene with it too
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --blender "$FAKE"

other="$T/other"
MESH_HOME="$other" "$MESHCTL" init --name stranger >/dev/null
refused() { grep -Ec "refused (127\.0\.0\.1|an unknown address): handshake failed" "$T/n1.log" || true; }

# Only what is logged from here on: start_node's own polls (meshctl status
# with a short timeout) may hang up mid-handshake on a slow machine, which
# the node logs as a refusal too ("closed during the handshake").
seen=$(wc -l <"$T/n1.log")
new_refusal() { tail -n +$((seen + 1)) "$T/n1.log" | grep -m1 "door: refused 127.0.0.1: handshake failed"; }
t0=$SECONDS
rc=0
MESH_HOME="$other" MESH_TIMEOUT_MS=1000 "$MESHCTL" status >"$T/status.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "a client of another mesh got an answer: $(cat "$T/status.out")"
for _ in $(seq 1 100); do
  new_refusal >/dev/null && break
  sleep 0.1
done
line=$(new_refusal) ||
  fail "no refusal naming 127.0.0.1 in the node's log: $(grep refused "$T/n1.log")"
[[ "$line" == *"another mesh"* ]] || fail "the refusal does not say why: $line"
pass "meshctl status of another mesh refused (exit $rc); the node logs: ${line#*door: }"

# Each meshctl process makes at least one attempt.  Attempts continue until
# they outnumber what the limiter may log in the time taken, then the log
# must not hold more than that.
attempts=1
allowed() { echo $((LOGS_PER_WINDOW * ((SECONDS - t0) / 10 + 1))); }
while [ $attempts -le $(($(allowed) + 10)) ]; do
  pids=()
  for _ in $(seq 1 10); do
    MESH_HOME="$other" MESH_TIMEOUT_MS=300 "$MESHCTL" status >/dev/null 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  attempts=$((attempts + 10))
done
# The node still serves its own mesh; once it has stopped, its log is final.
"$MESHCTL" status >/dev/null || fail "the node no longer answers its own mesh"
stop_node n1
pass "node stopped cleanly"
lines=$(refused)
limit=$(allowed)
[ "$lines" -ge 1 ] || fail "no refusal logged"
[ "$lines" -le "$limit" ] ||
  fail "$lines refusal lines for $attempts+ attempts in $((SECONDS - t0)) s: more than $limit"
pass "$attempts+ attempts in $((SECONDS - t0)) s: $lines refusal lines (at most $limit allowed)"
