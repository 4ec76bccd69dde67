#!/usr/bin/env bash
# mzoo import / export of the Model Zoos' sparsified twins (the reference's CNN_ARD and CNN3_ARD
# trials of train_{mnist,svhn}_sparse_vd.py), on fixtures written by real PyTorch
# (tools/make_interop_fixtures.py ard): ARD state_dicts with uninitialised (NaN, Inf, huge,
# denormal) linear log_sigma2_bias, a CNN-s with dropout modules, a CNN-l twin, a twin whose
# log_sigma2 became NaN. Checks what is imported (layouts, sparsity, per-layer sparsity as torch
# computes it, hparams, statuses), that the garbage is kept bit for bit and diverges nothing, that
# malformed twins are refused, that info, dataset, bench, report and the Python package treat the
# zoo as twins, and that exporting as modelzoos and importing again gives the same zoo.
set -u
BIN=${MZ_BIN:?}
SRC=${MZ_SOURCE_DIR:?}
PY=/usr/bin/python3
FX="$SRC/tools/make_interop_fixtures.py"
if ! "$PY" -c "import torch, numpy" 2>/dev/null; then
    echo "cli_interop_ard: needs Debian's python3-torch and python3-numpy" >&2
    exit 1
fi
LIB=$(dirname "$BIN")/libmzoo.so.0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
q() { sqlite3 "$1" "$2"; }

"$PY" "$FX" ard "$T/fx" >"$T/fx.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "fixtures: $(cat "$T/fx.out")"
EXP="$T/fx/ard_fixture"

# --- the import ------------------------------------------------------------------------------
"$BIN" import "$EXP" -o "$T/a.db" >"$T/a.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "import: $(cat "$T/a.out")"
check 'grep -q "modelzoos zoo (mixed), 5 models: 4 done, 1 diverged, 0 failed" "$T/a.out"' \
    "models by status: $(cat "$T/a.out")"
check 'grep -q "5 sparsified twins" "$T/a.out"' "twins counted"
check 'grep -q "18 twin checkpoints hold NaN or Inf in the unused log_sigma2_bias" "$T/a.out"' \
    "garbage counted apart: $(cat "$T/a.out")"
check '[ "$(q "$T/a.db" "SELECT value FROM meta WHERE key IN ('"'kind'"', '"'method'"') ORDER BY key")" = "imported
vd" ]' "meta kind imported, method vd"
check '[ "$(q "$T/a.db" "SELECT group_concat(variant, '"' '"') FROM (SELECT variant FROM models ORDER BY id)")" = "cnn-s/c1/nodropout/ard cnn-s/c1/nodropout/ard cnn-l/c3/ard cnn-s/c1/dropout/ard cnn-s/c1/nodropout/ard" ]' \
    "variants: $(q "$T/a.db" "SELECT group_concat(variant, ' ') FROM models")"
check '[ "$(q "$T/a.db" "SELECT group_concat(name, '"' '"') FROM (SELECT name FROM layout WHERE variant = '"'cnn-s/c1/dropout/ard'"' AND idx BETWEEN 4 AND 7 ORDER BY idx)")" = "module_list.4.weight module_list.4.bias module_list.4.log_sigma2 module_list.4.log_sigma2_bias" ]' \
    "the dropout twin's shifted module indices"
check '[ "$(q "$T/a.db" "SELECT sum(n_params) FROM (SELECT max(offset + count) AS n_params FROM layout WHERE variant = '"'cnn-s/c1/nodropout/ard'"')")" = 4928 ]' \
    "4928 floats per CNN-s twin"
check '[ "$(q "$T/a.db" "SELECT status, message FROM models WHERE id = 4")" = "diverged|the checkpoint of epoch 2 holds NaN or Inf" ]' \
    "a NaN log_sigma2 diverges: $(q "$T/a.db" "SELECT status, message FROM models WHERE id = 4")"
