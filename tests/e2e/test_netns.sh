#!/usr/bin/env bash
# Self-test of tests/e2e/netns.sh, the multi-host library: 5 hosts, a tiny
# TCP echo server on each, and a reachability matrix checked after every
# change: full mesh; host 3 cut, then healed; partition "1 2" | "3 4 5";
# a partition that leaves hosts out, with a cut inside it; heal_all.  Then
# cleanup on SIGINT, netns_gc after SIGKILL, and a teardown that leaves no
# namespace, bridge or veth behind.  Runs with lib.sh so that the chaining
# of EXIT traps is exercised too.
HERE=$(cd "$(dirname "$0")" && pwd)
# lib.sh wants a build dir for meshd paths; none is needed here.
: "${RM_BUILD_DIR:=$HERE/../../build}"
export RM_BUILD_DIR
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=netns.sh
source "$HERE/netns.sh" # not root: prints "skipped: needs root", exits 77

started=$(date +%s%N)
# pyenv's python3 shim costs ~0.1 s a start; the system one is quicker.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
PORT=7007

cat >"$T/echo.py" <<'PY'
"""server PORT READY_FILE | client ME PORT TIMEOUT NAME=ADDR...
The client tries every target at once and prints "ME>NAME" for each that
echoed its message back within TIMEOUT seconds."""
import signal, socket, sys, threading

def server(port, ready):
    signal.alarm(60)  # bounded even if nobody kills it
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(64)
    open(ready, "w").close()
    def echo(conn):
        with conn:
            conn.settimeout(5)
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        return
                    conn.sendall(data)
            except OSError:
                pass
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()

def client(me, port, timeout, targets):
    ok = []
    def probe(name, addr):
        msg = ("%s>%s ping\n" % (me, name)).encode()
        try:
            with socket.create_connection((addr, port), timeout=timeout) as s:
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    data = s.recv(4096)
                    if not data:
                        break
                    got += data
                if got == msg:
                    ok.append(name)
        except OSError:
            pass
    threads = [threading.Thread(target=probe, args=t.split("=", 1)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 1)
    for name in ok:
        print("%s>%s" % (me, name))

if sys.argv[1] == "server":
    server(int(sys.argv[2]), sys.argv[3])
else:
    client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5:])
PY

N=5
root_links() { ip -o link show type "$1" | awk -F': ' '{ print $2 }' | sort; }
root_veth_before=$(root_links veth)
root_bridge_before=$(root_links bridge)

netns_setup $N
run=$NETNS_RUN
[ "$(ip netns list | awk '{ print $1 }' | grep -c "^rmX-$run-")" = $((N + 1)) ] ||
  fail "expected $((N + 1)) namespaces: $(ip netns list)"
[ "$(root_links veth)" = "$root_veth_before" ] || fail "a veth appeared in the root namespace"
[ "$(root_links bridge)" = "$root_bridge_before" ] || fail "a bridge appeared in the root namespace"
[[ "$(netns_addr 3)" =~ ^10\.231\.[0-9]+\.3$ ]] || fail "netns_addr 3: $(netns_addr 3)"
netns_exec 2 ip -o -4 addr show dev eth0 | grep -q " $(netns_addr 2)/24 " ||
  fail "host 2 lacks its address: $(netns_exec 2 ip -o -4 addr)"
if netns_exec 1 false; then fail "netns_exec hides the command's status"; fi
if netns_exec 9 true 2>/dev/null; then fail "netns_exec accepted host 9"; fi
pass "$N hosts in namespaces rmX-$run-1..$N, nothing added to the root namespace"

for i in $(seq 1 $N); do
  ip netns exec "$(netns_name "$i")" "$PY" "$T/echo.py" server $PORT "$T/ready.$i" &
done
for i in $(seq 1 $N); do
  for _ in $(seq 1 100); do
    [ -f "$T/ready.$i" ] && break
    sleep 0.05
  done
  [ -f "$T/ready.$i" ] || fail "echo server on host $i did not start"
done

# Who reaches whom: "i>j" for every host pair that echoes, and "i>lo" when
# the host's own loopback works; all hosts probe at once.
reach() {
  local i j pids=() targets
  for i in $(seq 1 $N); do
    targets=("lo=127.0.0.1")
    for j in $(seq 1 $N); do
      [ "$j" = "$i" ] || targets+=("$j=$(netns_addr "$j")")
    done
    netns_exec "$i" "$PY" "$T/echo.py" client "$i" $PORT 1.0 "${targets[@]}" >"$T/reach.$i" &
    pids+=($!)
  done
  wait "${pids[@]}"
  cat "$T"/reach.* | sort | tr '\n' ' '
}

