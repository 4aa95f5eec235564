# shellcheck shell=bash
# Several "hosts" on one machine for multi-node tests: each host is a Linux
# network namespace with one veth link to a switch (a Linux bridge) that
# lives in a namespace of its own, the hub.  Sourced by tests/e2e/test_*.sh,
# after lib.sh if both are used (see "Traps" below).
#
#   netns_setup N            N hosts (1..250); registers netns_teardown on EXIT
#   netns_exec I CMD...      runs CMD on host I (ip netns exec)
#   netns_name I             host I's namespace name, for `ip netns exec "$(netns_name I)" meshd ... &`
#                            when $! must be the daemon itself (ip execs it, the pid stays)
#   netns_addr I             host I's IPv4 address (10.231.R.I, /24)
#   netns_cut I / netns_heal I       host I's switch port down / up: it reaches
#                            nobody and nobody reaches it (packets vanish, as with a
#                            pulled cable: connects time out, nothing is refused)
#   netns_partition "1 2" "3 4 5" ...  each group on a switch of its own: traffic
#                            flows within a group, never between groups; hosts named in
#                            no group stay together on the main switch
#   netns_heal_all           one switch again and every port up (undoes cuts too)
#   netns_teardown           kills what runs in this run's namespaces, deletes them;
#                            idempotent
#   netns_gc                 removes what runs killed with SIGKILL left behind
#                            (netns_setup calls it)
#
# Why namespaces only: the workplace allows test traffic only on loopback or
# inside namespaces the test created, so nothing here touches the root
# namespace: the veth pairs are created directly inside the hub and host
# namespaces and the bridge lives in the hub.  Names are rmX-<run>-<i> and
# rmX-<run>-hub with a random <run>, so parallel runs never collide; the
# third octet R of 10.231.R.0/24 is drawn per run too, only to make logs
# unambiguous (every run has its own isolated stack, so addresses could not
# clash anyway).
#
# Why partitions use bridges: `tc netem` is missing here, and so are nft,
# iptables and ebtables (no extra package wanted).  Moving a host's switch
# port to another bridge needs only iproute2, cuts exactly the traffic
# between groups (ARP included), and is undone by moving it back.
#
# Traps: netns_setup chains its teardown in front of an existing EXIT trap
# (lib.sh's cleanup keeps its exit status), and makes SIGINT/SIGTERM/SIGHUP
# exit through the EXIT trap when nothing else traps them.  A trap on EXIT
# set after netns_setup replaces the teardown: set yours first.
#
# Needs root: sourced by a non-root user it prints "skipped: needs root" and
# exits 77, which ctest reports as skipped (so does netns_setup when root may
# not create namespaces).

set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root"
  exit 77
fi
if ! command -v ip >/dev/null 2>&1; then
  echo "skipped: needs ip (iproute2)"
  exit 77
fi

NETNS_PREFIX=rmX
# Who owns which run, for netns_gc: one file per live run, "PID STARTTIME".
NETNS_STATE_DIR=${NETNS_STATE_DIR:-/run/rmX-netns}
NETNS_RUN=""    # this run's random id; "" = no hosts
NETNS_N=0       # number of hosts
NETNS_NET=""    # "10.231.R"
_NETNS_OWNER="" # the shell that ran netns_setup: subshells never tear down
_NETNS_PREV_EXIT=""
_NETNS_GROUPS=0 # partition bridges in the hub (brp1..)

_netns_err() {
  echo "netns: $*" >&2
  return 1
}

_netns_ns() { echo "$NETNS_PREFIX-$1-$2"; }
_netns_hub() { _netns_ns "$NETNS_RUN" hub; }

# The owner's identity: a pid alone could be reused after a crash.
_netns_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # the command name may contain spaces
  # shellcheck disable=SC2086 # word splitting is the point
  set -- $stat
  echo "${20}"
}

_netns_check_host() {
  [ -n "$NETNS_RUN" ] || _netns_err "no hosts: call netns_setup first" || return 1
  case "${1:-}" in
  '' | *[!0-9]*) _netns_err "bad host number '${1:-}'" || return 1 ;;
  esac
  if [ "$1" -lt 1 ] || [ "$1" -gt "$NETNS_N" ]; then
    _netns_err "no host $1 (hosts 1..$NETNS_N)"
  fi
}

netns_name() {
  _netns_check_host "${1:-}" || return 1
  _netns_ns "$NETNS_RUN" "$1"
}

netns_addr() {
  _netns_check_host "${1:-}" || return 1
  echo "$NETNS_NET.$1"
}

netns_exec() {
  _netns_check_host "${1:-}" || return 1
  local ns
  ns=$(_netns_ns "$NETNS_RUN" "$1")
  shift
  ip netns exec "$ns" "$@"
}

