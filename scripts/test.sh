#!/usr/bin/env bash
# Installs dependencies, builds and runs the whole test suite (ctest). Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
# PyTorch too, so that ctest's python_torch runs (MZOO_WITH_TORCH=0: it is reported as skipped)
MZOO_WITH_TORCH=${MZOO_WITH_TORCH:-1} bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 600