n=$(q "$T/a.db" "SELECT count(*) FROM models WHERE source_id IS NULL AND json_extract(hparams, '$.\"training::init_checkpoint_path\"') LIKE '/data/zoos/MNIST/%'")
check '[ "$n" = 5 ]' "training::init_checkpoint_path kept in hparams ($n)"
n=$(q "$T/a.db" "SELECT count(*) FROM epochs WHERE sparsity > 0 AND json_extract(metrics, '$.sparsity.conv1') IS NOT NULL AND json_extract(metrics, '$.sparsity.fc2') IS NOT NULL")
check '[ "$n" = 20 ]' "sparsity and per-layer sparsity on every epoch ($n)"
"$BIN" verify "$T/a.db" >"$T/v.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "verify: $(cat "$T/v.out")"
# from the .zip into the same file: nothing to do; into another: the same zoo
"$BIN" import "$T/fx/ard_fixture.zip" -o "$T/a.db" >"$T/z.out" 2>&1
check 'grep -q "already imported: nothing to do" "$T/z.out"' "the .zip: $(cat "$T/z.out")"
"$BIN" import "$T/fx/ard_fixture.zip" -o "$T/z.db" -q >/dev/null 2>&1
check '[ $? -eq 0 ]' "import of the .zip"

# --- malformed twins: refused naming the checkpoint, nothing written ----------------------------
refused() { # name, expected message (grep -E)
    local name=$1 pat=$2 rc
    rm -f "$T/x.db"*
    "$BIN" import "$T/fx/$name" -o "$T/x.db" -q >"$T/x.out" 2>&1
    rc=$?
    check '[ $rc -eq 1 ] && grep -Eq "$pat" "$T/x.out" && grep -q "$name/NN_tune_trainable" "$T/x.out" && [ ! -e "$T/x.db" ]' \
        "$name: exit $rc: $(cat "$T/x.out")"
}
refused bad_ard_plain "10 tensors, but a cnn-s \(cnn-s/c1/nodropout/ard\) has 20"
refused bad_ard_order "tensor 1 \(module_list.0.log_sigma2\) has shape \[8,1,5,5\], but params.json describes a cnn-s/c1/nodropout/ard whose tensor 1 \(module_list.0.bias\)"
refused bad_ard_name "tensor 7 is module_list.3.log_sigma_bias, expected module_list.3.log_sigma2_bias"
refused bad_ard_shape "tensor 2 \(module_list.0.log_sigma2\) has shape \[8,1,5,4\]"
refused bad_ard_type "model::type is CNN2_ARD \(expected CNN, CNN3, Resnet18, or the sparsified twins"
refused bad_ard_dropout "tensor 4 is module_list.3.weight, but with model::dropout = 0.5"

# --- the zoo as twins: info, dataset (pruned / --dense), bench, report -----------------------------
"$BIN" info "$T/a.db" >"$T/info.out" 2>&1
check 'grep -q "sparsity at each twin.s last epoch (5 twins)" "$T/info.out" && grep -q "^      3  " "$T/info.out"' \
    "mzoo info's twin summary: $(cat "$T/info.out")"
