#!/usr/bin/env bash
# Names from the network cannot forge log lines or drive a terminal: a job
# named with a newline and escape sequences stays one escaped line in
# meshd's log, the job's log and meshctl's output.  `meshctl job` and
# `jobs --json` say which jobs run the .blend's own Python.
source "$(dirname "$0")/lib.sh"

scene=$(sample_scene)
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
mkdir -p "$T/n1"
echo "allow_scripts = true" >"$T/n1/meshd.conf"
start_node n1 "$port" --slots 1

esc=$'\e'
name=$'shot\nI: (meshd) 26-01-01 00:00:00 forged line '"$esc[2J"
out=$("$MESHCTL" submit "$scene" --frames 1 --name "$name" --allow-scripts --json) ||
  fail "submit: $out"
job=$(echo "$out" | json job_id)
out2=$("$MESHCTL" submit "$scene" --frames 2 --json) || fail "submit: $out2"
job2=$(echo "$out2" | json job_id)
"$MESHCTL" wait "$job" >/dev/null || fail "wait $job"
"$MESHCTL" wait "$job2" >/dev/null || fail "wait $job2"

grep -q "^I: (meshd) 26-01-01" "$T/n1.log" && fail "a job name forged a line in meshd's log"
grep -qF 'shot\nI: (meshd) 26-01-01 00:00:00 forged line \x1b[2J' "$T/n1.log" ||
  fail "meshd's log does not show the name escaped: $(grep -a "shot" "$T/n1.log")"
grep -q "$esc" "$T/n1.log" && fail "an escape character reached meshd's log"
job_log="$T/n1/jobs/$job/job.log"
[ -f "$job_log" ] || fail "no $job_log"
grep -q "^I: (meshd)" "$job_log" && fail "a job name forged a line in the job's log"
grep -q "$esc" "$job_log" && fail "an escape character reached the job's log"
"$MESHCTL" logs "$job" >"$T/joblog.out" || fail "meshctl logs"
grep -q "$esc" "$T/joblog.out" && fail "meshctl logs printed an escape character"
pass "the name stays one escaped line in meshd's log, the job's log and meshctl logs"

"$MESHCTL" job "$job" >"$T/job.out" || fail "meshctl job"
grep -q "$esc" "$T/job.out" && fail "meshctl job printed an escape character"
grep -q "^scripts   allowed" "$T/job.out" || fail "meshctl job does not say scripts run: $(cat "$T/job.out")"
"$MESHCTL" job "$job2" | grep -q "^scripts" && fail "meshctl job says scripts run for $job2"
"$MESHCTL" jobs --json >"$T/jobs.json"
python3 - "$T/jobs.json" "$job" "$job2" "$name" <<'PY' || fail "jobs --json: $(cat "$T/jobs.json")"
import json, sys
jobs = {j["job_id"]: j for j in json.load(open(sys.argv[1]))["jobs"]}
a, b = jobs[sys.argv[2]], jobs[sys.argv[3]]
assert a["allow_scripts"] is True and b["allow_scripts"] is False, (a, b)
assert a["submitter"] == "tester" and a["name"] == sys.argv[4], a
PY
pass "meshctl job and jobs --json show --allow-scripts and the submitter"
stop_node n1
