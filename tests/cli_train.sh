#!/usr/bin/env bash
# End to end through the command line on real Fashion-MNIST (a small subset, 2 epochs):
# rows and layout, -j 1 vs -j 2 and grouping give identical bits, resume after a simulated crash
# and after kill -9 gives a zoo identical to an uninterrupted run, a different spec is refused
# without touching the file, bad input gives clear errors.
set -u
BIN=${MZ_BIN:?}
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    echo "cli_train: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)" >&2
    exit 1
fi
command -v sqlite3 >/dev/null || { echo "cli_train: needs the sqlite3 command (apt-get install sqlite3)" >&2; exit 1; }
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
          "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0001, "dropout": [0, 0.5], "seed": [1]}}
JSON

# same content = every epochs row equal (weights blob and all metrics) and all models done
same_zoo() {
    sqlite3 "$1" "ATTACH '$2' AS b;
      SELECT (SELECT count(*) FROM epochs) = (SELECT count(*) FROM b.epochs)
         AND (SELECT count(*) FROM epochs e JOIN b.epochs f USING (model_id, epoch)
              WHERE e.weights = f.weights AND e.train_loss IS f.train_loss AND e.train_acc IS f.train_acc
                AND e.val_loss IS f.val_loss AND e.val_acc IS f.val_acc
                AND e.test_loss IS f.test_loss AND e.test_acc IS f.test_acc) = (SELECT count(*) FROM epochs)
         AND (SELECT count(*) FROM models WHERE status = 'done') = (SELECT count(*) FROM b.models WHERE status = 'done');" 2>&1
}

# dry run
out=$("$BIN" train --dry-run "$T/spec.json")
check '[ "$(echo "$out" | head -1 | cut -d" " -f1)" = 8 ]' "dry run should list 8 models: $out"

# A: two threads
"$BIN" train "$T/spec.json" -o "$T/a.db" -j 2 -q
check '[ $? -eq 0 ]' "train -j 2 failed"
check '[ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM models WHERE status = '"'"'done'"'"'")" = 8 ]' "8 models done"
check '[ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM epochs")" = 24 ]' "24 epoch rows (epochs 0..2)"
check '[ "$(sqlite3 "$T/a.db" "SELECT count(DISTINCT length(weights)) || length(weights) FROM epochs")" = 19856 ]' "weights blobs are 2464 float32"
check '[ "$(sqlite3 "$T/a.db" "SELECT group_concat(name) FROM layout WHERE variant LIKE '"'"'%/dropout'"'"' ORDER BY idx")" = "module_list.0.weight,module_list.0.bias,module_list.4.weight,module_list.4.bias,module_list.8.weight,module_list.8.bias,module_list.11.weight,module_list.11.bias,module_list.14.weight,module_list.14.bias" ]' "dropout layout names"
check '[ "$(sqlite3 "$T/a.db" "SELECT shape FROM layout WHERE name = '"'"'module_list.3.weight'"'"'")" = "[6,8,5,5]" ]' "no-dropout conv2 shape"
check '[ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM epochs WHERE epoch = 0 AND train_acc IS NOT NULL AND val_acc IS NOT NULL AND test_acc IS NOT NULL")" = 8 ]' "epoch 0 has train/val/test metrics"
# models without dropout learn (0.41-0.62 here); with dropout 0.5, 2 epochs on 1000 images leave
# relu models at chance, as PyTorch does with the same settings
check '[ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM epochs e JOIN models m ON m.id = e.model_id WHERE e.epoch = 2 AND m.dropout = 0 AND e.test_acc > 0.35")" = 4 ]' "models without dropout learn (test acc > 0.35 after 2 epochs on 1000 images)"
# models with the same seed and init share their initial weights (as in the reference)
check '[ "$(sqlite3 "$T/a.db" "SELECT count(DISTINCT weights) FROM epochs WHERE epoch = 0")" = 1 ]' "identical epoch-0 weights for the same seed/init"

# B: one thread, one model per population: identical bits
"$BIN" train "$T/spec.json" -o "$T/b.db" -j 1 --group 1 -q
check '[ "$(same_zoo "$T/a.db" "$T/b.db")" = 1 ]' "-j 1 --group 1 differs from -j 2"

