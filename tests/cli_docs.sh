#!/usr/bin/env bash
# Every command of README.md, docs/*.md and bench/README.md runs as written (tests/docs_commands.py
# states the convention: ```sh blocks, skip markers with a reason, no citations of texts that do
# not ship, /usr/bin/python3). The commands run in order, from a directory laid out like the
# repository root (build/, examples/, tools/, scripts/ and python/ are links to this tree), with
# the build's mzoo on PATH and its Python package importable (as after `cmake --install`).
#
# The zoos the documents read but take hours to train are small stand-ins made first, under the
# names the documents use: fmnist-demo.db and fmnist-seeds.db (16 CNN-s models trained for 2
# epochs on 200 images), fmnist-twins.db (their magnitude twins), fmnist-hyp-bench.db,
# fmnist-seed-bench.db and zoo.db (synthetic zoos), tune_zoo_mnist_uniform.zip and
# smallcnnzoo/mnist (the interop fixtures). A failing command is reported with its file and line.
set -u
BIN=${MZ_BIN:?}
SYNTH=${MZ_SYNTH:?}
SRC=${MZ_SOURCE_DIR:?}
BUILD=$(cd "$(dirname "$BIN")" && pwd)
PY=/usr/bin/python3
if ! "$PY" -c 'import numpy, torch' 2>/dev/null; then
    echo "skipped: the documents' Python commands need numpy and torch for $PY"
    exit 77
fi
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    echo "skipped: the documents' zoos need Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
W=$T/root
mkdir "$W"
for d in examples tools scripts python bench; do ln -s "$SRC/$d" "$W/$d"; done
ln -s "$BUILD" "$W/build"
export PATH="$BUILD:$PATH" PYTHONPATH="$SRC/python" MZOO_LIBRARY="$BUILD/libmzoo.so.0"
# XGBoost's OpenMP threads spin while they wait: on a machine shared with other jobs that makes
# `bench --threads 2` several times slower (36 s against 6 s here), so they sleep instead
export OMP_WAIT_POLICY=passive
export PYTHONDONTWRITEBYTECODE=1 DOCS_LOG=$T/log DOCS_FAILS=$T/fails DOCS_COUNTS=$T/counts
: > "$DOCS_FAILS"
: > "$DOCS_COUNTS"

# the documents' commands, and the convention's checks
"$PY" "$SRC/tests/docs_commands.py" "$SRC" "$T/docs.sh" "$SRC/README.md" "$SRC"/docs/*.md \
    "$SRC/bench/README.md" > "$T/lint"
lint=$?

# stand-ins for the zoos the documents name
fixture() { "$@" > "$T/fixture.log" 2>&1 || { echo "FAIL: making a stand-in: $*"; cat "$T/fixture.log"; exit 1; }; }
cd "$W" || exit 1
cat > "$T/demo.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 2, "batch_size": 10,
 "train_subset": 200, "grid": {"activation": ["tanh", "relu"], "lr": [1e-3, 3e-4],
 "seed": {"range": [1, 4]}}}
JSON
fixture "$BIN" train "$T/demo.json" -o fmnist-demo.db -j 2 -q
fixture cp fmnist-demo.db fmnist-seeds.db
fixture "$BIN" sparsify fmnist-seeds.db -o fmnist-twins.db --method magnitude --targets 0.5 -j 2 -q
fixture "$SYNTH" -o fmnist-hyp-bench.db --models 16 --epochs 2
fixture "$SYNTH" -o fmnist-seed-bench.db --models 16 --epochs 2
fixture "$SYNTH" -o zoo.db --models 32 --epochs 50
fixture "$PY" tools/make_interop_fixtures.py modelzoos "$T/fx" :: ctc "$T/fx"
fixture cp "$T/fx/tune_zoo_fixture.zip" tune_zoo_mnist_uniform.zip
fixture mkdir -p smallcnnzoo
fixture cp -r "$T/fx/ctc" smallcnnzoo/mnist

bash "$T/docs.sh"
ran=$(wc -l < "$DOCS_COUNTS")
if [ $lint -ne 0 ] || [ -s "$DOCS_FAILS" ]; then
    cat "$T/lint" "$DOCS_FAILS"
    echo "cli_docs: $ran commands run, $(grep -c '^FAIL' "$DOCS_FAILS") failed, $(wc -l < "$T/lint") convention errors"
    exit 1
fi
echo "cli_docs: $ran commands of the documents run and pass"
