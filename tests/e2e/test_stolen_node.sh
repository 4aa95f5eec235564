#!/usr/bin/env bash
# A stolen node credential, against two real nodes (issue 8, point 1): the
# thief holds the token of n3, a node that is invited but not running, and
# speaks the protocol with it (tests/tools/rm_attack.c).  It cannot invent a
# job (no submitter's signature), cannot turn --allow-scripts on in a real
# job's spec (the signature no longer holds), cannot cancel a job or change
# its priority (no order of its submitter or an admin), and no worker obeys
# its ASSIGN, whether it names itself or the real coordinator.  Each refusal is
# answered and logged with the sender.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"
ATTACK="$RM_BUILD_DIR/tests/rm_attack"

mesh_setup 2
mesh_start 1
mesh_start 2
t=$(mesh_wait_members 30 "1 2" 2)
coord=$(mesh_wait_coordinator 15 "1 2")
c=$(mesh_host "${coord% *}")
epoch=${coord#* }
w=$((3 - c))
pass "n1 and n2 alive, n$c coordinates in epoch $epoch"
"$MESHCTL" invite --role node --name n3 >"$T/n3.token" 2>/dev/null
job=$(mesh_submit 1 --frames 1-2)
pass "job $job submitted (signed by the admin's credential)"

attack() { # HOST ARGS...: rm_attack with n3's stolen token against node HOST
  local i=$1
  shift
  netns_exec "$i" "$ATTACK" "$T/n3.token" "$(mesh_addr "$i")" "$@"
}

out=$(attack 1 invent-job 00000000000000f1) || fail "rm_attack invent-job: $out"
case "$out" in *"ERROR EAUTH"*"job 00000000000000f1 carries no submitter credential"*) ;;
*) fail "an invented job was answered: $out" ;; esac
grep -q "jobs: record from n3 refused: .*00000000000000f1 carries no submitter credential" "$T/n1.log" ||
  fail "n1 does not log the refused record with its sender"
mesh_ctl 1 jobs --json | grep -q 00000000000000f1 && fail "n1 lists the invented job"
pass "an invented job is refused: '$out', logged with the sender"

out=$(attack 2 scripts-on "$job" 00000000000000f2) || fail "rm_attack scripts-on: $out"
case "$out" in *"ERROR EAUTH"*"submitter's signature does not match its spec"*) ;;
*) fail "a job with scripts turned on was answered: $out" ;; esac
mesh_ctl 2 jobs --json | grep -q 00000000000000f2 && fail "n2 lists the altered job"
pass "a real job's spec with --allow-scripts turned on is refused: '$out'"

for named in n3 "n$c"; do
  out=$(attack "$w" assign "$job" 1 "$named" "$epoch") || fail "rm_attack assign: $out"
  case "$out" in *"ERROR ESTALE"*"an assignment from n3 naming $named"*) ;;
  *) fail "ASSIGN naming $named was answered: $out" ;; esac
  grep -q "work: refused an assignment from n3 naming $named" "$T/n$w.log" ||
    fail "n$w does not log the refused ASSIGN naming $named"
done
pass "worker n$w refuses ASSIGN from n3, naming itself or the real coordinator n$c"

# The job's record cancelled, or its priority raised, as n3 would spread it:
# without the order of who asked, or with one n3 signed itself.
for what in cancel priority; do
  out=$(attack 1 order "$job" $what unsigned) || fail "rm_attack order $what unsigned: $out"
  case "$out" in *"ERROR EAUTH"*"$what of job $job without the signature of who asked"*) ;;
  *) fail "an unsigned $what was answered: $out" ;; esac
  out=$(attack 2 order "$job" $what own-key) || fail "rm_attack order $what own-key: $out"
  case "$out" in *"ERROR EDENIED"*"$what of job $job by node 'n3': only an admin or the job's submitter may"*) ;;
  *) fail "a $what signed by n3 was answered: $out" ;; esac
done
grep -q "jobs: record from n3 refused: .*cancel of job $job without the signature of who asked" \
  "$T/n1.log" || fail "n1 does not log the refused cancel with its sender"
grep -q "jobs: record from n3 refused: .*priority of job $job by node 'n3'" "$T/n2.log" ||
  fail "n2 does not log the refused priority with its sender"
for i in 1 2; do
  state=$(mesh_ctl "$i" job "$job" --json | /usr/bin/python3 -c \
    'import json,sys; j=json.load(sys.stdin); print(j["state"], j["priority"])')
  [ "$state" = "queued 0" ] || [ "$state" = "rendering 0" ] ||
    fail "n$i: the job is '$state' after the forged orders"
done
pass "a cancel or priority spread by n3, unsigned or signed with its own key, is refused and logged; the job is untouched"
mesh_gate_open "1 2"
mesh_wait_job 60 "$job" "1 2" "j['state'] == 'done'" >/dev/null
pass "the real job still renders to the end"

# The finished frame 1 again, under the name of the node that rendered it,
# with a smaller output hash: its signatures do not hold, so no node takes it.
before=$(mesh_ctl 1 job "$job" --json | /usr/bin/python3 -c \
  'import json,sys; f=[f for f in json.load(sys.stdin)["frames"] if f["frame"]==1][0]; print(f["output"], f["node"])')
for i in 1 2; do
  out=$(attack "$i" replace-frame "$job" 1) || fail "rm_attack replace-frame: $out"
done
for i in 1 2; do
  mesh_until 10 "n$i logs the refused replacement" grep -q \
    "jobs: frames from n3 refused: job $job frame 1 (done, ${before#* }): assignment by '${before#* }': forged signature" \
    "$T/n$i.log" >/dev/null
  after=$(mesh_ctl "$i" job "$job" --json | /usr/bin/python3 -c \
    'import json,sys; f=[f for f in json.load(sys.stdin)["frames"] if f["frame"]==1][0]; print(f["output"], f["node"])')
  [ "$after" = "$before" ] || fail "n$i took the replacement: $before became $after"
done
pass "a replacement of frame 1 in ${before#* }'s name is refused on both nodes, logged with the sender"
