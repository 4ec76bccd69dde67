#!/usr/bin/env bash
# Exports of a zoo mzoo trained itself (4 CNN-s models on 500 Fashion-MNIST images, dropout 0 and
# 0.5): torch loads every exported .pt with weights_only=True into the reference's module
# (load_state_dict strict) and reproduces each model's recorded test accuracy on Fashion-MNIST's
# 10,000 test images; the modelzoos export imports back with the same weights, metrics and
# hyperparameter columns (its hparams gain the reference's keys the export writes). The same for
# the zoo's variational-dropout twins (mzoo sparsify, 1 epoch): CNN_ARD trials with
# sparsity_ratio, torch's clipped ARD modules reproduce their test accuracy, and the import gives
# back the same weights, metrics (per-layer sparsity recomputed alike), source columns and
# statuses.
set -u
BIN=${MZ_BIN:?}
SRC=${MZ_SOURCE_DIR:?}
PY=/usr/bin/python3
FX="$SRC/tools/make_interop_fixtures.py"
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
    echo "cli_interop_trained: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)" >&2
    exit 1
fi
if ! "$PY" -c "import torch, numpy" 2>/dev/null; then
    echo "cli_interop_trained: needs Debian's python3-torch and python3-numpy" >&2
    exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

cat >"$T/spec.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 1, "batch_size": 10,
 "train_subset": 500,
 "grid": {"activation": ["tanh", "relu"], "init": "kaiming_uniform", "optimizer": "sgd",
          "lr": 0.01, "momentum": 0.9, "dropout": [0, 0.5], "seed": [1]}}
JSON
"$BIN" train "$T/spec.json" -o "$T/t.db" -q >/dev/null 2>"$T/train.err"
rc=$?
check '[ $rc -eq 0 ]' "training the test zoo failed: $(cat "$T/train.err")"

"$BIN" export "$T/t.db" -o "$T/pt" --format pt >"$T/pt.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "4 models, 8 epochs (8 checkpoints)" "$T/pt.out"' \
    "pt export: $(cat "$T/pt.out")"
"$BIN" export "$T/t.db" -o "$T/mz" --format modelzoos -q >/dev/null 2>&1
"$BIN" import "$T/mz" -o "$T/t2.db" >"$T/imp.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "modelzoos zoo (cnn-s), 4 models: 4 done" "$T/imp.out"' \
    "import of the export: $(cat "$T/imp.out")"
"$BIN" export "$T/t.db" -o "$T/ctc" --format ctc >"$T/ctc.out" 2>&1
check 'grep -q "holds its one network (smallcnn) only" "$T/ctc.out"' "ctc export refused"

# its variational-dropout twins (1 epoch): exported as the reference's CNN_ARD trials and back
"$BIN" sparsify "$T/t.db" -o "$T/v.db" --epochs 1 -j 2 -q >/dev/null 2>"$T/sp.err"
rc=$?
check '[ $rc -eq 0 ]' "sparsify: $(cat "$T/sp.err")"
"$BIN" export "$T/v.db" -o "$T/vmz" --format modelzoos -q >/dev/null 2>&1
"$BIN" export "$T/v.db" -o "$T/vpt" --format pt -q >/dev/null 2>&1
check 'grep -q "\"model::type\": \"CNN_ARD\"" "$T"/vmz/NN_tune_trainable_00001_*/params.json' \
    "twins exported as CNN_ARD trials"
check 'head -1 "$T"/vmz/NN_tune_trainable_00001_*/result.json | grep -q "\"sparsity_ratio\":"' \
    "sparsity_ratio in result.json"
"$BIN" import "$T/vmz" -o "$T/v2.db" >"$T/vimp.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "4 sparsified twins" "$T/vimp.out"' "import of the twins: $(cat "$T/vimp.out")"

"$PY" "$FX" eval-fmnist "$T/pt" "$T/t.db" "$DATA" :: check-pt "$T/pt" "$T/mz" \
    :: compare-zoos "$T/t.db" "$T/t2.db" --ignore-hparams :: reference-load "$T/mz" \
    :: eval-fmnist "$T/vpt" "$T/v.db" "$DATA" :: check-pt "$T/vpt" "$T/vmz" \
    :: compare-zoos "$T/v.db" "$T/v2.db" --ignore-hparams >"$T/py.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "python checks: $(cat "$T/py.out")"
check 'grep -q "^4 checkpoints reproduce their recorded test accuracy" "$T/py.out"' \
    "test accuracies: $(cat "$T/py.out")"
check 'grep -q "^8 checkpoints load (weights_only, strict) and equal the source" "$T/py.out"' \
    "strict loads"
check '[ $(grep -c "^same content" "$T/py.out") -eq 2 ] && grep -q "^8 samples" "$T/py.out"' \
    "round trips of the zoo and of its twins"
check '[ $(grep -c "^4 checkpoints reproduce" "$T/py.out") -eq 2 ]' \
    "the twins' pruned networks reproduce their recorded test accuracy in torch"

echo "cli_interop_trained: $pass passed, $fail failed"
[ $fail -eq 0 ]
