#!/usr/bin/env bash
# Training-speed benchmark: mzoo's population engine against the PyTorch reference on this machine.
# Protocol, FLOP counts and the JSON contract: bench/README.md.
#
# usage: bench/run.sh [--quick] [--configs a,b,c] [--build DIR] [--out DIR]
#                     [--no-build] [--no-torch] [--no-mzoo] [--torch-results FILE]
#   --quick               fewer steps on both sides (for testing the harness; figures are noisier)
#   --configs LIST        subset of fmnist-seed,fmnist-hyp,cifar-cnnl,mnist-vd
#   --build DIR           CMake build directory (default: <repo>/build-bench)
#   --out DIR             where the JSON lines and the table go (default: DIR/bench-results/<time>)
#   --torch-results FILE  reuse a torch.jsonl from an earlier run instead of running PyTorch
# Environment: PYTHON (an interpreter with torch), MZ_BENCH_CORETYPE (OPENBLAS_CORETYPE used for
# the whole run, default SkylakeX: Debian's OpenBLAS does not recognise this CPU otherwise).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$src/build-bench"
out=""
quick=()
configs="fmnist-seed,fmnist-hyp,cifar-cnnl,mnist-vd"
do_build=1 do_torch=1 do_mzoo=1 torch_results=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=(--quick) ;;
    --configs) configs=$2; shift ;;
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --no-build) do_build=0 ;;
    --no-torch) do_torch=0 ;;
    --no-mzoo) do_mzoo=0 ;;
    --torch-results) torch_results=$2; do_torch=0; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
out=${out:-$build/bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
nproc=$(getconf _NPROCESSORS_ONLN)

# The same OpenBLAS kernel choice for sgemm_peak, PyTorch and (if it uses BLAS) mzoo.
export OPENBLAS_CORETYPE=${MZ_BENCH_CORETYPE:-SkylakeX}
export OPENBLAS_NUM_THREADS=1

py=""
for cand in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import torch' >/dev/null 2>&1; then
        py=$cand
        break
    fi
done
pyany=${py:-python3}

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "run.sh: results in $out; load average $(load) on $nproc CPUs" >&2
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN { exit !(l > 0.5) }'; then
    echo "run.sh: WARNING: the machine is busy (load $(load)); the figures will be low" >&2
fi
load >"$out/load_before.txt"

if [ "$do_build" = 1 ]; then
    cmake -S "$src" -B "$build" -DMZOO_BENCH=ON >"$out/cmake.log" 2>&1 ||
        { echo "run.sh: cmake failed, see $out/cmake.log" >&2; exit 1; }
    make -C "$build" -j"$nproc" sgemm_peak >"$out/make.log" 2>&1 ||
        { echo "run.sh: building sgemm_peak failed, see $out/make.log" >&2; exit 1; }
    if [ "$do_mzoo" = 1 ] && [ -f "$src/bench/bench_train.c" ]; then
        make -C "$build" -j"$nproc" bench_train >>"$out/make.log" 2>&1 ||
            echo "run.sh: building bench_train failed (see $out/make.log); mzoo side skipped" >&2
    fi
fi

# 1. the machine's sgemm peak: one core, then every core at once
sg="$build/bench/sgemm_peak"
if [ -x "$sg" ]; then
    echo "run.sh: sgemm peak (1 process, then $nproc)" >&2
    "$sg" --procs 1 --seconds 2 >"$out/sgemm.jsonl"
    [ "$nproc" -gt 1 ] && "$sg" --procs "$nproc" --seconds 2 >>"$out/sgemm.jsonl"
else
    echo "run.sh: no $sg; the peak column will be n/a" >&2
    : >"$out/sgemm.jsonl"
fi

# 2. the PyTorch reference
if [ "$do_torch" = 1 ]; then
    if [ -z "$py" ]; then
        echo "run.sh: no Python with torch found (set PYTHON)" >&2
        exit 1
    fi
    echo "run.sh: PyTorch reference ($py)" >&2
    "$py" "$src/bench/torch_reference.py" "${quick[@]}" --configs "$configs" \
        --procs "$nproc" --openblas-coretype "$OPENBLAS_CORETYPE" >"$out/torch.jsonl"
elif [ -n "$torch_results" ]; then
    cp "$torch_results" "$out/torch.jsonl"
fi

# 3. mzoo's population engine
: >"$out/mzoo.jsonl"
if [ "$do_mzoo" = 1 ]; then
    if [ -x "$build/bench/bench_train" ]; then
        echo "run.sh: mzoo bench_train" >&2
        "$build/bench/bench_train" "${quick[@]}" --configs "$configs" >"$out/mzoo.jsonl" ||
            echo "run.sh: bench_train failed; mzoo columns will be n/a" >&2
    else
        echo "run.sh: no bench_train built; mzoo columns will be n/a" >&2
    fi
fi
load >"$out/load_after.txt"

echo >&2
"$pyany" "$src/bench/compare.py" "$out/sgemm.jsonl" "$out/torch.jsonl" "$out/mzoo.jsonl" |
    tee "$out/table.txt"
echo "load average before: $(cat "$out/load_before.txt"), after: $(cat "$out/load_after.txt")"