# C: crash after 3 commits (exit 137 inside the writer), then resume
"$BIN" train "$T/spec.json" -o "$T/c.db" -j 2 -q --kill-after-commits 3
check '[ $? -eq 137 ]' "simulated crash should exit 137"
partial=$(sqlite3 "$T/c.db" "SELECT count(*) FROM epochs")
check '[ "$partial" -gt 0 ] && [ "$partial" -lt 24 ]' "crash left a partial zoo ($partial rows)"
"$BIN" train "$T/spec.json" -o "$T/c.db" -j 1 -q
check '[ "$(same_zoo "$T/a.db" "$T/c.db")" = 1 ]' "resumed zoo differs from uninterrupted one"
# running again on a finished zoo does nothing and keeps it intact
"$BIN" train "$T/spec.json" -o "$T/c.db" -q
check '[ "$(same_zoo "$T/a.db" "$T/c.db")" = 1 ]' "re-running a finished zoo changed it"

# D: kill -9 at a random moment mid-training, then resume
"$BIN" train "$T/spec.json" -o "$T/d.db" -j 2 -q &
pid=$!
sleep 2
# meanwhile a second writer on the same file is refused at once, naming the lock
msg=$("$BIN" train "$T/spec.json" -o "$T/d.db" -q 2>&1)
rc=$?
if kill -0 $pid 2>/dev/null; then
    check '[ $rc -ne 0 ] && echo "$msg" | grep -q "locked by another mzoo process"' "second writer: rc $rc, $msg"
fi
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
"$BIN" train "$T/spec.json" -o "$T/d.db" -j 2 -q
check '[ "$(same_zoo "$T/a.db" "$T/d.db")" = 1 ]' "zoo resumed after kill -9 differs"

# E: a different spec is refused, the file untouched
sed 's/"lr": 0.001/"lr": 0.002/' "$T/spec.json" > "$T/other.json"
sum=$(sha256sum "$T/a.db" | cut -d" " -f1)
msg=$("$BIN" train "$T/other.json" -o "$T/a.db" -q 2>&1)
check '[ $? -ne 0 ]' "different spec should fail"
check 'echo "$msg" | grep -q "lr"' "mismatch message should name the differing key: $msg"
check '[ "$(sha256sum "$T/a.db" | cut -d" " -f1)" = "$sum" ]' "refused zoo file was modified"

# F: bad input
echo '{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 1, "batch_size": 10, "grid": {"activation": "tanhh"}}' > "$T/bad.json"
msg=$("$BIN" train "$T/bad.json" -o "$T/bad.db" 2>&1)
check '[ $? -ne 0 ] && echo "$msg" | grep -q "grid.activation" && [ ! -e "$T/bad.db" ]' "bad spec: $msg"
msg=$("$BIN" train "$T/spec.json" --data "$T/nowhere" -o "$T/nodata.db" 2>&1)
check '[ $? -ne 0 ] && echo "$msg" | grep -q "dataset-fashion-mnist" && [ ! -e "$T/nodata.db" ]' "missing data: $msg"
echo "not a zoo" > "$T/text.db"
msg=$("$BIN" train "$T/spec.json" -o "$T/text.db" -q 2>&1)
check '[ $? -ne 0 ] && [ "$(cat "$T/text.db")" = "not a zoo" ]' "non-zoo output file must be refused and kept: $msg"
echo '{"dataset": "cifar10", "architecture": "resnet18", "epochs": 1, "batch_size": 32, "grid": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "seed": 1}}' > "$T/rn.json"
msg=$("$BIN" train "$T/rn.json" --group 2 -o "$T/rn.db" 2>&1)
check '[ $? -ne 0 ] && echo "$msg" | grep -q "resnet18 trains one model per thread" && [ ! -e "$T/rn.db" ]' "resnet18 --group must be refused: $msg"

# info
out=$("$BIN" info "$T/a.db")
check 'echo "$out" | grep -q "median test accuracy by activation"' "info output: $out"

echo "cli_train: $pass passed, $fail failed"
[ $fail -eq 0 ]
