#!/usr/bin/env bash
# mzoo dataset / mzoo bench end to end on a real (tiny) zoo: 8 CNN-s models on 1000 Fashion-MNIST
# images for 2 epochs, mixing dropout 0 and 0.5 (two layout variants with different module
# indices, the case the reference's loader cannot vectorise). Checks one consistent layout, the
# split by model, the filters' counts, byte-identical repeated runs, files numpy loads, the
# benchmark's table/JSON and skipped constants, and the CLI's exit codes.
set -u
BIN=${MZ_BIN:?}
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    echo "cli_dataset: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)" >&2
    exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

cat > "$T/spec.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 2, "batch_size": 10,
 "train_subset": 1000,
 "grid": {"activation": ["tanh", "relu"], "init": "kaiming_uniform", "optimizer": ["adam", "sgd"],
          "lr": 0.001, "momentum": 0.9, "dropout": [0, 0.5], "seed": [1]}}
JSON
"$BIN" train "$T/spec.json" -o "$T/zoo.db" -q >/dev/null 2>"$T/train.err"
rc=$?
check '[ $rc -eq 0 ]' "training the test zoo failed: $(cat "$T/train.err")"

# --- dataset ---
"$BIN" dataset "$T/zoo.db" -o "$T/ds" --format npz,npy,safetensors >"$T/ds.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "mzoo dataset failed: $(cat "$T/ds.out")"
check 'grep -q "2464 floats per sample, 2 layout variants" "$T/ds.out"' "one 2464-float layout over both variants"
check 'grep -q "candidates: 24 (model, epoch) rows of 8 models" "$T/ds.out"' "24 candidates (8 models x epochs 0..2)"
check 'grep -q "split by model: train 5 models / 15 samples, val 1 / 3, test 2 / 6" "$T/ds.out"' "split 5/1/2 models"
for f in dataset.json dataset.npz dataset.safetensors x_train.npy model_id_test.npy properties.csv properties.json index_dict.json; do
    check '[ -s "$T/ds/$f" ]' "missing $f"
done
check '[ $(wc -l < "$T/ds/properties.csv") -eq 25 ]' "properties.csv has a header and 24 rows"

# the same command twice gives byte-identical files
"$BIN" dataset "$T/zoo.db" -o "$T/ds2" --format npz,safetensors -q
check 'cmp -s "$T/ds/dataset.npz" "$T/ds2/dataset.npz" && cmp -s "$T/ds/dataset.safetensors" "$T/ds2/dataset.safetensors"' \
    "repeated runs differ"
# another seed, another split
"$BIN" dataset "$T/zoo.db" -o "$T/ds3" --seed 7 -q
check '! cmp -s "$T/ds/dataset.npz" "$T/ds3/dataset.npz"' "--seed does not change the split"

# filters remove exactly what they say
"$BIN" dataset "$T/zoo.db" -o "$T/f1" --where "dropout > 0 AND optimizer = 'sgd'" --epochs 1-2 >"$T/f1.out"
check 'grep -q "candidates: 16 " "$T/f1.out" && grep -q "dropped: 12 by --where" "$T/f1.out"' \
    "--where/--epochs counts: $(cat "$T/f1.out")"
"$BIN" dataset "$T/zoo.db" -o "$T/f2" --max-abs 1e-6 >"$T/f2.out" 2>&1
check '[ $? -eq 1 ] && grep -q "no samples left" "$T/f2.out" && grep -q "24 above --max-abs" "$T/f2.out"' \
    "--max-abs 1e-6 drops every checkpoint"
"$BIN" dataset "$T/zoo.db" -o "$T/f3" --layers fc1,fc2 --no-bias --epochs last >"$T/f3.out"
check 'grep -q "2 layers (fc1 fc2), weights only, 920 floats per sample" "$T/f3.out" && grep -q "candidates: 8 " "$T/f3.out"' \
    "--layers/--no-bias/--epochs last"

if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    (cd "$T/ds" && /usr/bin/python3 - <<'PY')
import json, struct
import numpy as np
d = np.load("dataset.npz")
m = json.load(open("dataset.json"))
n = m["counts"]["part_samples"]
assert d["x_train"].shape == (n["train"], 2464) and d["x_train"].dtype == np.float32
assert np.array_equal(np.load("x_test.npy"), d["x_test"])
parts = [set(d["model_id_" + p].tolist()) for p in ("train", "val", "test")]
assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]), "a model in two parts"
b = open("dataset.safetensors", "rb").read()
k = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + k])
o = h["x_val"]["data_offsets"]
assert np.array_equal(np.frombuffer(b[8 + k + o[0]:8 + k + o[1]], "<f4").reshape(h["x_val"]["shape"]), d["x_val"])
i = json.load(open("index_dict.json"))
assert i["idx_start"] == [0, 208, 1414, 1514, 2254] and i["channels_in"] == [1, 8, 6, 4, 20]
assert sorted(i["module_index"].values()) == [[0, 3, 6, 9, 11], [0, 4, 8, 11, 14]]
p = json.load(open("properties.json"))
assert len(p["test"]["test_acc"]) == n["test"] and set(p["train"]["dropout"]) <= {0, 0.5}
# the biases of conv1 are where index_dict says: the model's initial biases are all 0.01
e0 = np.array(p["train"]["epoch"]) == 0
assert np.allclose(d["x_train"][e0, 200:208], 0.01)
PY
    check '[ $? -eq 0 ]' "numpy checks of the dataset files"
fi

