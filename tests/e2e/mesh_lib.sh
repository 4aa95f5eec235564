# shellcheck shell=bash
# Shared helpers of the mesh failure tests (tests/e2e/test_mesh_*.sh): N
# meshd nodes, one per host (network namespaces, netns.sh), 1 slot each,
# rendering through tools/fake_blender.py (the real slot <-> driver
# protocol, checked by test_fake_blender.sh) while the test kills, cuts,
# drains or restarts nodes.  Sourced instead of lib.sh and netns.sh (it
# sources both).
#
# The test sets the pace: each node's renderer finishes a frame only when
# the node's gate lets it (RM_FAKE_GATE), so a job is never over before the
# test's action, and a frame being rendered at a kill is never done.  Every
# gate starts closed: frames are assigned and "rendering", none finishes.
#
#   mesh_gate_allow I K          lets K more frames finish on nI (tokens)
#   mesh_gate_open HOSTS         every frame finishes on these hosts (after ~0.1 s)
#   mesh_gate_close HOSTS        frames not yet past the gate wait again
#
#   mesh_setup N                 N hosts, a mesh identity (client in $MESH_HOME)
#   mesh_start I [meshd flags]   meshd on host I as node nI, home $T/nI, log $T/nI.log,
#                                joining host 1 (except host 1); --slots 1 --threads 1
#                                (a node credential; MESH_ROLE[I]=worker for a worker)
#   mesh_ctl I ARGS...           meshctl on host I, talking to nI (bounded by `timeout`)
#   mesh_wait_members S HOSTS N  every host in HOSTS sees N members alive, within S s
#   mesh_coordinator I           "NAME EPOCH" of the coordinator nI follows
#   mesh_wait_coordinator S HOSTS [NOT]  all of HOSTS follow one coordinator (not
#                                the node named NOT): prints "NAME EPOCH"
#   mesh_host NAME               the host number of node NAME (nI -> I)
#   mesh_others HOSTS I...       HOSTS without the hosts I...
#   mesh_names HOSTS             "n1, n3, n4" for "1 3 4"
#   mesh_submit I ARGS...        submits the scene through nI; prints the job id
#   mesh_job I JOB [FIELD]       the job's summary on nI (JSON), or one field of it
#   mesh_wait_job S JOB HOSTS PY every host's view of JOB satisfies PY (a python
#                                expression over `j`, the summary), within S s
#   mesh_rendering I             what nI says it renders now ("" when idle)
#   mesh_wait_rendering S HOSTS  a host of HOSTS whose node renders now: "I JOB:FRAME..."
#   mesh_kill I                  SIGKILL nI's meshd (its Blender dies with it)
#   mesh_term I                  SIGTERM nI's meshd (returns at once)
#   mesh_wait_exit I S           waits up to S s for nI's meshd to exit; its status in
#                                MESH_RC (124 when it did not exit in time); not in $(...)
#   mesh_check_frames I JOB FIRST LAST   fetch through nI into $T/fetch-JOB-nI: exactly
#                                frame_FIRST..LAST, each a PNG
#   mesh_check_agree JOB TOTAL HOSTS     job done with TOTAL frames on every host
#   mesh_done_by JOB             "FRAME NODE" per "frame N done on NODE" line of every
#                                node's job log (what each node says it rendered)
#   mesh_log_has I JOB ERE       nI's job log (meshctl logs) has a line matching ERE
#   mesh_say TEXT                TEXT with the seconds since mesh_setup
#   mesh_keep                    with MESH_KEEP=DIR, copies the node and job logs there
#
# On failure (`fail`) the mesh is described before the exit: every live
# node's view of the members and jobs and each node's job log; lib.sh's
# cleanup then prints the tail of each node's log ($T/nI.log).

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/e2e/netns.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

