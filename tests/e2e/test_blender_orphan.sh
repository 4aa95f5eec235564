#!/usr/bin/env bash
# A real Blender does not outlive its node: meshd killed with SIGKILL while
# a slot's Blender renders, the Blender dies with it (the driver sets
# PR_SET_PDEATHSIG), so no orphan writes into a job that a restarted node
# renders again.  (test_kill_restart.sh covers the job's survival.)
source "$(dirname "$0")/lib.sh"

scene=$(sample_scene)
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --slots 1

# 24 frames: the slot's Blender is kept alive for the whole job.
"$MESHCTL" submit "$scene" --frames 1-24 --samples 64 --resolution 160x90 >/dev/null ||
  fail "submit failed"
for _ in $(seq 1 300); do
  pgrep -f "blender.*$T/n1/" >/dev/null && break
  sleep 0.1
done
pid=$(pgrep -f "blender.*$T/n1/" | head -1) || fail "no Blender started within 30 s"
kill_node n1
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "Blender $pid outlived the SIGKILLed meshd"
pass "meshd killed with SIGKILL: its Blender (pid $pid) died with it"
