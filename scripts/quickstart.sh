#!/usr/bin/env bash
# One command for a new user: install dependencies, build, and train the embedded default zoo
# (16 Fashion-MNIST CNN-s models, 5 epochs each) into ./fmnist-demo.db, then summarise it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
out=${1:-fmnist-demo.db}
./build/mzoo train --preset fmnist-demo -o "$out"
./build/mzoo info "$out"
echo "mzoo: the zoo is in $(pwd)/$out (SQLite; see docs/FORMAT.md to read it from any language)"
