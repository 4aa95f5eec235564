#!/usr/bin/env bash
# Five nodes on five hosts (network namespaces) form a mesh by gossip: all
# learn all from one seed and agree on the coordinator (the stable node, n3);
# n3 killed with SIGKILL is declared dead by every other and a new
# coordinator takes over in a higher epoch; a node stopped with SIGTERM is
# seen to leave; n3 restarted is alive again and coordinates again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh" # not root: skipped (exit 77)

N=5
PORT=7700
netns_setup $N
mesh_init
declare -A MPID=()

addr() { echo "tcp://$(netns_addr "$1"):$PORT"; }

start() { # start I [flags]: meshd on host I, joining host 1
  local i=$1
  shift
  [ -f "$T/n$i/identity.token" ] || "$MESHCTL" invite --role node --name "n$i" >"$T/n$i.token"
  mkdir -p "$T/n$i"
  # No rendering here: the synthetic Blender answers the start-up probes at
  # once, where a real one can take seconds on a loaded machine.
  local args=(--home "$T/n$i" --listen "$(addr "$i")" --blender "$RM_SOURCE_DIR/tools/fake_blender.py")
  [ -f "$T/n$i.token" ] && args+=(--token "$T/n$i.token")
  [ "$i" != 1 ] && args+=(--join "$(addr 1)")
  ip netns exec "$(netns_name "$i")" "$MESHD" "${args[@]}" "$@" >>"$T/n$i.log" 2>&1 &
  MPID[$i]=$!
}

# nodes_on I: "name state" lines as host I's node sees the mesh.
nodes_on() {
  netns_exec "$1" env MESH_HOME="$MESH_HOME" MESH_TIMEOUT_MS=2000 \
    "$MESHCTL" --mesh "$(addr "$1")" nodes --json 2>/dev/null |
    python3 -c 'import json,sys; [print(n["name"], n["state"]) for n in json.load(sys.stdin)["nodes"]]' 2>/dev/null
}

# until_all SECONDS HOSTS TEST: every host in HOSTS satisfies TEST (a python
# expression over `seen`, a dict name -> state) within SECONDS.
until_all() {
  local limit=$1 hosts=$2 test=$3 start_s=$SECONDS i ok
  while :; do
    ok=1
    for i in $hosts; do
      nodes_on "$i" >"$T/seen.$i" || true
      python3 -c "
import sys
seen = dict(l.split() for l in open(sys.argv[1]) if l.strip())
sys.exit(0 if ($test) else 1)" "$T/seen.$i" || { ok=0; break; }
    done
    [ $ok = 1 ] && { echo $((SECONDS - start_s)); return 0; }
    [ $((SECONDS - start_s)) -ge "$limit" ] && { cat "$T/seen.$i"; return 1; }
    sleep 0.5
  done
}

# coordinator_on I: "name epoch" of the coordinator host I's node follows.
coordinator_on() {
  netns_exec "$1" env MESH_HOME="$MESH_HOME" MESH_TIMEOUT_MS=2000 \
    "$MESHCTL" --mesh "$(addr "$1")" status --json 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["coordinator"], d["epoch"])' 2>/dev/null
}

# until_coordinator SECONDS HOSTS NAME: all of HOSTS follow NAME, one epoch.
until_coordinator() {
  local limit=$1 hosts=$2 want=$3 start_s=$SECONDS i
  while :; do
    : >"$T/coord"
    for i in $hosts; do coordinator_on "$i" >>"$T/coord" || true; done
    if [ "$(sort -u "$T/coord" | wc -l)" = 1 ] && [ "$(cut -d' ' -f1 "$T/coord" | head -1)" = "$want" ]; then
      cut -d' ' -f2 "$T/coord" | head -1
      return 0
    fi
    [ $((SECONDS - start_s)) -ge "$limit" ] && { cat "$T/coord" >&2; return 1; }
    sleep 0.5
  done
}

for i in $(seq 1 $N); do
  if [ "$i" = 3 ]; then start "$i" --role stable; else start "$i"; fi
done
# Formation is timed from when every node answers, not from its launch.
for i in $(seq 1 $N); do
  for _ in $(seq 1 600); do coordinator_on "$i" >/dev/null && break; sleep 0.1; done
  coordinator_on "$i" >/dev/null || fail "node n$i does not answer 60 s after its start"
done
t=$(until_all 20 "1 2 3 4 5" 'len(seen) == 5 and set(seen.values()) == {"alive"}') ||
  fail "the mesh did not form"
pass "5 nodes on 5 hosts know each other as alive (${t} s)"
epoch1=$(until_coordinator 10 "1 2 3 4 5" n3) || fail "the nodes do not agree on n3 as coordinator"
pass "every node follows the stable node n3 as coordinator (epoch $epoch1)"

kill -KILL "${MPID[3]}"
epoch2=$(until_coordinator 15 "1 2 4 5" n1) || fail "no new coordinator after n3 died"
[ "$epoch2" -gt "$epoch1" ] || fail "the new coordinator's epoch $epoch2 is not above $epoch1"
pass "coordinator n3 killed: n1 coordinates in epoch $epoch2 > $epoch1"
t=$(until_all 20 "1 2 4 5" 'seen.get("n3") == "dead"') || fail "n3's death was not detected"
pass "n3 killed with SIGKILL: every other node says dead (${t} s)"

kill -TERM "${MPID[5]}"
wait "${MPID[5]}" || fail "n5 did not stop cleanly"
t=$(until_all 20 "1 2 4" 'seen.get("n5") == "left"') || fail "n5's leave was not seen"
pass "n5 stopped with SIGTERM: the others say it left (${t} s)"

start 3 --role stable
t=$(until_all 30 "1 2 3 4" 'all(seen.get(n) == "alive" for n in ("n1", "n2", "n3", "n4"))') ||
  fail "n3 did not come back"
pass "n3 restarted: alive again everywhere (${t} s)"
epoch3=$(until_coordinator 15 "1 2 3 4" n3) || fail "n1 did not hand over to the stable n3"
[ "$epoch3" -gt "$epoch2" ] || fail "the hand-over epoch $epoch3 is not above $epoch2"
pass "n1 handed over to the stable n3 (epoch $epoch3)"

for i in 1 2 3 4; do kill -TERM "${MPID[$i]}"; done
for i in 1 2 3 4; do wait "${MPID[$i]}" || fail "n$i did not stop cleanly"; done
pass "all nodes stopped cleanly"
