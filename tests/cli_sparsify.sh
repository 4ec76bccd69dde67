#!/usr/bin/env bash
# mzoo sparsify end to end on a small real zoo (4 Fashion-MNIST CNN-s models, adam/sgd x dropout
# 0/0.5, 2 epochs on 500 images): variational-dropout twins for 2 epochs.
#  - the twin zoo is bit-identical with -j 1 --group 1, with -j 2, and after a crash and a rerun;
#  - the source zoo keeps every byte; a twin file made with other settings is refused untouched;
#  - dataset/bench/info/verify work on the twin zoo (dataset: pruned weights by default, the
#    dense parameters with --dense);
#  - magnitude twins for two targets; --dry-run lists the twins;
#  - errors: a source that is not a zoo, twins of twins, an epoch the source lacks, a preset
#    whose source zoo this is not.
set -u
BIN=${MZ_BIN:?}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
hash() { sha256sum "$1" | cut -d' ' -f1; }
content() { sqlite3 "$1" "SELECT model_id, epoch, hex(weights), train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, sparsity, metrics FROM epochs ORDER BY 1, 2"; }

cat > "$T/spec.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 2, "batch_size": 10,
 "train_subset": 500,
 "grid": {"activation": "relu", "init": "kaiming_uniform", "optimizer": ["adam", "sgd"],
          "lr": 0.001, "momentum": 0.9, "dropout": [0, 0.5], "seed": [1]}}
JSON
"$BIN" train "$T/spec.json" -o "$T/src.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "training the source zoo: $(cat "$T/err")"
h=$(hash "$T/src.db")

"$BIN" sparsify "$T/src.db" --dry-run --epochs 2 >"$T/dry" 2>&1
rc=$?
check '[ $rc -eq 0 ] && head -1 "$T/dry" | grep -q "^4 twins (vd, 2 epochs)" && grep -q "twin 3: source model 3, epoch 2" "$T/dry"' "dry run: $(head -3 "$T/dry")"

"$BIN" sparsify "$T/src.db" -o "$T/a.db" --epochs 2 -j 2 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "sparsify -j 2: $(cat "$T/err")"
"$BIN" sparsify "$T/src.db" -o "$T/b.db" --epochs 2 -j 1 --group 1 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "sparsify -j 1 --group 1: $(cat "$T/err")"
"$BIN" sparsify "$T/src.db" -o "$T/c.db" --epochs 2 -q --kill-after-commits 3 2>/dev/null
rc=$?
check '[ $rc -eq 137 ]' "the simulated crash exits 137 (got $rc)"
"$BIN" sparsify "$T/src.db" -o "$T/c.db" --epochs 2 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "the rerun after a crash: $(cat "$T/err")"
"$BIN" sparsify "$T/src.db" -o "$T/c.db" --epochs 2 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ] && grep -q "nothing to do: all 4 models are finished" "$T/err" && ! grep -q "ETA" "$T/err"' \
    "a finished twin zoo run again says there is nothing to do: $(cat "$T/err")"
content "$T/a.db" > "$T/a.txt"
check '[ $(wc -l < "$T/a.txt") -eq 12 ]' "4 twins x epochs 0..2"
check 'cmp -s "$T/a.txt" <(content "$T/b.db")' "-j 1 --group 1 differs from -j 2"
check 'cmp -s "$T/a.txt" <(content "$T/c.db")' "crash + rerun differs from an uninterrupted run"
check '[ "$(hash "$T/src.db")" = "$h" ]' "the source zoo changed"
check '[ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM models WHERE source_id = id AND source_epoch = 2 AND variant LIKE '\''%/ard'\''")" = 4 ]' "models record their source"
check '[ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM epochs WHERE sparsity >= 0 AND sparsity <= 1 AND metrics LIKE '\''{\"sparsity\":{\"conv1\":%'\''")" = 12 ]' "every epoch has its sparsity and per-layer figures"

