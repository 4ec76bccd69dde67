#!/usr/bin/env bash
# mzoo import / export end to end on fixtures written by real PyTorch and numpy
# (tools/make_interop_fixtures.py with Debian's python3-torch): a Ray Tune-shaped Model Zoos
# experiment (CNN-s with and without dropout, CNN-l, a crashed trial, a diverged one with a missing
# and a NaN checkpoint, Version-A -999 metrics, a repeated result line, a trial that never
# reported), read as a folder, a .zip and a .tar.gz; a ResNet-18 zoo; a Google Small CNN Zoo in
# float32 and float64; malformed copies of each. Checks what is imported, that repeated imports are
# no-ops, that another source is refused untouched, that a killed import resumes, that every
# export format is read back by torch (weights_only, strict load into the reference's modules) or
# numpy, and that exporting and importing again gives the same zoo content bit for bit.
set -u
BIN=${MZ_BIN:?}
SRC=${MZ_SOURCE_DIR:?}
PY=/usr/bin/python3
FX="$SRC/tools/make_interop_fixtures.py"
if ! "$PY" -c "import torch, torchvision, numpy" 2>/dev/null; then
    echo "cli_interop: needs Debian's python3-torch, python3-torchvision and python3-numpy" >&2
    exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
q() { sqlite3 "$1" "$2"; }

"$PY" "$FX" modelzoos "$T/mz" :: ctc "$T/c" >"$T/fx.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "fixtures: $(cat "$T/fx.out")"
EXP="$T/mz/tune_zoo_fixture"

# --- Model Zoos: the folder -------------------------------------------------------------------
"$BIN" import "$EXP" -o "$T/a.db" >"$T/a.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "import of the experiment folder: $(cat "$T/a.out")"
check 'grep -q "modelzoos zoo (mixed), 6 models: 3 done, 1 diverged, 2 failed" "$T/a.out"' \
    "models by status: $(cat "$T/a.out")"
check 'grep -q "17 epochs: 16 with a checkpoint, 1 without one (metrics only), 0 without metrics" "$T/a.out"' \
    "epoch counts"
check 'grep -q "1 checkpoints hold NaN or Inf" "$T/a.out" && grep -q "3 NaN/Inf metrics stored as NULL" "$T/a.out"' \
    "non-finite counts"
check 'grep -q "2 epoch-0 train metrics of -999" "$T/a.out" && grep -q "1 repeated epochs" "$T/a.out"' \
    "placeholders and repeated lines counted"
"$BIN" verify "$T/a.db" >"$T/v.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "16 checkpoints" "$T/v.out"' "verify: $(cat "$T/v.out")"
check '[ "$(q "$T/a.db" "SELECT value FROM meta WHERE key = '"'kind'"'")" = imported ]' "meta kind"
# models in trial-name order, layout variants by model::type, i_dim and dropout
check '[ "$(q "$T/a.db" "SELECT group_concat(variant, '"' '"') FROM (SELECT variant FROM models ORDER BY id)")" = "cnn-s/c1/nodropout cnn-s/c1/dropout cnn-s/c1/nodropout cnn-s/c1/nodropout cnn-l/c3 cnn-s/c3/nodropout" ]' \
    "variants: $(q "$T/a.db" "SELECT group_concat(variant, ' ') FROM models")"
check '[ "$(q "$T/a.db" "SELECT name FROM layout WHERE variant = '"'cnn-s/c1/dropout'"' AND idx = 2")" = module_list.4.weight ]' \
    "the dropout variant's shifted module indices"
check '[ "$(q "$T/a.db" "SELECT activation, init, optimizer, lr, weight_decay, dropout, momentum, seed FROM models WHERE id = 1")" = "relu|kaiming_uniform|sgd|0.001|0.0001|0.5|0.9|2" ]' \
    "mapped hyperparameters: $(q "$T/a.db" "SELECT * FROM models WHERE id = 1")"
check 'q "$T/a.db" "SELECT hparams FROM models WHERE id = 4" | grep -q "\"model::type\":\"CNN3\""' \
    "the rest of params.json in hparams"
check '[ "$(q "$T/a.db" "SELECT status, message FROM models WHERE id = 2")" = "failed|Ray reported an error (error.txt: Failure # 1 (occurred at 2022-06-11_10-00-05))" ]' \
    "crashed trial: $(q "$T/a.db" "SELECT status, message FROM models WHERE id = 2")"
check '[ "$(q "$T/a.db" "SELECT status, message FROM models WHERE id = 3")" = "diverged|test_loss is not finite at epoch 2; the checkpoint of epoch 3 holds NaN or Inf" ]' \
    "diverged trial: $(q "$T/a.db" "SELECT status, message FROM models WHERE id = 3")"
