#!/usr/bin/env bash
# The data plane's own speed (issue 9): chunking + hashing per core, and
# frames written to S3 (create-only PUTs, as rm_uploads sends them)
# against moto_server with SigV4 checking on loopback, with the CPU this
# side spends per MB.  moto is Python: its MB/s bound the PUT figure, the
# client's CPU per MB is what the mesh pays.
# Usage: bash bench/bench_s3.sh [CHUNK_MIB] [FRAMES] [FRAME_MIB]   # default 1024 40 8
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
chunk_mib=${1:-1024}
frames=${2:-40}
frame_mib=${3:-8}
export RM_BUILD_DIR="$root/build" RM_SOURCE_DIR="$root"
bash "$root/tools/build.sh" "$RM_BUILD_DIR" >/dev/null
tool="$RM_BUILD_DIR/bench/bench_s3_speed"
"$tool" chunk "$chunk_mib"
# The tests' moto set-up (a user with a key, SigV4 checked), then the PUTs.
source "$root/tests/e2e/lib.sh"
source "$root/tests/e2e/s3_lib.sh"
s3_start
s3 create-bucket --bucket frames >/dev/null
"$tool" put frames "$frames" "$frame_mib" sh010/
echo "moto_server's CPU: $(ps -o times= -p "$S3_PID") s"
