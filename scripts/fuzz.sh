#!/usr/bin/env bash
# A fuzzing campaign over every target in tests/fuzz/ (libFuzzer, clang, address and
# undefined-behaviour sanitizers). docs/RELIABILITY.md describes it.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#
# Builds build-fuzz/ if needed; each target starts from its committed seeds
# (tests/fuzz/corpus/<target>/) and writes what it finds to build-fuzz/campaign/<target>/
# (new inputs) and build-fuzz/campaign/crash/ (crashing inputs, which then belong in the seed
# corpus as regress-* once fixed). Prints one line per target: runs, coverage, features, corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMZOO_FUZZ=ON \
    -DMZOO_SANITIZE=address,undefined -DMZOO_BENCH=OFF -DMZOO_NATIVE=OFF >/dev/null
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
cmake --build build-fuzz -j 2 --target "${targets[@]/#/fuzz_}" >/dev/null
out=build-fuzz/campaign
mkdir -p "$out/crash"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
printf '%-14s %10s %8s %8s %8s %s\n' target runs exec/s cov ft corpus
for t in "${targets[@]}"; do
  mkdir -p "$out/$t"
  log="$out/$t.log"
  rc=0
  "build-fuzz/fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -artifact_prefix="$out/crash/$t-" -print_final_stats=1 \
    "$out/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  printf '%-14s %10s %8s %8s %8s %s%s\n' "$t" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$([ $rc -ne 0 ] && echo "  FAILED (exit $rc, see $log)")"
done
