#!/usr/bin/env bash
# Mistakes a user makes on day one are errors that say what exists, never silent:
#  - `bench --properties` with a property the zoo lacks (a typo) exits 2 listing the properties,
#    and prints no table; the defaults still skip what a zoo lacks; a ridge lambda chosen at an
#    edge of its grid is marked, with a note suggesting --max-abs;
#  - `--epochs` naming epochs no model has, `--layers` naming a layer the layout lacks, `--where`
#    naming a column the tables lack: exit 2 with what exists (dataset and bench);
#  - `dataset -o DIR` over an earlier export replaces it whole (no stale file of the first stays),
#    refuses a directory holding other files (and leaves it as it was), leaves nothing beside DIR;
#  - a CNN-l spec on a 28 px variant is refused at parse time (--dry-run too, and train before
#    reading any data), naming the "variant" to set;
#  - --dry-run says what a zoo will cost: its file's size and its compute.
set -u
BIN=${MZ_BIN:?}
SYNTH=${MZ_SYNTH:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

"$SYNTH" -o "$T/zoo.db" --models 8 --epochs 3 >/dev/null || { echo "FAIL: synth zoo"; exit 1; }

# --- bench: unknown properties ---
"$BIN" bench "$T/zoo.db" --properties test_acc,accuracy --models ridge -q >"$T/out" 2>"$T/err"
rc=$?
check '[ $rc -eq 2 ] && grep -q "unknown property '"'"'accuracy'"'"' (expected test_acc, val_acc" "$T/err" && [ ! -s "$T/out" ]' \
    "bench --properties accuracy: exit $rc (want 2), $(cat "$T/err" "$T/out")"
"$BIN" bench "$T/zoo.db" --properties test_acc --models ridge -q >"$T/out" 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ] && grep -q "^test_acc .*ridge" "$T/out"' "bench --properties test_acc: exit $rc, $(cat "$T/err")"

# ridge's lambda at an edge of its grid is marked, with a note on the likely cause
"$BIN" bench "$T/zoo.db" --models ridge --epochs 2-3 -q >"$T/out" 2>"$T/err"
check 'grep -q "lambda=1000 (grid edge)" "$T/out" && grep -q "^note: [0-9]* ridge rows* chose lambda at an edge of its grid (1e-05 to 1000).*--max-abs 5" "$T/out"' \
    "a lambda at the grid's edge must be marked: $(cat "$T/out" "$T/err")"

# --- epochs and layers that do not exist ---
for cmd in "dataset -o $T/never" "bench --models ridge"; do
    "$BIN" $cmd "$T/zoo.db" --epochs 1,7-9 -q >/dev/null 2>"$T/err"
    rc=$?
    check '[ $rc -eq 2 ] && grep -q "epochs 7-9 are in no model of the zoo (its checkpoints are of epochs 0 to 3)" "$T/err"' \
        "$cmd --epochs 1,7-9: exit $rc (want 2), $(cat "$T/err")"
    "$BIN" $cmd "$T/zoo.db" --layers conv1,conv9 -q >/dev/null 2>"$T/err"
    rc=$?
    check '[ $rc -eq 2 ] && grep -q "unknown layer '"'"'conv9'"'"' (expected all or a list of conv1, conv2, conv3, fc1, fc2)" "$T/err"' \
        "$cmd --layers conv9: exit $rc (want 2), $(cat "$T/err")"
done
"$BIN" dataset "$T/zoo.db" -o "$T/never" --where "acc > 0.5" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 2 ] && grep -q "no such column: acc .*they are models (m): id, variant, activation.*epochs (e): model_id, epoch, train_loss" "$T/err"' \
    "--where with an unknown column lists the columns: exit $rc, $(cat "$T/err")"
check '[ ! -e "$T/never" ]' "a refused dataset export created its directory"

# --- dataset -o over an earlier export ---
"$BIN" dataset "$T/zoo.db" -o "$T/ds" --format npz,npy -q 2>"$T/err"
check '[ $? -eq 0 ] && [ -e "$T/ds/x_train.npy" ] && [ -e "$T/ds/dataset.npz" ]' "first export: $(cat "$T/err")"
"$BIN" dataset "$T/zoo.db" -o "$T/ds/" --format safetensors --max-models 3 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ] && [ -e "$T/ds/dataset.safetensors" ] && [ ! -e "$T/ds/x_train.npy" ] && [ ! -e "$T/ds/dataset.npz" ]' \
    "a second export over the first left its files: exit $rc, $(ls "$T/ds") $(cat "$T/err")"
check 'grep -q "\"samples\": 12" "$T/ds/dataset.json"' "the second export's manifest: $(grep '"samples"' "$T/ds/dataset.json")"
check 'grep -q "^ *0.7,$" "$T/ds/dataset.json" && ! grep -q "6999999" "$T/ds/dataset.json"' \
    "the manifest writes 0.7 as 0.7: $(grep -A3 fractions "$T/ds/dataset.json")"
touch "$T/ds/notes.txt"
before=$(ls "$T/ds" | tr '\n' ' ')
"$BIN" dataset "$T/zoo.db" -o "$T/ds" -q 2>"$T/err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "holds '"'"'notes.txt'"'"', which mzoo dataset does not write" "$T/err"' \
    "an export into a directory with another file: exit $rc, $(cat "$T/err")"
