#!/usr/bin/env bash
# One client cannot fill what the others need (issue 8, point 6).  With n3
# frozen (SIGSTOP: still a member, answering nothing), every CHUNK_GET for a
# chunk nobody has makes n1 ask the members and wait for n3 until its
# transfer times out, holding a waiting entry meanwhile.  An artist's
# credential sends 2,000 such requests at once: n1 lets it hold at most
# RM_NODE_MAX_PER_CLIENT (64) and answers the rest at once, so the admin's
# submission through n1 right after is accepted, not told "busy".
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"
ATTACK="$RM_BUILD_DIR/tests/rm_attack"
FLOOD=2000
PER_CLIENT=64

mesh_setup 3
for i in 1 2 3; do mesh_start "$i"; done
t=$(mesh_wait_members 30 "1 2 3" 3)
pass "3 nodes alive (${t} s)"
"$MESHCTL" invite --role artist --name mallory >"$T/mallory.token" 2>/dev/null

kill -STOP "${MESH_PID[3]}"
out=$(netns_exec 1 "$ATTACK" "$T/mallory.token" "$(mesh_addr 1)" chunk-flood $FLOOD) ||
  fail "rm_attack chunk-flood: $out"
answered=${out%% of *}
[ "$answered" -ge $((FLOOD - PER_CLIENT)) ] ||
  fail "n1 kept $((FLOOD - answered)) of mallory's requests waiting (at most $PER_CLIENT): $out"
pass "2,000 CHUNK_GETs of random hashes with n3 frozen: $out (at most $PER_CLIENT wait)"

job=$(mesh_submit 1 --frames 1)
pass "the admin's submission through n1 right after is accepted: job $job"
kill -CONT "${MESH_PID[3]}"