MESH_PORT=7700
MESH_N=0
MESH_RES=${MESH_RES:-160x90}
MESH_SAMPLES=${MESH_SAMPLES:-64}
# Nodes render with it, and meshctl scans the fake scene with it.
export MESH_BLENDER="$RM_SOURCE_DIR/tools/fake_blender.py"
# Render time of a frame once its gate is open.
export RM_FAKE_FRAME_MS=${RM_FAKE_FRAME_MS:-100}
_MESH_TOKENS=0
declare -A MESH_PID=()
MESH_T0=$SECONDS

mesh_say() {
  echo "[$((SECONDS - MESH_T0))s] $*"
}

mesh_setup() {
  MESH_N=$1
  netns_setup "$MESH_N"
  mesh_init
  MESH_T0=$SECONDS
}

mesh_gate_allow() {
  local i=$1 k=$2 n
  for n in $(seq 1 "$k"); do
    _MESH_TOKENS=$((_MESH_TOKENS + 1))
    : >"$T/gate/n$i/token.$_MESH_TOKENS"
  done
}

mesh_gate_open() {
  local i
  for i in $1; do : >"$T/gate/n$i/open"; done
}

mesh_gate_close() {
  local i
  for i in $1; do rm -f "$T/gate/n$i/open"; done
}

# The scene: the fake never reads it; meshctl checks its magic and ships it.
mesh_scene() {
  [ -f "$T/scene.blend" ] || printf 'BLENDER-v304RENDERHEAD-not-a-real-scene' >"$T/scene.blend"
  echo "$T/scene.blend"
}

mesh_addr() {
  echo "tcp://$(netns_addr "$1"):$MESH_PORT"
}

mesh_start() {
  local i=$1
  shift
  [ -f "$T/n$i/identity.token" ] ||
    "$MESHCTL" invite --role "${MESH_ROLE[$i]:-node}" --name "n$i" >"$T/n$i.token"
  mkdir -p "$T/n$i"
  mkdir -p "$T/gate/n$i"
  # The gate is the test's folder, which a sandboxed Blender cannot write.
  grep -qs "^sandbox = false" "$T/n$i/meshd.conf" || echo "sandbox = false" >>"$T/n$i/meshd.conf"
  local args=(--home "$T/n$i" --listen "$(mesh_addr "$i")" --slots 1 --threads 1
    --blender "$MESH_BLENDER")
  [ -f "$T/n$i/identity.token" ] || args+=(--token "$T/n$i.token")
  [ "$i" != 1 ] && args+=(--join "$(mesh_addr 1)")
  echo "==== $(date +%T) start n$i" >>"$T/n$i.log"
  # env execs meshd: $! stays the daemon's pid.
  ip netns exec "$(netns_name "$i")" env RM_FAKE_GATE="$T/gate/n$i" \
    "$MESHD" "${args[@]}" "$@" >>"$T/n$i.log" 2>&1 &
  MESH_PID[$i]=$!
}

# mesh_artists NAME...: an artist's invitation for each, set up in $T/NAME
# (use it with MESH_HOME="$T/NAME").
mesh_artists() {
  local who
  for who in "$@"; do
    "$MESHCTL" invite --role artist --name "$who" >"$T/$who.token" 2>/dev/null
    MESH_HOME="$T/$who" "$MESHCTL" init --token "$T/$who.token" >/dev/null || fail "init $who"
  done
}

# meshctl on host I.  MESH_CTL_TIMEOUT_MS bounds each wait for the node.
mesh_ctl() {
  local i=$1
  shift
  netns_exec "$i" env MESH_HOME="$MESH_HOME" MESH_TIMEOUT_MS="${MESH_CTL_TIMEOUT_MS:-3000}" \
    timeout "${MESH_CTL_LIMIT:-60}" "$MESHCTL" --mesh "$(mesh_addr "$i")" "$@"
}

# mesh_as WHO I ARGS...: meshctl on host I with the credential in $T/WHO
# (a client invited into that home: an artist, an admin).
mesh_as() {
  local who=$1
  shift
  MESH_HOME="$T/$who" mesh_ctl "$@"
}