# expect GROUP...: hosts in one group reach each other, no one else.
expect() {
  local group i j
  {
    for i in $(seq 1 $N); do echo "$i>lo"; done
    for group in "$@"; do
      for i in $group; do
        for j in $group; do [ "$i" = "$j" ] || echo "$i>$j"; done
      done
    done
  } | sort | tr '\n' ' '
}

check() {
  local what=$1 got want
  shift
  got=$(reach)
  want=$(expect "$@")
  [ "$got" = "$want" ] || fail "$what: reachability
   got: $got
  want: $want"
  pass "$what"
}

check "every host reaches every other" "1 2 3 4 5"
netns_cut 3
check "host 3 cut: it reaches nobody, the others still reach each other" "1 2 4 5"
netns_heal 3
check "host 3 healed" "1 2 3 4 5"
netns_partition "1 2" "3 4 5"
check "partition 1 2 | 3 4 5 blocks exactly the cross-group traffic" "1 2" "3 4 5"
netns_partition "1" "2 3"
netns_cut 5
check "partition 1 | 2 3 leaves 4 5 together; 5 cut on top" "1" "2 3" "4"
netns_heal_all
check "heal_all restores the full mesh" "1 2 3 4 5"

# SIGINT: the EXIT trap must kill what runs in the namespaces and remove them.
bash -c '
  source "$1"
  netns_setup 2
  ip netns exec "$(netns_name 1)" sleep 30 &
  for _ in $(seq 1 100); do
    [ "$(cat /proc/$!/comm 2>/dev/null)" = sleep ] && break
    sleep 0.02
  done
  echo "$NETNS_RUN $!" >"$2"
  kill -INT $$
  sleep 10
' _ "$HERE/netns.sh" "$T/sigint" && fail "the SIGINTed child exited 0" || rc=$?
[ "$rc" = 130 ] || fail "the SIGINTed child exited $rc, not 130"
read -r child_run child_pid <"$T/sigint"
[ -z "$(ip netns list | grep "^rmX-$child_run-" || true)" ] ||
  fail "SIGINT left namespaces: $(ip netns list)"
_netns_alive "$child_pid" && fail "SIGINT left a process running in a namespace"
pass "SIGINT: namespaces and their processes gone"

# SIGKILL: no trap runs; the next netns_gc removes that run, and only it.
# (In a subshell with stderr off: bash would report the "Killed" child.)
{ bash -c '
  source "$1"
  netns_setup 2
  ip netns exec "$(netns_name 2)" sleep 30 &
  for _ in $(seq 1 100); do
    [ "$(cat /proc/$!/comm 2>/dev/null)" = sleep ] && break
    sleep 0.02
  done
  echo "$NETNS_RUN $!" >"$2"
  kill -KILL $$
' _ "$HERE/netns.sh" "$T/sigkill" || true; } 2>/dev/null
read -r child_run child_pid <"$T/sigkill"
[ -n "$(ip netns list | grep "^rmX-$child_run-" || true)" ] || fail "SIGKILL case: nothing to collect"
netns_gc 2>/dev/null
[ -z "$(ip netns list | grep "^rmX-$child_run-" || true)" ] ||
  fail "netns_gc left namespaces: $(ip netns list)"
_netns_alive "$child_pid" && fail "netns_gc left a process running in a namespace"
[ "$(ip netns list | grep -c "^rmX-$run-")" = $((N + 1)) ] || fail "netns_gc removed a live run"
pass "SIGKILL: netns_gc removes the dead run's namespaces and processes, not ours"

# Teardown: every device of ours (by MAC) gone with its namespace.
macs=$(for ns in $(ip netns list | awk '{ print $1 }' | grep "^rmX-$run-"); do
  ip -n "$ns" -o link | grep -o 'link/ether [0-9a-f:]*' | awk '{ print $2 }'
done | sort -u)
# 2 veth ends per host; br0 borrows a port's MAC.
[ "$(echo "$macs" | wc -l)" -ge $((2 * N)) ] || fail "expected >= $((2 * N)) MACs: $macs"
netns_teardown
netns_teardown # idempotent
[ -z "$(ip netns list | grep "^rmX-$run-" || true)" ] || fail "teardown left: $(ip netns list)"
[ "$(root_links veth)" = "$root_veth_before" ] || fail "teardown left a veth: $(root_links veth)"
[ "$(root_links bridge)" = "$root_bridge_before" ] || fail "teardown left a bridge"
for mac in $macs; do
  ip -o link | grep -q "$mac" && fail "device $mac of the test is still there: $(ip -o link | grep "$mac")"
done
[ -z "$(jobs -pr)" ] || fail "echo servers still running: $(jobs -pr)"
[ ! -e "$NETNS_STATE_DIR/$run" ] || fail "teardown left $NETNS_STATE_DIR/$run"
pass "teardown: no namespace, bridge or veth left ($((($(date +%s%N) - started) / 1000000)) ms)"