# Namespaces of one run, however far its setup got.
_netns_list_run() {
  ip netns list 2>/dev/null | awk -v p="$NETNS_PREFIX-$1-" 'index($1, p) == 1 { print $1 }'
}

# A zombie is dead for us: its parent (possibly a killed test's reaper)
# collects it whenever it does.
_netns_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# Kills every process in the run's namespaces (all started by that run's
# test), then deletes the namespaces; their veths and bridges go with them.
_netns_destroy_run() {
  local run=$1 ns pid pids=() i
  local -a spaces
  mapfile -t spaces < <(_netns_list_run "$run")
  for ns in "${spaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      pids+=("$pid")
    done
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for i in $(seq 1 20); do # up to 1 s to exit cleanly
      local alive=()
      for pid in "${pids[@]}"; do
        _netns_alive "$pid" && alive+=("$pid")
      done
      [ ${#alive[@]} -eq 0 ] && break
      [ "$i" -eq 20 ] && kill -KILL "${alive[@]}" 2>/dev/null
      sleep 0.05
    done
  fi
  for ns in "${spaces[@]}"; do
    ip netns delete "$ns" 2>/dev/null || true
  done
  # The state file goes last: a namespace without one is known to be stale.
  rm -f "$NETNS_STATE_DIR/$run"
}

netns_teardown() {
  if [ -n "$NETNS_RUN" ] && [ "${BASHPID:-$$}" = "$_NETNS_OWNER" ]; then
    _netns_destroy_run "$NETNS_RUN"
    NETNS_RUN="" NETNS_N=0 NETNS_NET="" _NETNS_GROUPS=0
  fi
  return 0
}

# Runs whose owner is gone (killed with SIGKILL, machine crash): their
# namespaces would otherwise stay until reboot.
netns_gc() {
  local run owner pid start ns
  declare -A seen=()
  for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
    case "$ns" in "$NETNS_PREFIX"-*-*) ;; *) continue ;; esac
    run=${ns#"$NETNS_PREFIX"-}
    run=${run%-*}
    [ -n "${seen[$run]:-}" ] && continue
    seen[$run]=1
    [ "$run" = "$NETNS_RUN" ] && continue
    owner=$(cat "$NETNS_STATE_DIR/$run" 2>/dev/null) || owner=""
    pid=${owner%% *} start=${owner#* }
    if [ -z "$owner" ] || [ "$(_netns_starttime "$pid" || true)" != "$start" ]; then
      echo "netns: removing stale run $run" >&2
      _netns_destroy_run "$run"
    fi
  done
}

_netns_on_exit() {
  local rc=$?
  set +e # a cleanup must run to the end
  netns_teardown
  if [ -n "$_NETNS_PREV_EXIT" ]; then
    # The previous handler (lib.sh's cleanup) reads $? first: give it ours.
    _netns_status "$rc"
    eval "$_NETNS_PREV_EXIT"
  fi
  exit "$rc"
}
_netns_status() { return "$1"; }

_netns_traps() {
  local prev sig code
  prev=$(trap -p EXIT)
  if [ -n "$prev" ] && [[ "$prev" != *_netns_on_exit* ]]; then
    # "trap -- 'CMD' EXIT": eval the quoted word back into CMD.
    prev=${prev#trap -- }
    prev=${prev% EXIT}
    eval "_NETNS_PREV_EXIT=$prev"
  fi
  trap _netns_on_exit EXIT
  for sig in INT:130 TERM:143 HUP:129; do
    code=${sig#*:} sig=${sig%:*}
    # shellcheck disable=SC2064 # the code is fixed now, on purpose
    [ -z "$(trap -p "$sig")" ] && trap "exit $code" "$sig"
  done
  return 0
}

netns_setup() {
  local n=${1:-}
  case "$n" in '' | *[!0-9]*) _netns_err "usage: netns_setup N" || return 1 ;; esac
  if [ "$n" -lt 1 ] || [ "$n" -gt 250 ]; then
    _netns_err "netns_setup: 1..250 hosts" || return 1
  fi
  [ -z "$NETNS_RUN" ] || _netns_err "netns_setup: already set up (run $NETNS_RUN)" || return 1
  netns_gc
  mkdir -p "$NETNS_STATE_DIR"
  local run i
  for i in 1 2 3 4 5 6 7 8; do
    run=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
    [ -z "$(_netns_list_run "$run")" ] && [ ! -e "$NETNS_STATE_DIR/$run" ] && break
  done
  # Not in a pipeline: $BASHPID there would be the pipeline's subshell.
  local me=${BASHPID:-$$} start
  start=$(_netns_starttime "$me")
  echo "$me $start" >"$NETNS_STATE_DIR/$run"
  NETNS_RUN=$run NETNS_N=$n _NETNS_OWNER=$me _NETNS_GROUPS=0
  NETNS_NET="10.231.$((0x${run:0:2} % 254 + 1))"
  _netns_traps

  local hub err
  hub=$(_netns_hub)
  if ! err=$(ip netns add "$hub" 2>&1); then
    netns_teardown
    if [[ "$err" == *"ermission"* || "$err" == *"not permitted"* ]]; then
      echo "skipped: cannot create network namespaces here ($err)"
      exit 77
    fi
    _netns_err "ip netns add: $err" || return 1
  fi
  # Batches: one `ip` for many commands keeps setup fast with many hosts.
  {
    for i in $(seq 1 "$n"); do
      echo "netns add $(_netns_ns "$run" "$i")"
      # Both ends born inside their namespaces: nothing appears in ours.
      echo "link add eth0 netns $(_netns_ns "$run" "$i") type veth peer name p$i netns $hub"
    done
  } | ip -batch - || { netns_teardown; _netns_err "cannot create the hosts" || return 1; }
  {
    echo "link add br0 type bridge"
    echo "link set br0 up"
    for i in $(seq 1 "$n"); do
      echo "link set p$i master br0"
      echo "link set p$i up"
    done
  } | ip -n "$hub" -batch - || { netns_teardown; _netns_err "cannot build the switch" || return 1; }
  for i in $(seq 1 "$n"); do
    printf 'link set lo up\naddr add %s.%s/24 dev eth0\nlink set eth0 up\n' "$NETNS_NET" "$i" |
      ip -n "$(_netns_ns "$run" "$i")" -batch - ||
      { netns_teardown; _netns_err "cannot configure host $i" || return 1; }
  done
  # shellcheck disable=SC2046 # numbers only
  _netns_wait_up $(seq 1 "$n")
}

# Until the given hosts' links carry traffic: link state changes reach the
# device queues asynchronously (linkwatch), and the first packets after an
# up could otherwise be dropped.  Bounded: 2 s, then it goes on regardless.
_netns_wait_up() {
  local i ns deadline=$((SECONDS + 2))
  for i in "$@"; do
    ns=$(_netns_ns "$NETNS_RUN" "$i")
    until ip -n "$ns" -o link show eth0 2>/dev/null | grep -q "state UP"; do
      [ $SECONDS -ge $deadline ] && { echo "netns: host $i's link is not up yet" >&2 && break; }
      sleep 0.02
    done
  done
}

netns_cut() {
  _netns_check_host "${1:-}" || return 1
  ip -n "$(_netns_hub)" link set "p$1" down
}

netns_heal() {
  _netns_check_host "${1:-}" || return 1
  ip -n "$(_netns_hub)" link set "p$1" up
  _netns_wait_up "$1"
}

# Every port back on br0 (cut ports stay cut) and the group bridges gone.
_netns_join_all() {
  local i k
  {
    for i in $(seq 1 "$NETNS_N"); do echo "link set p$i master br0"; done
    for k in $(seq 1 "$_NETNS_GROUPS"); do echo "link delete brp$k"; done
  } | ip -n "$(_netns_hub)" -batch - || return 1
  _NETNS_GROUPS=0
}

netns_partition() {
  [ $# -ge 1 ] || _netns_err 'usage: netns_partition "1 2" "3 4 5" ...' || return 1
  [ -n "$NETNS_RUN" ] || _netns_err "no hosts: call netns_setup first" || return 1
  local group i k=0 cmds=""
  declare -A taken=()
  for group in "$@"; do
    k=$((k + 1))
    [ -n "${group// /}" ] || _netns_err "netns_partition: group $k is empty" || return 1
    cmds+=$'link add brp'$k$' type bridge\nlink set brp'$k$' up\n'
    for i in $group; do
      _netns_check_host "$i" || return 1
      [ -z "${taken[$i]:-}" ] || _netns_err "netns_partition: host $i in two groups" || return 1
      taken[$i]=1
      cmds+="link set p$i master brp$k"$'\n'
    done
  done
  _netns_join_all || return 1
  printf '%s' "$cmds" | ip -n "$(_netns_hub)" -batch - || return 1
  _NETNS_GROUPS=$k
}

netns_heal_all() {
  [ -n "$NETNS_RUN" ] || _netns_err "no hosts: call netns_setup first" || return 1
  _netns_join_all || return 1
  local hub cut i
  hub=$(_netns_hub)
  # The cut ports (administratively down), so that only they are waited for.
  cut=$(ip -n "$hub" -o link show | awk -F': ' '$2 ~ /^p[0-9]+@/ && $3 !~ /^<([^>]*,)?UP[,>]/ {
    sub(/@.*/, "", $2); print substr($2, 2) }')
  [ -n "$cut" ] || return 0
  for i in $cut; do echo "link set p$i up"; done | ip -n "$hub" -batch - || return 1
  # shellcheck disable=SC2086 # numbers only
  _netns_wait_up $cut
}