# other settings: refused, the twin file untouched
ha=$(hash "$T/a.db")
"$BIN" sparsify "$T/src.db" -o "$T/a.db" --epochs 3 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "epochs is 2 in the file but 3 in this run" "$T/err"' "other settings are refused naming the key: $(cat "$T/err")"
check '[ "$(hash "$T/a.db")" = "$ha" ]' "a refused run changed the twin zoo"

# readers on the twin zoo
"$BIN" info "$T/a.db" >"$T/info" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "kind          twin" "$T/info" && grep -q "sparsity at each twin" "$T/info" && grep -q "accuracy drop" "$T/info"' "info on twins: $(cat "$T/info")"
"$BIN" verify "$T/a.db" >/dev/null 2>&1
rc=$?
check '[ $rc -eq 0 ]' "verify the twin zoo"
"$BIN" dataset "$T/a.db" -o "$T/ds" --epochs 2 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "dataset on twins: $(cat "$T/err")"
"$BIN" dataset "$T/a.db" -o "$T/dsd" --epochs 2 --dense -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "dataset --dense on twins: $(cat "$T/err")"
"$PY" - "$T" <<'PY' 2>"$T/err"
import sys, sqlite3, numpy as np
t = sys.argv[1]
p, d = np.load(f"{t}/ds/dataset.npz"), np.load(f"{t}/dsd/dataset.npz")
assert p["x_train"].shape == d["x_train"].shape and p["x_train"].shape[1] == 2464
# the pruned network's weights: zero where pruned, equal elsewhere; dense: as stored
sp = (p["x_train"] == 0).mean()
assert sp > 0 and (d["x_train"] == 0).mean() < sp, sp
keep = p["x_train"] != 0
assert (p["x_train"][keep] == d["x_train"][keep]).all()
cols = open(f"{t}/ds/properties.csv").readline().strip().split(",")
assert "sparsity" in cols and "source_id" in cols, cols
PY
rc=$?
check '[ $rc -eq 0 ]' "pruned vs dense dataset: $(cat "$T/err")"
"$BIN" bench "$T/a.db" --epochs 2 --models ridge --properties test_acc,sparsity -q >"$T/bench" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "^sparsity" "$T/bench"' "bench on twins: $(cat "$T/bench")"

# magnitude pruning, two targets, no fine-tuning
"$BIN" sparsify "$T/src.db" -o "$T/m.db" --method magnitude --targets 0.5,0.9 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "magnitude: $(cat "$T/err")"
check '[ "$(sqlite3 "$T/m.db" "SELECT count(*) FROM epochs WHERE epoch = 0")" = 8 ]' "8 magnitude twins"
check '[ "$(sqlite3 "$T/m.db" "SELECT count(*) FROM models m JOIN epochs e ON e.model_id = m.id WHERE abs(e.sparsity - json_extract(m.hparams, '\''$.target'\'')) < 0.001")" = 8 ]' "each twin's sparsity is its target"

# errors
echo "not a zoo" > "$T/text.db"
"$BIN" sparsify "$T/text.db" -o "$T/x.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "not a zoo" "$T/err" && [ ! -e "$T/x.db" ]' "a source that is not a zoo: $(cat "$T/err")"
"$BIN" sparsify "$T/a.db" -o "$T/x.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "a twin zoo" "$T/err" && [ ! -e "$T/x.db" ]' "twins of twins: $(cat "$T/err")"
"$BIN" sparsify "$T/src.db" -o "$T/x.db" --from-epoch 7 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "no epoch 7" "$T/err" && [ ! -e "$T/x.db" ]' "an epoch the source lacks: $(cat "$T/err")"
"$BIN" sparsify --preset mnist-seed-vd "$T/src.db" -o "$T/x.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "mnist-seed zoo" "$T/err" && [ ! -e "$T/x.db" ]' "a preset on another zoo: $(cat "$T/err")"
"$BIN" sparsify "$T/src.db" -o "$T/x.db" --method pruning -q 2>"$T/err"
rc=$?
check '[ $rc -eq 2 ] && grep -q "expected vd or magnitude" "$T/err"' "an unknown method is a usage error"
check '[ "$(hash "$T/src.db")" = "$h" ]' "the source zoo changed"

echo "cli_sparsify: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
