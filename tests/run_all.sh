#!/usr/bin/env bash
# The README's test command: installs what is missing, builds rendermesh
# three ways and runs every test:
#   build/       normal build, all ctest tests (unit + end-to-end with Blender)
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer, all ctest tests
#   build-fuzz/  clang + libFuzzer, each fuzz target for RM_FUZZ_SECONDS (default 30)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fuzz_seconds=${RM_FUZZ_SECONDS:-30}

bash tools/install_deps.sh

echo "== formatting (.clang-format)"
find protocol storage node tools tests bench -name '*.[ch]' -print0 |
  xargs -0 clang-format --dry-run --Werror

echo "== normal build"
bash tools/build.sh "$root/build"
(cd build && ctest --output-on-failure)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
bash tools/build.sh "$root/build-asan" -DRM_SANITIZE=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure)

echo "== libFuzzer targets, ${fuzz_seconds} s each"
targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
CC=clang cmake -S "$root" -B "$root/build-fuzz" -DRM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# shellcheck disable=SC2086
cmake --build "$root/build-fuzz" -j"$(nproc)" --target $targets
for t in $targets; do
  corpus="$root/build-fuzz/corpus/$t"
  mkdir -p "$corpus"
  seeds="$root/tests/fuzz/corpus/$t"
  [ -d "$seeds" ] || seeds=""
  echo "-- $t"
  "$root/build-fuzz/tests/$t" -max_total_time="$fuzz_seconds" -print_final_stats=0 \
    "$corpus" $seeds 2>&1 | tail -n 3
  echo "$t: no crash in ${fuzz_seconds} s"
done
echo "all test stages passed"