# mesh_py CODE ARGS...: python with the JSON on stdin as `d`.
mesh_py() {
  local code=$1
  shift
  python3 -c "import json, sys
d = json.load(sys.stdin)
$code" "$@"
}

# "name state" of every member, as host I sees them.
mesh_members() {
  mesh_ctl "$1" nodes --json 2>/dev/null |
    mesh_py 'for n in d["nodes"]: print(n["name"], n["state"])' 2>/dev/null
}

# mesh_until S WHAT CMD...: runs CMD every 0.5 s until it succeeds, at most
# S seconds; prints the seconds it took, or fails the test naming WHAT.
mesh_until() {
  local limit=$1 what=$2 start_s=$SECONDS
  shift 2
  until "$@"; do
    [ $((SECONDS - start_s)) -lt "$limit" ] || fail "$what: not within $limit s"
    sleep 0.5
  done
  echo $((SECONDS - start_s))
}

_mesh_members_ok() { # HOSTS N
  local i
  for i in $1; do
    [ "$(mesh_members "$i" | awk '$2 == "alive"' | wc -l)" -ge "$2" ] || return 1
  done
}

mesh_wait_members() {
  mesh_until "$1" "hosts $2 seeing $3 members alive" _mesh_members_ok "$2" "$3"
}

mesh_coordinator() {
  mesh_ctl "$1" status --json 2>/dev/null |
    mesh_py 'print(d["coordinator"], d["epoch"]) if d["coordinator"] else sys.exit(1)' 2>/dev/null
}

_mesh_coord_ok() { # HOSTS [NOT_NAME]
  local i
  : >"$T/coord"
  for i in $1; do mesh_coordinator "$i" >>"$T/coord" || return 1; done
  [ "$(sort -u "$T/coord" | wc -l)" = 1 ] && [ "$(cut -d' ' -f1 "$T/coord" | head -1)" != "${2:-}" ]
}

mesh_wait_coordinator() {
  mesh_until "$1" "hosts $2 agreeing on a coordinator${3:+ other than $3}" \
    _mesh_coord_ok "$2" "${3:-}" >/dev/null
  head -1 "$T/coord"
}

# The host number of node NAME (nI).
mesh_host() {
  echo "${1#n}"
}

# mesh_others HOSTS I...: HOSTS without the given hosts.
mesh_others() {
  local hosts=$1 i x keep
  shift
  for i in $hosts; do
    keep=1
    for x in "$@"; do [ "$i" = "$x" ] && keep=0; done
    [ $keep = 1 ] && printf '%s ' "$i"
  done
  echo
}

# "n1, n3, n4" for the hosts "1 3 4".
mesh_names() {
  local i out=""
  for i in $1; do out+="${out:+, }n$i"; done
  echo "$out"
}

mesh_submit() {
  local i=$1 scene out
  shift
  scene=$(mesh_scene)
  # The node acknowledges once a second node holds the job: allow time.
  out=$(MESH_CTL_TIMEOUT_MS=20000 mesh_ctl "$i" submit "$scene" --resolution "$MESH_RES" \
    --samples "$MESH_SAMPLES" --chunk 1 --json "$@") || fail "submit through n$i failed: $out"
  echo "$out" | json job_id
}

mesh_job() {
  local i=$1 job=$2 field=${3:-}
  mesh_ctl "$i" jobs --json 2>/dev/null | mesh_py '
j = [x for x in d["jobs"] if x["job_id"] == sys.argv[1]]
if not j: sys.exit(1)
print(j[0][sys.argv[2]] if sys.argv[2] else json.dumps(j[0]))' "$job" "$field"
}

_mesh_job_ok() { # JOB HOSTS PY
  local i
  for i in $2; do
    mesh_job "$i" "$1" >"$T/job.$i" 2>/dev/null || return 1
    python3 -c "import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if ($3) else 1)" "$T/job.$i" || return 1
  done
}

mesh_wait_job() {
  mesh_until "$1" "job $2 on hosts $3: $4" _mesh_job_ok "$2" "$3" "$4"
}