# --- bench ---
"$BIN" bench "$T/zoo.db" -q --xgb-rounds 20 --json "$T/b.json" >"$T/b.txt" 2>"$T/b.err"
rc=$?
check '[ $rc -eq 0 ]' "mzoo bench failed: $(cat "$T/b.err")"
check 'grep -q "^test_acc  *R2  *ridge  *W " "$T/b.txt"' "a ridge row for test_acc"
check 'grep -q "^activation  *acc  *linear " "$T/b.txt"' "a classifier row for activation"
check 'grep -q "init: skipped, constant (kaiming_uniform)" "$T/b.txt"' "constant init reported as skipped"
check 'grep -q "^val_acc  *R2  *ridge  *W " "$T/b.txt"' "a ridge row for val_acc (Fashion-MNIST zoos have a validation split)"
check 'grep -q "\"mzoo-bench-1\"" "$T/b.json"' "JSON results"
"$BIN" bench "$T/zoo.db" -q --xgb-rounds 20 >"$T/b2.txt"
check 'cmp -s "$T/b.txt" "$T/b2.txt"' "two bench runs differ"
"$BIN" bench "$T/ds" -q --xgb-rounds 20 >"$T/b3.txt"
check 'cmp -s "$T/b.txt" "$T/b3.txt"' "bench on the dataset directory differs from bench on the zoo"

# --- usage and errors ---
"$BIN" dataset --help | grep -q -- "--where"
check '[ $? -eq 0 ]' "dataset --help"
"$BIN" dataset "$T/zoo.db" 2>"$T/e1"
check '[ $? -eq 2 ] && grep -q "^mzoo: dataset: missing -o DIR" "$T/e1"' "missing -o is a usage error"
"$BIN" dataset "$T/zoo.db" -o "$T/x" --where "1; DELETE FROM models" 2>"$T/e2"
check '[ $? -eq 2 ] && grep -q "^mzoo: --where" "$T/e2"' "a second statement in --where is refused"
"$BIN" dataset "$T/zoo.db" -o "$T/x" --layers conv7 2>"$T/e3"
check '[ $? -eq 2 ] && grep -q "conv7" "$T/e3"' "unknown layer"
"$BIN" dataset "$T/nope.db" -o "$T/x" 2>"$T/e4"
check '[ $? -eq 1 ] && grep -q "^mzoo: " "$T/e4"' "missing zoo file"
"$BIN" bench "$T/ds" --epochs 1 2>/dev/null
check '[ $? -eq 2 ]' "selection options on a dataset directory"
"$BIN" bench "$T/zoo.db" --models svm 2>/dev/null
check '[ $? -eq 2 ]' "unknown model"
check '[ $(sqlite3 "$T/zoo.db" "SELECT count(*) FROM models" 2>/dev/null || echo 8) -eq 8 ]' "the zoo is intact"

# --- crafted dataset directories and long paths: clear errors, never a crash ---
# npy_file FILE DESCR SHAPE: a .npy file with numpy's v1.0 header and no data
npy_file() {
    local d="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
    local total=$(( (10 + ${#d} + 1 + 63) / 64 * 64 )) hl
    hl=$((total - 10))
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))"
      printf '%s' "$d"; printf "%$((total - 11 - ${#d}))s" ''; printf '\n'; } > "$1"
}
C="$T/crafted"
mkdir -p "$C"
npy_file "$C/x_train.npy" '<f4' '(4611686018427387904, 0)'
npy_file "$C/model_id_train.npy" '<i8' '(4611686018427387904,)'
npy_file "$C/epoch_train.npy" '<i8' '(4611686018427387904,)'
for p in val test; do
    npy_file "$C/x_$p.npy" '<f4' '(0, 0)'
    npy_file "$C/model_id_$p.npy" '<i8' '(0,)'
    npy_file "$C/epoch_$p.npy" '<i8' '(0,)'
done
echo '{"format": "mzoo-dataset-1", "formats": ["npy"]}' > "$C/dataset.json"
echo '{"layer": [[0, "fc"]], "idx_start": [0], "idx_length": [0], "kernel_no": [0], "kernel_size": [0], "channels_in": [0]}' > "$C/index_dict.json"
echo '{"columns": []}' > "$C/properties.json"
"$BIN" bench "$C" -q >/dev/null 2>"$T/e5"
rc=$?
check '[ $rc -eq 1 ] && grep -q "^mzoo: .*x_train.npy: .*4611686018427387904" "$T/e5"' \
    "bench on a crafted (2^62, 0) directory: exit $rc (want 1), $(head -c 300 "$T/e5")"
# an output path whose first 1023 bytes name an existing directory: every file goes into PATH
D="$T/long"
while [ ${#D} -lt 900 ]; do D="$D/$(printf 'd%.0s' $(seq 1 100))"; done
D="$D/$(printf 'e%.0s' $(seq 1 $((1023 - ${#D} - 1))))"
mkdir -p "$D"
"$BIN" dataset "$T/zoo.db" -o "$D/x" -q 2>"$T/e6"
rc=$?
check '[ $rc -eq 0 ] && [ -s "$D/x/dataset.npz" ] && [ -s "$D/x/dataset.json" ] && [ ! -e "$D/dataset.npz" ]' \
    "dataset -o a ${#D}+2-byte path: exit $rc, $(ls "$D" | head -c 200) $(head -c 300 "$T/e6")"
# a path longer than any path buffer is refused before anything is created
P="$T/$(printf 'p%.0s' $(seq 1 5000))"
"$BIN" dataset "$T/zoo.db" -o "$P" -q 2>"$T/e7"
rc=$?
check '[ $rc -eq 1 ] && grep -q "^mzoo: .*path of [0-9]* bytes" "$T/e7"' \
    "dataset -o a 5000-byte path: exit $rc, $(head -c 300 "$T/e7")"

echo "cli_dataset: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