check '[ "$(q "$T/a.db" "SELECT status, epochs_done FROM models WHERE id = 5")" = "failed|-1" ]' \
    "a trial that never reported"
check '[ "$(q "$T/a.db" "SELECT quote(train_loss), quote(train_acc), test_acc FROM epochs WHERE model_id = 0 AND epoch = 0")" = "NULL|NULL|0.12" ]' \
    "Version A's -999 stored as NULL"
check '[ "$(q "$T/a.db" "SELECT count(*) FROM epochs WHERE val_acc IS NOT NULL")" = 4 ]' \
    "val metrics only where the results have them"
check '[ "$(q "$T/a.db" "SELECT quote(weights), quote(test_loss) FROM epochs WHERE model_id = 3 AND epoch = 2")" = "NULL|NULL" ]' \
    "a missing checkpoint and a NaN loss"
check '[ "$(q "$T/a.db" "SELECT round(test_acc, 2) FROM epochs WHERE model_id = 3 AND epoch = 1")" = 0.67 ]' \
    "a repeated iteration: the later line"

# --- the same source from its .zip into the same file: nothing to do; from its .tar.gz: the same
"$BIN" import "$T/mz/tune_zoo_fixture.zip" -o "$T/a.db" >"$T/z.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "already imported: nothing to do" "$T/z.out"' \
    "the .zip into the same file: $(cat "$T/z.out")"
"$BIN" import "$T/mz/tune_zoo_fixture.tar.gz" -o "$T/b.db" -q >"$T/b.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "import of the .tar.gz: $(cat "$T/b.out")"
# another source into the same file is refused and changes nothing
before=$(sha256sum <"$T/a.db")
"$BIN" import "$T/mz/resnet_fixture" -o "$T/a.db" >"$T/r.out" 2>&1
rc=$?
check '[ $rc -eq 1 ] && grep -q "was not imported: it differs from what" "$T/r.out"' \
    "another source refused: $(cat "$T/r.out")"
check '[ "$(sha256sum <"$T/a.db")" = "$before" ]' "the refused import changed the file"

# --- a killed import resumes (here from the .zip) ---------------------------------------------
"$BIN" import "$EXP" -o "$T/k.db" --commit-every 1 --kill-after-commits 2 -q >/dev/null 2>&1
rc=$?
check '[ $rc -eq 137 ]' "the killed import exited with $rc"
check '[ "$(q "$T/k.db" "SELECT count(*) FROM models WHERE status = '"'pending'"'")" = 4 ]' \
    "two of six models committed before the kill"
"$BIN" import "$T/mz/tune_zoo_fixture.zip" -o "$T/k.db" --commit-every 1 >"$T/k.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "resumed: 9 epochs written in 4 transactions" "$T/k.out"' \
    "resume: $(cat "$T/k.out")"

# --- refused sources: a clear message naming the file, and nothing written ---------------------
refused() { # name, expected message (grep -E), written (1 when the zoo file may exist)
    local name=$1 pat=$2 written=$3 rc
    rm -f "$T/x.db"*
    "$BIN" import "$T/mz/$name" -o "$T/x.db" -q >"$T/x.out" 2>&1
    rc=$?
    check '[ $rc -eq 1 ] && grep -Eq "$pat" "$T/x.out" && grep -q "$name/NN_tune_trainable" "$T/x.out"' \
        "$name: exit $rc: $(cat "$T/x.out")"
    [ "$written" = 1 ] || check '[ ! -e "$T/x.db" ]' "$name: a zoo file was written"
}
refused bad_truncated "checkpoint_000001/checkpoints: no zip end-of-central-directory" 0
refused bad_crc "checkpoint_000001/checkpoints: entry checkpoints/data/2: CRC-32 of its data" 1
refused bad_global "data.pkl offset 2: opcode 0x63 \(GLOBAL\): the global os.system is not allowed" 0
refused bad_offset "opcode 0x52 \(REDUCE\): storage 3: the storage offset is negative" 0
refused bad_overflow "storage 0: offset and strides overflow" 0
refused bad_stride "storage 2: the tensor reads element 2199 of a storage of 1200" 0
refused bad_storage_size "storage 1: entry checkpoints/data/1 has 28 bytes, but the pickle says 8 elements" 0
refused bad_result "result.json: line 3: line 1 column 40" 0
refused bad_legacy "the legacy torch.save format" 0
refused bad_shape "tensor 0 \(module_list.0.weight\) has shape \[8,1,5,5\], but params.json describes a cnn-s/c3" 0
refused bad_dropout "tensor 2 is module_list.3.weight, but with model::dropout = 0.5" 0