# What nI says it renders (its own record is fresh; others' are gossiped).
mesh_rendering() {
  mesh_ctl "$1" nodes --json 2>/dev/null |
    mesh_py '
for n in d["nodes"]:
    if n["name"] == sys.argv[1]: print(n["rendering"])' "n$1" 2>/dev/null
}

_mesh_rendering_ok() { # HOSTS
  local i r
  for i in $1; do
    r=$(mesh_rendering "$i") || r=""
    if [ -n "$r" ]; then
      echo "$i $r" >"$T/rendering"
      return 0
    fi
  done
  return 1
}

# True when no host renders a frame of JOB (each host's own, live record).
_mesh_none_rendering() { # JOB HOSTS
  local i
  for i in $2; do
    mesh_ctl "$i" nodes --json 2>/dev/null | mesh_py '
sys.exit(1 if any(sys.argv[1] in n["rendering"] for n in d["nodes"]
                  if n["name"] == sys.argv[2]) else 0)' "$1" "n$i" || return 1
  done
}

mesh_wait_none_rendering() {
  mesh_until "$1" "no node renders job $2" _mesh_none_rendering "$2" "$3"
}

mesh_wait_rendering() {
  mesh_until "$1" "one of hosts $2 rendering" _mesh_rendering_ok "$2" >/dev/null
  cat "$T/rendering"
}

mesh_kill() {
  kill -KILL "${MESH_PID[$1]}"
  wait "${MESH_PID[$1]}" 2>/dev/null || true
  unset "MESH_PID[$1]"
  echo "==== $(date +%T) killed n$1 (SIGKILL)" >>"$T/n$1.log"
}

mesh_term() {
  echo "==== $(date +%T) SIGTERM to n$1" >>"$T/n$1.log"
  kill -TERM "${MESH_PID[$1]}"
}

_mesh_proc_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

mesh_wait_exit() {
  local i=$1 limit=$2 pid=${MESH_PID[$1]} deadline
  deadline=$((SECONDS + limit))
  MESH_RC=0
  while _mesh_proc_alive "$pid"; do
    if [ $SECONDS -ge "$deadline" ]; then
      MESH_RC=124
      return 0
    fi
    sleep 0.2
  done
  wait "$pid" || MESH_RC=$?
  unset "MESH_PID[$i]"
  echo "==== $(date +%T) n$i exited with status $MESH_RC" >>"$T/n$i.log"
}

# Fetches JOB through nI into $T/fetch-JOB-nI: every frame FIRST..LAST exactly
# once (no other file), each a PNG.
mesh_check_frames() {
  local i=$1 job=$2 first=$3 last=$4 dir="$T/fetch-$2-n$1" out f
  rm -rf "$dir"
  out=$(MESH_CTL_TIMEOUT_MS=10000 mesh_ctl "$i" fetch "$job" "$dir" --json) ||
    fail "fetch of $job through n$i failed: $out"
  local n=$((last - first + 1))
  [ "$(echo "$out" | json not_done)" = 0 ] || fail "fetch through n$i: frames not done: $out"
  [ "$(echo "$out" | json fetched)" = "$n" ] || fail "fetch through n$i: expected $n frames: $out"
  seq -f 'frame_%04g.png' "$first" "$last" >"$T/expected"
  (cd "$dir" && find . -mindepth 1 -printf '%P\n' | sort) >"$T/got"
  diff "$T/expected" "$T/got" >"$T/diff" ||
    fail "fetched files differ from frame_$first..$last (< missing, > extra): $(cat "$T/diff")"
  for f in "$dir"/*; do
    is_png "$f" || fail "$f is not a PNG"
  done
}

mesh_check_agree() {
  local job=$1 total=$2 hosts=$3 i
  for i in $hosts; do
    mesh_job "$i" "$job" >"$T/agree.$i" || fail "n$i does not know job $job"
    python3 -c "import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if j['state'] == 'done' and j['frames_done'] == int(sys.argv[2]) else 1)" \
      "$T/agree.$i" "$total" || fail "n$i sees job $job as $(cat "$T/agree.$i")"
  done
  # meshctl reports who rendered each frame: every frame once, done, by a node.
  i=${hosts%% *}
  mesh_ctl "$i" job "$job" --json >"$T/frames.$i" || fail "meshctl job $job on n$i failed"
  python3 -c "import json, sys
j = json.load(open(sys.argv[1]))
f = j['frames']
ok = len(f) == int(sys.argv[2]) and len({x['frame'] for x in f}) == len(f) and \
     all(x['state'] == 'done' and x['node'] for x in f) and \
     sum(n['frames'] for n in j['nodes']) == len(f)
print('meshctl job: ' + ', '.join('%s %d' % (n['node'], n['frames']) for n in j['nodes']))
sys.exit(0 if ok else 1)" "$T/frames.$i" "$total" || fail "meshctl job $job on n$i: $(cat "$T/frames.$i")"
}

mesh_done_by() {
  local job=$1 log
  for log in "$T"/n*/jobs/"$job"/job.log; do
    [ -f "$log" ] || continue
    sed -nE 's/.* frame ([0-9]+) done on ([^ ]+) .*/\1 \2/p' "$log"
  done | sort -n -u
}

