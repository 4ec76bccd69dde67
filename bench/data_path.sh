#!/usr/bin/env bash
# Data-path benchmark: how fast checkpoints come out of a large zoo file, against Python's own
# sqlite3 + numpy.frombuffer reading the same blobs in the same run (the anchor).
#
# usage: bench/data_path.sh [--build DIR] [--dir DIR] [--models N] [--epochs N]
#   --build DIR   CMake build directory with mzoo and bench/ (default: <repo>/build)
#   --dir DIR     where the synthetic zoo is written and kept (default: DIR/bench-data); the
#                 dataset output goes to a fresh directory under /dev/shm (a tmpfs) when there is
#                 one, so that the disk is not what is measured
#   --models N, --epochs N   the zoo's size (default 2560 x 24 = 61,440 CNN-s checkpoints, 606 MB
#                 of weights, 657 MB of file)
# The zoo is made once by bench_writer (synthetic CNN-s checkpoints through the store API) and
# reused while its size matches. Each reader runs after the file has been read once (warm page
# cache). Prints seconds and MB/s of checkpoint bytes for: the Python anchor, the C loader's
# selection and streaming (bench_loader), `mzoo dataset` writing dataset.npz, and cp copying
# that dataset.npz (what the file system itself takes to write the same bytes).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$src/build"
dir=""
models=2560 epochs=24
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift ;;
    --dir) dir=$2; shift ;;
    --models) models=$2; shift ;;
    --epochs) epochs=$2; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "data_path.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
dir=${dir:-$build/bench-data}
py=/usr/bin/python3 # Debian's interpreter, where python3-numpy installs
for x in "$build/mzoo" "$build/bench/bench_writer" "$build/bench/bench_loader"; do
    [ -x "$x" ] || { echo "data_path.sh: $x is missing (build with cmake first)" >&2; exit 1; }
done
"$py" -c 'import numpy' 2>/dev/null || { echo "data_path.sh: $py has no numpy (apt-get install python3-numpy)" >&2; exit 1; }
mkdir -p "$dir"
zoo="$dir/bench_writer.db"
want=$((models * epochs))
have=$([ -f "$zoo" ] && "$py" -c "import sqlite3,sys; print(sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True).execute('select count(*) from epochs').fetchone()[0])" "$zoo" 2>/dev/null || echo 0)
if [ "$have" != "$want" ]; then
    echo "data_path.sh: writing a zoo of $models x $epochs synthetic CNN-s checkpoints to $zoo" >&2
    MZ_KEEP=1 "$build/bench/bench_writer" "$dir" "$models" "$epochs" >&2
fi
echo "data_path.sh: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) CPUs" >&2
cat "$zoo" >/dev/null # warm the page cache

# the anchor: every weights blob through Python's sqlite3 into numpy
anchor=$("$py" - "$zoo" <<'EOF'
import sqlite3, sys, time
import numpy as np
t = time.perf_counter()
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
n = 0
s = 0.0
for (b,) in c.execute("SELECT weights FROM epochs ORDER BY model_id, epoch"):
    a = np.frombuffer(b, dtype=np.float32)
    s += float(a[0])
    n += a.nbytes
print(f"{time.perf_counter() - t:.3f} {n / 1e6:.1f}")
EOF
)
read -r t_py mb <<<"$anchor"

loader=$("$build/bench/bench_loader" "$zoo")
t_open=$(awk '/^  open/ { print $5 }' <<<"$loader")
t_stream=$(awk '/^  stream/ { print $3 }' <<<"$loader")

tmp=/dev/shm
[ -d "$tmp" ] && [ -w "$tmp" ] || tmp=${TMPDIR:-/tmp}
out=$(mktemp -d "$tmp/mzoo-data-path.XXXXXX")
trap 'rm -rf "$out"' EXIT
t0=$(date +%s.%N)
"$build/mzoo" dataset "$zoo" -o "$out/ds" -q
t_ds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
# the file system's own speed for the same bytes: cp of the dataset.npz just written
t0=$(date +%s.%N)
cp "$out/ds/dataset.npz" "$out/copy.npz"
t_cp=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')

echo "$loader"
awk -v mb="$mb" -v py="$t_py" -v open="$t_open" -v stream="$t_stream" -v ds="$t_ds" -v cp="$t_cp" 'BEGIN {
    printf "\n%-58s %8s %8s %10s\n", "reader (" mb " MB of checkpoints, warm cache)", "s", "MB/s", "vs Python"
    row("Python sqlite3 + numpy.frombuffer (the anchor)", py)
    row("C loader: selection + streaming (mz_loader_open + next)", open + stream)
    row("mzoo dataset (selection, streaming, dataset.npz on tmpfs)", ds)
    row("cp of that dataset.npz on the same tmpfs (write speed)", cp)
}
function row(name, t) { printf "%-58s %8.3f %8.0f %9.2fx\n", name, t, mb / t, py / t }'