# --- ResNet-18 (BatchNorm buffers, num_batches_tracked as int64) -------------------------------
"$BIN" import "$T/mz/resnet_fixture" -o "$T/r.db" -q >"$T/r.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "(resnet18), 1 models: 1 done" "$T/r.out"' "ResNet-18: $(cat "$T/r.out")"
check '[ "$(q "$T/r.db" "SELECT count(*) FROM layout WHERE variant = '"'resnet18/c3/k10'"'")" = 122 ]' \
    "ResNet-18 layout"
"$BIN" export "$T/r.db" -o "$T/e_rpt" --format pt -q >/dev/null 2>&1
check '[ -s "$T/e_rpt/model_0/epoch_1.pt" ]' "ResNet-18 pt export"

# --- exports ------------------------------------------------------------------------------------
for f in pt safetensors modelzoos; do
    "$BIN" export "$T/a.db" -o "$T/e_$f" --format $f >"$T/e.out" 2>&1
    rc=$?
    check '[ $rc -eq 0 ] && grep -q "6 models, 17 epochs (16 checkpoints)" "$T/e.out"' \
        "export $f: $(cat "$T/e.out")"
done
"$BIN" export "$T/a.db" -o "$T/e_stz" --format safetensors --per-zoo -q >/dev/null 2>&1
check '[ -s "$T/e_stz/zoo.safetensors" ] && [ $(wc -l <"$T/e_stz/index.csv") -eq 18 ]' \
    "safetensors --per-zoo"
check '[ -s "$T/e_pt/model_1/epoch_3.pt" ] && [ ! -e "$T/e_pt/model_3/epoch_2.pt" ] && [ ! -d "$T/e_pt/model_5" ]' \
    "pt files for checkpoints only"
"$BIN" export "$T/a.db" -o "$T/e_sel" --format pt --where "test_acc > 0.2" --epochs last -q \
    >/dev/null 2>&1
check '[ "$(cut -d, -f1,2 "$T/e_sel/index.csv" | tail -n +2 | tr "\n" " ")" = "0,3 1,3 3,3 4,2 " ]' \
    "--where/--epochs: $(cut -d, -f1,2 "$T/e_sel/index.csv" | tr '\n' ' ')"
"$BIN" export "$T/a.db" -o "$T/e_pt" --format pt >"$T/x.out" 2>&1
rc=$?
check '[ $rc -eq 1 ] && grep -q "is not empty" "$T/x.out"' "export into a used directory"
"$BIN" export "$T/a.db" -o "$T/e_bad" --format ctc >"$T/x.out" 2>&1
rc=$?
check '[ $rc -eq 1 ] && grep -q "holds its one network (smallcnn) only" "$T/x.out"' \
    "ctc export of a CNN zoo refused: $(cat "$T/x.out")"
# modelzoos -> import: the same zoo
"$BIN" import "$T/e_modelzoos" -o "$T/a2.db" -q >"$T/a2.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "import of the modelzoos export: $(cat "$T/a2.out")"

# --- Google's Small CNN Zoo ---------------------------------------------------------------------
"$BIN" import "$T/c/ctc" -o "$T/g.db" >"$T/g.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "ctc zoo (smallcnn), 6 models: 4 done, 1 diverged, 1 failed" "$T/g.out"' \
    "Small CNN Zoo: $(cat "$T/g.out")"
check '[ "$(q "$T/g.db" "SELECT value FROM meta WHERE key = '"'dataset'"'")" = mnist ]' "meta dataset"
check '[ "$(q "$T/g.db" "SELECT group_concat(name || shape, '"' '"') FROM layout")" = "conv1.weight[16,1,3,3] conv1.bias[16] conv2.weight[16,16,3,3] conv2.bias[16] conv3.weight[16,16,3,3] conv3.bias[16] fc.weight[10,16] fc.bias[10]" ]' \
    "smallcnn layout: $(q "$T/g.db" "SELECT group_concat(name || shape, ' ') FROM layout")"
check '[ "$(q "$T/g.db" "SELECT activation, optimizer, lr, dropout, seed, status FROM models WHERE id = 2")" = "sigmoid|rmsprop|0.0005|0.45|42|failed" ]' \
    "ctc hyperparameters: $(q "$T/g.db" "SELECT * FROM models WHERE id = 2")"
check 'q "$T/g.db" "SELECT hparams FROM models WHERE id = 0" | grep -q "\"config.l2reg\":0.0,.*\"modeldir\":\"/tmp/cnn_zoo/mnist/1000\""' \
    "ctc hparams"
"$BIN" import "$T/c/ctc64" -o "$T/g64.db" >"$T/g64.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "139160 float64 weights rounded to float32" "$T/g64.out"' \
    "float64 weights: $(cat "$T/g64.out")"