check '[ "$(ls "$T/ds" | tr "\n" " ")" = "$before" ]' "the refused directory changed: $(ls "$T/ds")"
check '[ -z "$(ls -d "$T"/ds.* 2>/dev/null)" ]' "files left beside the directory: $(ls "$T")"
mkdir "$T/empty"
"$BIN" dataset "$T/zoo.db" -o "$T/empty" -q 2>"$T/err"
check '[ $? -eq 0 ] && [ -e "$T/empty/dataset.npz" ]' "an export into an empty directory: $(cat "$T/err")"

# --- a CNN-l spec on a 28 px variant ---
cat > "$T/cnnl.json" <<'JSON'
{"dataset": "cifar10", "architecture": "cnn-l", "epochs": 1, "batch_size": 10,
 "data": "/nonexistent", "grid": {"seed": 1}}
JSON
for mode in --dry-run "-o $T/cnnl.db"; do
    "$BIN" train "$T/cnnl.json" $mode -q >/dev/null 2>"$T/err"
    rc=$?
    check '[ $rc -ne 0 ] && grep -q "cnnl.json: variant: cnn-l needs 32x32 images, and cifar10'"'"'s default variant gives 28x28; set \"variant\": \"32px\"" "$T/err"' \
        "train $mode with cnn-l on 28 px: exit $rc, $(cat "$T/err")"
done
check '[ ! -e "$T/cnnl.db" ]' "a refused spec created its zoo file"
sed 's/"architecture"/"variant": "32px", "architecture"/' "$T/cnnl.json" > "$T/cnnl32.json"
"$BIN" train "$T/cnnl32.json" --dry-run >"$T/out" 2>"$T/err"
check '[ $? -eq 0 ] && grep -q "1 models (cifar10, cnn-l" "$T/out"' "cnn-l with variant 32px: $(cat "$T/err")"

# --- the cost of a zoo before it is trained ---
"$BIN" train --dry-run --preset cifar10-resnet18 >"$T/out" 2>"$T/err"
check '[ $? -eq 0 ] && sed -n 2p "$T/out" | grep -q "^estimate: zoo file about 2.28 TB (51000 checkpoints of 11183582 floats); compute about 7.8.e+18 FLOP (per model and epoch 40000 training and 20000 evaluation images of 32x32), .* core-hours at 100 GFLOP/s per core (9[0-9][0-9] core-days)"' \
    "dry run of cifar10-resnet18 gives its size and compute: $(head -2 "$T/out") $(cat "$T/err")"
cat > "$T/small.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 3, "batch_size": 10,
 "train_subset": 2000, "grid": {"seed": [1, 2]}}
JSON
"$BIN" train --dry-run "$T/small.json" >"$T/out" 2>"$T/err"
check '[ $? -eq 0 ] && sed -n 2p "$T/out" | grep -q "zoo file about 78.8 KB (8 checkpoints of 2464 floats); compute about .* FLOP (per model and epoch 2000 training and 20000 evaluation images of 28x28)"' \
    "dry run of a small spec: $(head -2 "$T/out") $(cat "$T/err")"

# --- info --metrics: every (model, epoch) row with its hyperparameters, for plotting without SQL ---
"$BIN" info "$T/zoo.db" --metrics "$T/m.csv" >"$T/out" 2>"$T/err"
rc=$?
rows=$(sqlite3 "$T/zoo.db" "SELECT count(*) FROM epochs")
check '[ $rc -eq 0 ] && [ "$(head -1 "$T/m.csv")" = "model_id,epoch,variant,activation,init,optimizer,lr,weight_decay,dropout,momentum,nesterov,seed,status,hparams,source_id,source_epoch,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,sparsity" ] && [ $(($(wc -l < "$T/m.csv") - 1)) -eq "$rows" ] && [ ! -e "$T/m.csv.tmp" ]' \
    "info --metrics: exit $rc, $(head -2 "$T/m.csv") $(cat "$T/err")"
check '[ "$("$BIN" info "$T/zoo.db" --metrics - | sed -n 2p | cut -d, -f1-3)" = "0,0,cnn-s/c1/nodropout" ]' "info --metrics - writes the CSV alone to stdout"

# --- info --json: the summary for programs, strict JSON (no NaN from the diverged models) ---
"$BIN" info "$T/zoo.db" --json >"$T/info.json" 2>"$T/err"
rc=$?
/usr/bin/python3 - "$T/info.json" "$rows" >"$T/py" 2>&1 <<'PY'
import json, sys
def no_constants(c):
    raise ValueError("not JSON: " + c)
d = json.load(open(sys.argv[1]), parse_constant=no_constants)
assert list(d) == ["zoo", "schema_version", "meta", "recipe", "models_by_status",
                   "last_epoch_test_acc", "last_epoch_test_acc_by", "epochs"], list(d)
assert sum(d["models_by_status"].values()) == 8, d["models_by_status"]
assert sum(e["models"] for e in d["epochs"]) == int(sys.argv[2]), d["epochs"]
assert [e["epoch"] for e in d["epochs"]] == [0, 1, 2, 3]
q = d["last_epoch_test_acc"]
assert q["n"] >= 1 and q["min"] <= q["median"] <= q["max"], q
assert isinstance(d["recipe"], dict) and d["meta"]["generator"].startswith("mzoo")
PY
check '[ $rc -eq 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/py" ]' "info --json: exit $rc, $(cat "$T/err" "$T/py")"

echo "cli_mistakes: $pass passed, $fail failed"
[ $fail -eq 0 ]
