#!/usr/bin/env bash
# End-to-end benchmark: `mzoo train` itself (data loading, epoch-0 evaluation, training, every
# evaluation and commit) against the PyTorch reference protocol training the same models
# (bench/torch_e2e.py: one single-threaded process per core, as the reference's one trial per
# CPU), on real Fashion-MNIST, both in the same run on the whole machine. Prints wall seconds and
# CPU seconds (user + system) of each side and their ratios; on a machine shared with other jobs
# the CPU ratio is the one to trust.
#
# usage: bench/e2e.sh [--build DIR] [--out DIR] [--quick] [CONFIG...]
#   configs: seed32 (32 seeds of one setting), mixed32 (4 activations x dropout 0/0.5 x 2 inits
#            x Adam/SGD), mixed8 (4 activations x Adam/SGD), hyp1024 (the reference's
#            hyperparameter grid shape: 4 activations x dropout 0/0.5 x 4 inits x Adam/SGD x 2 lr
#            x 2 weight decays, seeds 1-4: 1,024 models); default: seed32 mixed32 mixed8
#   --quick  train_subset 1000 and 1 epoch (to check the harness); otherwise 10,000 and 1 epoch
#   --out DIR  where the zoo files and logs go (default: a new directory under /tmp)
# Needs /usr/bin/python3 with python3-torch and numpy, and dataset-fashion-mnist.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$src/build"
out=""
subset=10000
configs=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --quick) subset=1000 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    seed32 | mixed32 | mixed8 | hyp1024) configs+=("$1") ;;
    *) echo "e2e.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#configs[@]} -gt 0 ] || configs=(seed32 mixed32 mixed8)
py=/usr/bin/python3
"$py" -c 'import torch, numpy' 2>/dev/null || { echo "e2e.sh: $py lacks torch or numpy (apt-get install python3-torch python3-numpy)" >&2; exit 1; }
[ -x "$build/mzoo" ] || { echo "e2e.sh: $build/mzoo is missing (build with cmake first)" >&2; exit 1; }
out=${out:-$(mktemp -d /tmp/mzoo-e2e.XXXXXX)}
mkdir -p "$out"
cpus=$(getconf _NPROCESSORS_ONLN)

spec() { # name -> spec JSON
    local grid
    case "$1" in
    seed32) grid='"activation": "tanh", "init": "uniform", "optimizer": "adam", "lr": 0.0003, "seed": {"range": [1, 32]}' ;;
    mixed32) grid='"activation": ["tanh", "relu", "sigmoid", "gelu"], "dropout": [0, 0.5], "init": ["uniform", "kaiming_uniform"], "optimizer": ["adam", "sgd"], "lr": 0.001, "momentum": 0.9, "seed": [1]' ;;
    mixed8) grid='"activation": ["tanh", "relu", "sigmoid", "gelu"], "optimizer": ["adam", "sgd"], "lr": 0.001, "momentum": 0.9, "seed": [1]' ;;
    hyp1024) grid='"activation": ["tanh", "relu", "sigmoid", "gelu"], "dropout": [0, 0.5], "init": ["uniform", "normal", "kaiming_uniform", "kaiming_normal"], "optimizer": ["adam", "sgd"], "lr": [0.001, 0.0001], "weight_decay": [0.001, 0.0001], "momentum": 0.9, "seed": {"range": [1, 4]}' ;;
    esac
    echo "{\"dataset\": \"fashion-mnist\", \"architecture\": \"cnn-s\", \"epochs\": 1, \"batch_size\": 10, \"train_subset\": $subset, \"grid\": {$grid}}"
}

echo "e2e.sh: results in $out; load average $(cut -d' ' -f1-3 /proc/loadavg) on $cpus CPUs" >&2
rows=()
for c in "${configs[@]}"; do
    spec "$c" >"$out/$c.json"
    rm -f "$out/$c.db"
    read -r t_mz c_mz < <( { /usr/bin/time -f "%e %U %S" "$build/mzoo" train "$out/$c.json" -o "$out/$c.db" -j "$cpus" -q 2>&1 >/dev/null; } | tail -1 | awk '{ printf "%.1f %.1f\n", $1, $2 + $3 }')
    n=$("$py" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM models').fetchone()[0])" "$out/$c.db")
    echo "e2e.sh: $c: mzoo $t_mz s; PyTorch..." >&2
    read -r t_py c_py < <("$py" "$src/bench/torch_e2e.py" "$out/$c.db" --procs "$cpus" | "$py" -c 'import json,sys; r = json.load(sys.stdin); print("%.1f %.1f" % (r["seconds"], r["cpu_seconds"]))')
    rows+=("$c $n $t_py $t_mz $c_py $c_mz")
done
printf "\n%-9s %6s | %10s %8s %7s | %10s %8s %7s\n" config models "PyTorch s" "mzoo s" ratio "PyTorch cpu" "mzoo cpu" ratio
for r in "${rows[@]}"; do
    read -r c n tp tm cp cm <<<"$r"
    awk -v c="$c" -v n="$n" -v tp="$tp" -v tm="$tm" -v cp="$cp" -v cm="$cm" 'BEGIN {
        printf "%-9s %6d | %10.1f %8.1f %6.1fx | %10.1f %8.1f %6.1fx\n", c, n, tp, tm, tp / tm, cp, cm, cp / cm }'
done
