#!/usr/bin/env bash
# One command for a new user: install dependencies, build, install mzoo (the command, libmzoo.so.0,
# the headers, mzoo.pc and the Python package), and train the embedded default zoo (16
# Fashion-MNIST CNN-s models, 5 epochs each) into ./fmnist-demo.db, summarise it, and write its
# report (a self-contained HTML page of plots) beside it.
#   MZOO_PREFIX=DIR     install into DIR (default /usr/local as root, else ~/.local)
#   MZOO_WITH_TORCH=1   also install PyTorch (python3-torch) for mzoo.torch and Zoo.module
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
if [ "$(id -u)" = 0 ]; then prefix=${MZOO_PREFIX:-/usr/local}; else prefix=${MZOO_PREFIX:-$HOME/.local}; fi
cmake --install build --prefix "$prefix" >/dev/null
if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi
site=$(cd "$prefix" && ls -d lib/python3*/dist-packages | head -1)
echo "mzoo: installed into $prefix: bin/mzoo, lib/libmzoo.so.0, include/mzoo, lib/pkgconfig/mzoo.pc, $site/mzoo"
if ! (cd / && /usr/bin/python3 -c 'import mzoo' 2>/dev/null); then
    echo "mzoo: for Python, add $prefix/$site to PYTHONPATH (docs/PYTHON.md)"
fi
out=${1:-fmnist-demo.db}
./build/mzoo train --preset fmnist-demo -o "$out"
./build/mzoo info "$out"
report=${out%.db}.html
./build/mzoo report "$out" -o "$report" -q
echo "mzoo: the zoo is in $(pwd)/$out (SQLite; see docs/FORMAT.md to read it from any language,"
echo "      docs/PYTHON.md for /usr/bin/python3 -c 'import mzoo; zoo = mzoo.open(\"$out\")')"
echo "mzoo: its report is in $(pwd)/$report (open it in any browser; docs/REPORT.md explains it)"