# the MNIST twins alone (one layout: a weight-space dataset)
mkdir -p "$T/mnist"
cp -r "$EXP"/*_0000[014]_* "$T/mnist/"
"$BIN" import "$T/mnist" -o "$T/m.db" -q >/dev/null 2>&1
"$BIN" dataset "$T/m.db" -o "$T/ds" >"$T/ds.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "5 layers (conv1 conv2 conv3 fc1 fc2) with biases, 2464 floats per sample" "$T/ds.out" && grep -q "dropped: 0 by --where, 0 non-finite" "$T/ds.out"' \
    "mzoo dataset of the twins: $(cat "$T/ds.out")"
"$BIN" dataset "$T/m.db" -o "$T/dsd" --dense -q >/dev/null 2>&1
"$PY" - "$T/ds/dataset.npz" "$T/dsd/dataset.npz" "$T/m.db" >"$T/np.out" 2>&1 <<'PY'
import sqlite3, sys
import numpy as np
p, d = np.load(sys.argv[1]), np.load(sys.argv[2])
db = sqlite3.connect(sys.argv[3])
# --dense: the stored weights and biases; by default the pruned network's (more zeros)
for part in ("train", "test"):
    x, xd = p["x_" + part], d["x_" + part]
    for i, (m, e) in enumerate(zip(d["model_id_" + part], d["epoch_" + part])):
        blob = np.frombuffer(db.execute("SELECT weights FROM epochs WHERE model_id=? AND epoch=?",
                                        (int(m), int(e))).fetchone()[0], "<f4")
        lay = db.execute("SELECT offset, count FROM layout WHERE variant='cnn-s/c1/nodropout/ard' "
                         "AND (name LIKE '%.weight' OR name LIKE '%.bias') ORDER BY idx").fetchall()
        want = np.concatenate([blob[o:o + c] for o, c in lay])
        assert np.array_equal(xd[i], want), (part, m, e)
        changed = x[i] != xd[i]
        assert np.all(x[i][changed] == 0), "pruning only zeroes"
    assert (x == 0).sum() > (xd == 0).sum(), part
print("pruned and dense samples as the zoo holds them")
PY
rc=$?
check '[ $rc -eq 0 ]' "dataset contents: $(cat "$T/np.out")"
"$BIN" bench "$T/m.db" --models ridge --features stats --properties test_acc,sparsity -q \
    >"$T/b.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "^sparsity .*ridge" "$T/b.out"' "mzoo bench predicts the sparsity: $(cat "$T/b.out")"
"$BIN" report "$T/a.db" -o "$T/a.html" -q >"$T/r.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "data-plot=\"z0-twin-path\"" "$T/a.html" && grep -q "data-plot=\"z0-twin-layers\"" "$T/a.html"' \
    "mzoo report's twin section: $(cat "$T/r.out")"
check '! grep -q "data-plot=\"z0-box-training::init_checkpoint_path\"" "$T/a.html"' \
    "a source path per model is not a hyperparameter"
"$PY" - "$T/a.html" "$T/a.db" >"$T/rj.out" 2>&1 <<'PY'
import json, re, sqlite3, sys
import numpy as np
d = json.loads(re.search(r'id="mzoo-data">(.*?)</script>', open(sys.argv[1]).read(), re.S).group(1))
z = d["zoos"][0]
db = sqlite3.connect(sys.argv[2])
eps = z["epochs"]
want = [np.median([r[0] for r in db.execute("SELECT sparsity FROM epochs WHERE epoch=?", (e,))])
        for e in eps]
got = z["twins"]["vd"]["median_sparsity"]
assert np.allclose(got, want, rtol=1e-6), (got, want)
print("twins: median sparsity per epoch as sqlite3 says")
PY
rc=$?
check '[ $rc -eq 0 ]' "report numbers: $(cat "$T/rj.out")"

# --- exports, and back ------------------------------------------------------------------------
"$BIN" export "$T/a.db" -o "$T/e_mz" --format modelzoos >"$T/e.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "5 models, 20 epochs (20 checkpoints)" "$T/e.out"' "export: $(cat "$T/e.out")"
check '[ $(grep -l "\"model::type\": \"CNN3_ARD\"" "$T"/e_mz/*/params.json | wc -l) -eq 1 ] && [ $(grep -c "\"sparsity_ratio\":" "$T"/e_mz/*/result.json | grep -c ":4$") -eq 5 ]' \
    "CNN_ARD/CNN3_ARD trials with sparsity_ratio"
"$BIN" import "$T/e_mz" -o "$T/a2.db" -q >/dev/null 2>&1
check '[ $? -eq 0 ]' "import of the export"
"$BIN" export "$T/a.db" -o "$T/e_pt" --format pt -q >/dev/null 2>&1

PYTHONPATH="$SRC/python" MZOO_LIBRARY="$LIB" "$PY" "$FX" check-ard "$T/a.db" "$EXP" \
    :: compare-zoos "$T/a.db" "$T/a2.db" :: compare-zoos "$T/a.db" "$T/z.db" \
    :: check-pt "$T/e_pt" "$EXP" :: check-ard-pruned "$T/a.db" "$EXP" >"$T/py.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "python checks: $(cat "$T/py.out")"
check 'grep -q "^20 twin checkpoints as torch reads them" "$T/py.out"' "check-ard"
check '[ $(grep -c "^same content" "$T/py.out") -eq 2 ]' "round trip and the .zip"
check 'grep -q "^20 checkpoints load (weights_only, strict) and equal the source" "$T/py.out"' \
    "pt export into torch's ARD modules"
check 'grep -q "^16 pruned twin checkpoints equal torch" "$T/py.out"' "the Python package"

echo "cli_interop_ard: $pass passed, $fail failed"
[ $fail -eq 0 ]