"$BIN" import "$T/c/ctc" -o "$T/gm.db" --max-memory 100K >"$T/gm.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "28 epochs written in 5 transactions" "$T/gm.out"' \
    "models committed in parts under --max-memory: $(cat "$T/gm.out")"
"$BIN" verify "$T/gm.db" >/dev/null 2>&1
check '[ $? -eq 0 ]' "verify after parts"
"$BIN" import "$T/c/ctc" -o "$T/gk.db" --commit-every 1 --kill-after-commits 3 -q >/dev/null 2>&1
rc=$?
"$BIN" import "$T/c/ctc" -o "$T/gk.db" >"$T/gk.out" 2>&1
check '[ $rc -eq 137 ] && grep -q "resumed: " "$T/gk.out"' "ctc resume: $(cat "$T/gk.out")"
for b in ctc_bad_layout:"layout.csv: line 3: sequential/conv2d/kernel:0 covers \[16, 161\)" \
    ctc_bad_rows:"more lines than the 27 rows" \
    ctc_bad_csv:"metrics.csv.gz: line 4: a quoted field that starts there never ends"; do
    rm -f "$T/x.db"*
    "$BIN" import "$T/c/${b%%:*}" -o "$T/x.db" >"$T/x.out" 2>&1
    rc=$?
    check '[ $rc -eq 1 ] && grep -Eq "${b#*:}" "$T/x.out" && [ ! -e "$T/x.db" ]' \
        "${b%%:*}: $(cat "$T/x.out")"
done
"$BIN" export "$T/g.db" -o "$T/e_ctc" --format ctc -q >/dev/null 2>&1
"$BIN" import "$T/e_ctc" -o "$T/g2.db" -q >/dev/null 2>&1
check '[ $? -eq 0 ]' "import of the ctc export"
"$BIN" export "$T/g.db" -o "$T/e_gpt" --format pt -q >/dev/null 2>&1
"$BIN" export "$T/g.db" -o "$T/e_gst" --format safetensors -q >/dev/null 2>&1
"$BIN" export "$T/g.db" -o "$T/e_bad2" --format modelzoos >"$T/x.out" 2>&1
check 'grep -q "holds the reference.s CNN, CNN3 and Resnet18 only" "$T/x.out"' \
    "modelzoos export of a smallcnn zoo refused"
# the other commands read an imported Small CNN Zoo as any zoo
"$BIN" dataset "$T/g.db" -o "$T/ds" >"$T/ds.out" 2>&1
check 'grep -q "4 layers (conv1 conv2 conv3 fc1) with biases, 4970 floats per sample" "$T/ds.out"' \
    "mzoo dataset on the Small CNN Zoo: $(cat "$T/ds.out")"
"$BIN" info "$T/g.db" >"$T/info.out" 2>&1
check 'grep -q "architecture  smallcnn" "$T/info.out"' "mzoo info"

# --- torch, numpy and the reference's loading code read the exports; round trips are exact --------
"$PY" "$FX" compare-zoos "$T/a.db" "$T/b.db" :: compare-zoos "$T/a.db" "$T/k.db" \
    :: compare-zoos "$T/a.db" "$T/a2.db" :: check-pt "$T/e_pt" "$EXP" \
    :: check-safetensors "$T/e_safetensors" "$EXP" :: check-safetensors "$T/e_stz" "$EXP" \
    :: reference-load "$EXP" :: reference-load "$T/e_modelzoos" \
    :: check-pt "$T/e_rpt" "$T/mz/resnet_fixture" \
    :: compare-zoos "$T/g.db" "$T/g2.db" :: compare-zoos "$T/g.db" "$T/g64.db" \
    :: compare-zoos "$T/g.db" "$T/gm.db" :: compare-zoos "$T/g.db" "$T/gk.db" \
    :: check-ctc "$T/e_ctc" "$T/c/ctc" :: check-pt "$T/e_gpt" "$T/c/ctc" \
    :: check-safetensors "$T/e_gst" "$T/c/ctc" >"$T/py.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "python checks: $(cat "$T/py.out")"
check '[ $(grep -c "^same content" "$T/py.out") -eq 7 ]' "7 zoo comparisons"
check 'grep -q "^16 checkpoints load (weights_only, strict) and equal the source" "$T/py.out"' \
    "pt export of the modelzoos zoo"
check 'grep -q "^2 checkpoints load" "$T/py.out" && grep -q "^28 checkpoints load" "$T/py.out"' \
    "pt exports of the ResNet-18 and Small CNN zoos"
check '[ $(grep -c "^15 samples" "$T/py.out") -eq 2 ]' \
    "the reference's loader reads the source and the export alike"
check 'grep -q "^28 rows equal the source" "$T/py.out"' "ctc export"

echo "cli_interop: $pass passed, $fail failed"
[ $fail -eq 0 ]
