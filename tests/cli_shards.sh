#!/usr/bin/env bash
# Zoos made in parts, and zoos that grow:
#  - three shards (mzoo train --shard K/3) merged equal a single run, bit for bit, and the parts
#    are left as they were; a missing shard, an unfinished shard, parts of other specs and an
#    existing output are refused with nothing written;
#  - a finished zoo trained again with a spec that adds an activation and a seed keeps its models
#    and trains only the new ones: the result equals a fresh run of the larger grid; a spec that
#    drops models is refused and the file keeps every byte.
set -u
BIN=${MZ_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
hash() { sha256sum "$1" | cut -d' ' -f1; }
content() { sqlite3 "$1" "SELECT model_id, epoch, hex(weights), weights_crc32, train_loss, train_acc, val_loss, val_acc, test_loss, test_acc FROM epochs ORDER BY 1, 2; SELECT id, variant, activation, optimizer, dropout, seed, status, epochs_done, message FROM models ORDER BY id; SELECT count(*) FROM resume"; }

spec() { # spec FILE ACTIVATIONS SEEDS
    cat > "$1" <<JSON
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 2, "batch_size": 10,
 "train_subset": 200,
 "grid": {"activation": $2, "init": "kaiming_uniform", "optimizer": ["adam", "sgd"],
          "lr": 0.001, "momentum": 0.9, "dropout": [0, 0.5], "seed": $3}}
JSON
}
spec "$T/small.json" '["tanh"]' '[1]'
spec "$T/big.json" '["tanh", "relu"]' '[1, 2]'

"$BIN" train "$T/small.json" -o "$T/one.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "single run: $(cat "$T/err")"

# --- shards ---
for k in 0 1 2; do
    "$BIN" train "$T/small.json" --shard $k/3 -o "$T/p$k.db" -j 1 -q 2>"$T/err"
    rc=$?
    check '[ $rc -eq 0 ]' "shard $k/3: $(cat "$T/err")"
done
check '[ "$(sqlite3 "$T/p1.db" "SELECT group_concat(id) FROM models WHERE status = '\''done'\''")" = "1" ]' "shard 1/3 trains model 1 only (4 models)"
hp=$(cat "$T/p0.db" "$T/p1.db" "$T/p2.db" | sha256sum)
"$BIN" merge "$T/p0.db" "$T/p2.db" -o "$T/m.db" 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "shard 1/3 is missing" "$T/err" && [ ! -e "$T/m.db" ]' "a missing shard: $(cat "$T/err")"
"$BIN" merge "$T/p0.db" "$T/p1.db" "$T/p2.db" -o "$T/m.db" 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ] && cmp -s <(content "$T/one.db") <(content "$T/m.db")' "merged shards differ from a single run: $(cat "$T/err")"
check '[ "$(cat "$T/p0.db" "$T/p1.db" "$T/p2.db" | sha256sum)" = "$hp" ]' "merging changed a part"
"$BIN" merge "$T/p0.db" "$T/p1.db" "$T/p2.db" -o "$T/m.db" 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "exists" "$T/err"' "merging onto an existing file: $(cat "$T/err")"
"$BIN" verify "$T/m.db" >/dev/null 2>&1
rc=$?
check '[ $rc -eq 0 ]' "the merged zoo verifies"
# an unfinished shard: killed after its first commit
"$BIN" train "$T/small.json" --shard 1/3 -o "$T/q1.db" -j 1 -q --kill-after-commits 1 2>/dev/null
"$BIN" merge "$T/p0.db" "$T/q1.db" "$T/p2.db" -o "$T/m2.db" 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "model 1 of shard 1/3" "$T/err" && grep -q "running" "$T/err" && [ ! -e "$T/m2.db" ]' "an unfinished shard: $(cat "$T/err")"
# a part of another spec
"$BIN" train "$T/big.json" --shard 1/3 -o "$T/x1.db" -j 1 -q 2>/dev/null
"$BIN" merge "$T/p0.db" "$T/x1.db" "$T/p2.db" -o "$T/m3.db" 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "not shards of one zoo" "$T/err" && [ ! -e "$T/m3.db" ]' "parts of other specs: $(cat "$T/err")"
# a shard file is not the whole zoo, nor another shard
"$BIN" train "$T/small.json" -o "$T/p1.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "shard 1/3 of a zoo" "$T/err"' "a shard trained as a whole zoo: $(cat "$T/err")"

# --- growing a zoo ---
cp "$T/one.db" "$T/grow.db"
"$BIN" train "$T/big.json" -o "$T/grow.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "growing a zoo: $(cat "$T/err")"
"$BIN" train "$T/big.json" -o "$T/fresh.db" -q 2>"$T/err"
check 'cmp -s <(content "$T/fresh.db") <(content "$T/grow.db")' "a grown zoo differs from a fresh run of the larger grid"
check '[ "$(sqlite3 "$T/grow.db" "SELECT value FROM meta WHERE key = '\''n_models'\''")" = 16 ]' "the grown zoo records 16 models"
h=$(hash "$T/grow.db")
"$BIN" train "$T/small.json" -o "$T/grow.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "grid.activation" "$T/err" && [ "$(hash "$T/grow.db")" = "$h" ]' "a spec that drops models is refused untouched: $(cat "$T/err")"

echo "cli_shards: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
