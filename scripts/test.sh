#!/usr/bin/env bash
# Installs dependencies, builds and runs the whole test suite (ctest), then the sanitizer step:
# an address + undefined-behaviour sanitizer build (build-asan/) running the quick subset, which
# replays every fuzz corpus (tests/fuzz/corpus/). Used by .ci/run.
#
#   MZOO_SKIP_SANITIZE=1 scripts/test.sh   skips the sanitizer step (everyday work)
#   MZOO_ONLY_SANITIZE=1 scripts/test.sh   runs only the sanitizer step
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# PyTorch too, so that ctest's python_torch runs (MZOO_WITH_TORCH=0: it is reported as skipped)
MZOO_WITH_TORCH=${MZOO_WITH_TORCH:-1} bash scripts/deps.sh
if [ "${MZOO_ONLY_SANITIZE:-0}" != 1 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j "$jobs"
  ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600
fi
if [ "${MZOO_SKIP_SANITIZE:-0}" = 1 ]; then
  echo "test.sh: sanitizer step skipped (MZOO_SKIP_SANITIZE=1)"
  exit 0
fi
# -O1 -g: line numbers in reports, and the SIMD kernels compile in seconds (at -O2 under the
# sanitizers they take minutes, at -O2 with a portable -march over ten); no benchmarks. Every UBSan
# finding is fatal; LeakSanitizer runs with ASan. The quick subset only: the slow
# tests train real zoos and take 10-15 minutes each under the sanitizers; "nosan" tests load
# libmzoo into Python or an installed program, where a sanitizer runtime cannot be loaded.
start=$(date +%s)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DMZOO_SANITIZE=address,undefined -DMZOO_BENCH=OFF -DMZOO_INSTALL_PYTHON=OFF >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 900 -L quick -LE nosan
echo "test.sh: sanitizer step (build-asan, ctest -L quick) took $(( $(date +%s) - start )) s"
