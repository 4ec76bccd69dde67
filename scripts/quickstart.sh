#!/usr/bin/env bash
# One command for a new user: install dependencies, build, and train the embedded default zoo
# (16 Fashion-MNIST CNN-s models, 5 epochs each) into ./fmnist-demo.db, summarise it, and write
# its report (a self-contained HTML page of plots) beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
out=${1:-fmnist-demo.db}
./build/mzoo train --preset fmnist-demo -o "$out"
./build/mzoo info "$out"
report=${out%.db}.html
./build/mzoo report "$out" -o "$report" -q
echo "mzoo: the zoo is in $(pwd)/$out (SQLite; see docs/FORMAT.md to read it from any language)"
echo "mzoo: its report is in $(pwd)/$report (open it in any browser; docs/REPORT.md explains it)"