# A line "frames by node: n1=5 n2=4 ..." from mesh_done_by.
mesh_by_node() {
  mesh_done_by "$1" | awk '{ c[$2]++ } END { for (n in c) printf "%s=%d ", n, c[n] }' |
    tr ' ' '\n' | sort | tr '\n' ' '
}

mesh_log_has() {
  local i=$1 job=$2 ere=$3
  mesh_ctl "$i" logs "$job" >"$T/joblog.$i" 2>&1 || return 1
  grep -Eq "$ere" "$T/joblog.$i"
}

# Every live node's view, and each node's job logs, for the failure report.
mesh_dump() {
  local i log
  echo "---- mesh state at $(date +%T) ($((SECONDS - MESH_T0)) s into the test)"
  for i in $(seq 1 "$MESH_N"); do
    [ -n "${MESH_PID[$i]:-}" ] || continue
    echo "-- n$i: status, nodes, jobs"
    MESH_CTL_TIMEOUT_MS=1000 MESH_CTL_LIMIT=5 mesh_ctl "$i" status 2>&1 | sed -n 2p || true
    MESH_CTL_TIMEOUT_MS=1000 MESH_CTL_LIMIT=5 mesh_ctl "$i" nodes 2>&1 || true
    MESH_CTL_TIMEOUT_MS=1000 MESH_CTL_LIMIT=5 mesh_ctl "$i" jobs 2>&1 || true
  done
  for log in "$T"/n*/jobs/*/job.log; do
    [ -f "$log" ] && { echo "-- ${log#"$T"/} (tail)"; tail -n 30 "$log"; }
  done
  # The node logs without the line each meshctl call adds.
  for log in "$T"/n*.log; do
    [ -f "$log" ] || continue
    echo "-- ${log#"$T"/} (tail, without 'admitted client')"
    grep -v "door: admitted client" "$log" | tail -n 40
  done
}

# MESH_KEEP=DIR keeps the node logs and homes' job logs of the run in DIR
# (the test's own files go with $T otherwise).
mesh_keep() {
  [ -n "${MESH_KEEP:-}" ] || return 0
  mkdir -p "$MESH_KEEP"
  cp "$T"/n*.log "$MESH_KEEP/" 2>/dev/null || true
  local log n
  for log in "$T"/n*/jobs/*/job.log; do
    [ -f "$log" ] || continue
    n=${log#"$T"/}
    cp "$log" "$MESH_KEEP/${n%%/*}.job.log"
  done
}

fail() {
  echo "FAIL: $*" >&2
  if [ "$MESH_N" -gt 0 ] && [ -z "${_MESH_FAILING:-}" ]; then
    _MESH_FAILING=1
    mesh_dump >&2 || true
    mesh_keep
  fi
  exit 1
}
