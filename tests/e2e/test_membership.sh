#!/usr/bin/env bash
# Five nodes on five hosts (network namespaces) form a mesh by gossip: all
# learn all from one seed; a node killed with SIGKILL is declared dead by
# every other; a node stopped with SIGTERM is seen to leave; a restarted node
# is alive again for everyone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 0; }

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
  local args=(--home "$T/n$i" --listen "$(addr "$i")")
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

for i in $(seq 1 $N); do start "$i"; done
t=$(until_all 20 "1 2 3 4 5" 'len(seen) == 5 and set(seen.values()) == {"alive"}') ||
  fail "the mesh did not form"
pass "5 nodes on 5 hosts know each other as alive (${t} s)"

kill -KILL "${MPID[3]}"
t=$(until_all 20 "1 2 4 5" 'seen.get("n3") == "dead"') || fail "n3's death was not detected"
pass "n3 killed with SIGKILL: every other node says dead (${t} s)"

kill -TERM "${MPID[5]}"
wait "${MPID[5]}" || fail "n5 did not stop cleanly"
t=$(until_all 20 "1 2 4" 'seen.get("n5") == "left"') || fail "n5's leave was not seen"
pass "n5 stopped with SIGTERM: the others say it left (${t} s)"

start 3
t=$(until_all 30 "1 2 3 4" 'all(seen.get(n) == "alive" for n in ("n1", "n2", "n3", "n4"))') ||
  fail "n3 did not come back"
pass "n3 restarted: alive again everywhere (${t} s)"

for i in 1 2 3 4; do kill -TERM "${MPID[$i]}"; done
for i in 1 2 3 4; do wait "${MPID[$i]}" || fail "n$i did not stop cleanly"; done
pass "all nodes stopped cleanly"
