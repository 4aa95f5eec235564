#!/usr/bin/env bash
# A client that met a node goes straight to its main socket the next time
# (tools/rm_known: the node's WELCOME kept in known-nodes/), so a crowded
# door delays only first contacts.  A node that no longer takes the direct
# connection (new key; roster lost) is met at the door again, and a
# revoked client still hears why.
source "$(dirname "$0")/lib.sh"

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --blender "$FAKE"
known="$MESH_HOME/known-nodes/tcp___127.0.0.1_$port"
[ -f "$known" ] || fail "no known-nodes entry after the first contact: $(ls -la "$MESH_HOME")"
[ "$(stat -c %a "$known")" = 600 ] || fail "known-nodes entry mode $(stat -c %a "$known")"
door_admissions() { grep -c "door: admitted admin 'tester'" "$T/n1.log" || true; }
[ "$(door_admissions)" = 1 ] || fail "$(door_admissions) door admissions after first contact"
pass "first contact through the door, the node remembered"

# Again: the main socket only.  The door is out of the way (its port
# refuses nothing here, so what proves it is that the node saw no HELLO).
for _ in 1 2 3; do "$MESHCTL" status >/dev/null || fail "status to a known node failed"; done
[ "$(door_admissions)" = 1 ] || fail "a known client went through the door: $(door_admissions) admissions"
pass "three more calls without the door"

# The node comes back with another key (new credential, same address): the
# direct connection fails, the client meets it at the door and remembers
# the new one.
stop_node n1
rm -f "$T/n1/identity.token"
before=$(md5sum <"$known")
start_node n1 "$port" --blender "$FAKE"
"$MESHCTL" status >"$T/status.out" 2>&1 || fail "status after the node's new key: $(cat "$T/status.out")"
[ "$(md5sum <"$known")" != "$before" ] || fail "the client still remembers the old key"
grep -q "main: refused 127.0.0.1: handshake failed" "$T/n1.log" ||
  fail "the node did not log the stale direct connection"
pass "a node with a new key is met at the door again"

# The node forgets its roster (a new home): the main socket refuses the
# client's key, the client goes through the door again.
stop_node n1
rm -f "$T/n1/roster"
n=$(door_admissions)
start_node n1 "$port" --blender "$FAKE" # its wait for the node is the client's first call
"$MESHCTL" status >/dev/null || fail "status after the node lost its roster"
[ "$(door_admissions)" = $((n + 1)) ] ||
  fail "$(door_admissions) door admissions after the roster was lost, $n before"
grep -q "presented no valid credential of this mesh" "$T/n1.log" ||
  fail "the node did not log the refused direct connection"
pass "a node that forgot the client: met at the door again"

# A corrupt entry is ignored (the door is used) and replaced.
printf 'garbage' >"$known"
"$MESHCTL" status >/dev/null || fail "status with a corrupt known-nodes entry"
"$MESHCTL" status >/dev/null || fail "second status after the corrupt entry"
[ "$(wc -c <"$known")" -gt 7 ] || fail "the corrupt entry was not replaced"
pass "a corrupt entry is replaced"

# A revoked client: its direct connection is refused, and the door says why.
"$MESHCTL" invite --role artist --name bob >"$T/bob.token"
MESH_HOME="$T/bob" "$MESHCTL" init --token "$T/bob.token" >/dev/null
MESH_HOME="$T/bob" "$MESHCTL" status >/dev/null || fail "bob's first status"
[ -n "$(ls "$T/bob/known-nodes")" ] || fail "bob remembers no node"
"$MESHCTL" revoke bob >/dev/null || fail "revoke bob"
for _ in $(seq 1 50); do
  MESH_HOME="$T/bob" MESH_TIMEOUT_MS=2000 "$MESHCTL" status >"$T/bob.out" 2>&1 || break
  sleep 0.1
done
grep -q "revoked" "$T/bob.out" || fail "a revoked client was not told why: $(cat "$T/bob.out")"
pass "a revoked client that knew the node: $(head -1 "$T/bob.out")"
stop_node n1
