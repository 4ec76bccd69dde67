#!/usr/bin/env bash
# Zoo files against damage, foreign files, crafted input and read-only storage, end to end:
#  - another program's SQLite database (also one whose header page count is 0, as SQLite < 3.7.0
#    wrote them) is refused by `mzoo train` and keeps every byte;
#  - a run refused for a different spec changes nothing, also on a rollback-journal copy;
#  - info/dataset/verify leave no -wal/-shm beside the zoo; a finished zoo is one file;
#  - a finished zoo opens read-only for another user, in a read-only directory, and as a copy of
#    a WAL-mode file without its -wal/-shm;
#  - 200 random bytes in a blob: integrity_check says ok, `mzoo verify` names the checkpoint, and
#    `mzoo dataset` refuses to serve it;
#  - --where stays one expression (no comment or parenthesis escapes it), and a runaway recursive
#    expression is stopped with a clear error;
#  - control characters quoted from input are escaped in messages.
set -u
BIN=${MZ_BIN:?}
PY=/usr/bin/python3
T=$(mktemp -d)
chmod 755 "$T"
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
hash() { sha256sum "$1" | cut -d' ' -f1; }
no_companions() { [ ! -e "$1-wal" ] && [ ! -e "$1-shm" ] && [ ! -e "$1-journal" ]; }

cat > "$T/spec.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 1, "batch_size": 10,
 "train_subset": 100, "grid": {"activation": "tanh", "seed": [1, 2]}}
JSON
"$BIN" train "$T/spec.json" -o "$T/zoo.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "training the test zoo failed: $(cat "$T/err")"
check 'no_companions "$T/zoo.db"' "a finished run leaves -wal/-shm files beside the zoo"
check '[ "$(sqlite3 "$T/zoo.db" "PRAGMA journal_mode")" = delete ]' "a finished zoo is in rollback-journal mode"
check '[ "$(sqlite3 "$T/zoo.db" "PRAGMA user_version")" = 3 ]' "schema version 3"

# --- another program's database, written by an old SQLite (page count 0 in the header) ---
sqlite3 "$T/other.db" "CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES ('Ada');"
printf '\0\0\0\0' | dd of="$T/other.db" bs=1 seek=28 conv=notrunc status=none
h=$(hash "$T/other.db")
"$BIN" train "$T/spec.json" -o "$T/other.db" -q 2>"$T/err"
rc=$?
check '[ $rc -ne 0 ]' "train into another program's database must fail"
check 'grep -q "another program" "$T/err"' "message names another program's database: $(cat "$T/err")"
check '[ "$(hash "$T/other.db")" = "$h" ]' "another program's database was changed"
check '[ "$(sqlite3 "$T/other.db" "SELECT name FROM sqlite_master")" = contacts ]' "no zoo tables added"

# --- a refused run changes nothing (rollback-journal file, as every finished zoo is now) ---
sed 's/"seed": \[1, 2\]/"seed": [1, 3]/' "$T/spec.json" > "$T/other-spec.json"
h=$(hash "$T/zoo.db")
"$BIN" train "$T/other-spec.json" -o "$T/zoo.db" -q 2>"$T/err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "grid.seed" "$T/err"' "a different spec is refused naming the key: $(cat "$T/err")"
check '[ "$(hash "$T/zoo.db")" = "$h" ] && no_companions "$T/zoo.db"' "a refused run changed the zoo file or left companions"

# --- a finished zoo run again: nothing to do (said so, without an empty progress line), nothing
# written ---
"$BIN" train "$T/spec.json" -o "$T/zoo.db" 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ] && [ "$(hash "$T/zoo.db")" = "$h" ] && no_companions "$T/zoo.db"' "rerunning a finished zoo changed it: $(cat "$T/err")"
check 'grep -q "nothing to do: all 2 models are finished; the zoo file is unchanged" "$T/err" && ! grep -q "ETA\|written to" "$T/err"' \
    "rerunning a finished zoo must say there is nothing to do: $(cat "$T/err")"

# --- reads change nothing in the directory ---
"$BIN" info "$T/zoo.db" >/dev/null 2>&1
"$BIN" verify "$T/zoo.db" >"$T/verify.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "ok: 4 checkpoints" "$T/verify.out"' "verify a sound zoo: $(cat "$T/verify.out")"
"$BIN" dataset "$T/zoo.db" -o "$T/ds" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "dataset on the zoo: $(cat "$T/err")"
check '[ "$(hash "$T/zoo.db")" = "$h" ] && no_companions "$T/zoo.db"' "reading the zoo changed it or left -wal/-shm"

# --- read-only storage ---
mkdir "$T/ro"
cp "$T/zoo.db" "$T/ro/zoo.db"
chmod 444 "$T/ro/zoo.db"
chmod 555 "$T/ro"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    as_nobody "$BIN" info "$T/ro/zoo.db" >"$T/info.out" 2>&1
    rc=$?
    check '[ $rc -eq 0 ] && grep -q "done  *2" "$T/info.out"' "info as another user in a read-only directory: $(cat "$T/info.out")"
    as_nobody "$BIN" verify "$T/ro/zoo.db" >/dev/null 2>&1
    rc=$?
    check '[ $rc -eq 0 ]' "verify as another user in a read-only directory"
    as_nobody "$BIN" dataset "$T/ro/zoo.db" -o /tmp/mz-ro-ds-$$ -q 2>"$T/err"
    rc=$?
    check '[ $rc -eq 0 ]' "dataset as another user: $(cat "$T/err")"
    rm -rf /tmp/mz-ro-ds-$$
    as_nobody "$PY" -c "
import sqlite3, sys
db = sqlite3.connect('file:$T/ro/zoo.db?mode=ro', uri=True)
n = db.execute('SELECT count(*) FROM epochs').fetchone()[0]
sys.exit(0 if n == 4 else 1)" 2>"$T/err"
    rc=$?
    check '[ $rc -eq 0 ]' "plain sqlite3 (Python) reads a finished zoo as another user: $(cat "$T/err")"
    as_nobody "$BIN" train "$T/spec.json" -o "$T/ro/zoo.db" -q 2>"$T/err"
    rc=$?
    check '[ $rc -ne 0 ] && grep -qi "not writable" "$T/err"' "train into a read-only zoo: $(cat "$T/err")"
    # a WAL-mode copy without its -wal/-shm, in a read-only directory
    chmod 755 "$T/ro"
    cp "$T/zoo.db" "$T/ro/wal.db"
    sqlite3 "$T/ro/wal.db" "PRAGMA journal_mode=WAL" >/dev/null
    rm -f "$T/ro/wal.db-wal" "$T/ro/wal.db-shm"
    chmod 555 "$T/ro"
    as_nobody "$BIN" info "$T/ro/wal.db" >"$T/info.out" 2>&1
    rc=$?
    check '[ $rc -eq 0 ] && no_companions "$T/ro/wal.db"' "a WAL-mode copy without -wal/-shm reads in a read-only directory: $(cat "$T/info.out")"
fi
cp "$T/zoo.db" "$T/wal.db"
sqlite3 "$T/wal.db" "PRAGMA journal_mode=WAL" >/dev/null
rm -f "$T/wal.db-wal" "$T/wal.db-shm"
"$BIN" info "$T/wal.db" >/dev/null 2>&1
rc=$?
check '[ $rc -eq 0 ] && no_companions "$T/wal.db"' "a WAL-mode copy read in a writable directory gets no -wal/-shm"

# --- damage inside a blob ---
cp "$T/zoo.db" "$T/dmg.db"
off=$(sqlite3 "$T/dmg.db" "PRAGMA page_size")
# the first overflow page of model 1's epoch-1 weights: find it by its bytes
"$PY" - "$T/dmg.db" <<'PY'
import sqlite3, sys
path = sys.argv[1]
db = sqlite3.connect(path)
blob = db.execute("SELECT weights FROM epochs WHERE model_id = 1 AND epoch = 1").fetchone()[0]
db.close()
data = bytearray(open(path, "rb").read())
at = data.find(blob[4000:4200])
assert at > 0, "blob bytes not found"
data[at:at + 200] = bytes((b ^ 0x5A) for b in data[at:at + 200])
open(path, "wb").write(data)
PY
check '[ "$(sqlite3 "$T/dmg.db" "PRAGMA integrity_check")" = ok ]' "SQLite's integrity check cannot see damage inside a blob"
"$BIN" verify "$T/dmg.db" >"$T/verify.out" 2>&1
rc=$?
check '[ $rc -eq 1 ] && grep -q "model 1 epoch 1: weights are damaged" "$T/verify.out"' "verify names the damaged checkpoint: $(cat "$T/verify.out")"
"$BIN" dataset "$T/dmg.db" -o "$T/ds2" -q 2>"$T/err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "damaged" "$T/err"' "dataset refuses a damaged checkpoint: $(cat "$T/err")"

# info --json and --metrics: machine-readable, exact doubles, per-epoch statistics
"$BIN" info "$T/zoo.db" --json >"$T/info.json" 2>"$T/err"
rc=$?
"$BIN" info "$T/zoo.db" --metrics "$T/metrics.csv" 2>>"$T/err"
rc2=$?
check '[ $rc -eq 0 ] && [ $rc2 -eq 0 ]' "info --json / --metrics failed: $(cat "$T/err")"
"$PY" - "$T/zoo.db" "$T/info.json" "$T/metrics.csv" >"$T/pyout" 2>&1 <<'PY'
import csv, json, sqlite3, statistics, sys
db = sqlite3.connect(sys.argv[1])
info = json.load(open(sys.argv[2]))
assert info["models_by_status"] == {"done": 2}, info["models_by_status"]
last = [r[0] for r in db.execute("SELECT e.test_acc FROM models m JOIN epochs e ON "
                                 "e.model_id = m.id AND e.epoch = m.epochs_done")]
assert info["last_epoch_test_acc"]["median"] == statistics.median(last), info["last_epoch_test_acc"]
assert [e["epoch"] for e in info["epochs"]] == [0, 1], info["epochs"]
for e in info["epochs"]:
    v = sorted(r[0] for r in db.execute("SELECT val_loss FROM epochs WHERE epoch = ?", (e["epoch"],)))
    assert e["val_loss"]["n"] == 2 and e["val_loss"]["min"] == v[0] and e["val_loss"]["max"] == v[1]
rows = list(csv.DictReader(open(sys.argv[3])))
ref = db.execute("SELECT e.model_id, e.epoch, e.train_loss, e.test_acc, m.lr, m.seed FROM epochs e "
                 "JOIN models m ON m.id = e.model_id ORDER BY 1, 2").fetchall()
assert len(rows) == len(ref) == 4, (len(rows), len(ref))
for r, x in zip(rows, ref):
    assert (int(r["model_id"]), int(r["epoch"])) == x[:2], r
    assert float(r["train_loss"]) == x[2] and float(r["test_acc"]) == x[3], (r, x)
    assert float(r["lr"]) == x[4] and int(r["seed"]) == x[5] and r["activation"] == "tanh", r
print("ok")
PY
check '[ "$(tail -1 "$T/pyout")" = ok ]' "info --json / --metrics content: $(cat "$T/pyout")"
"$BIN" info "$T/zoo.db" --bogus >/dev/null 2>"$T/err"
rc=$?
check '[ $rc -eq 2 ] && grep -q "unknown option" "$T/err"' "info rejects an unknown option: $(cat "$T/err")"

# a wrong weights_absmax (which lets selections skip reading a blob) is reported by verify
cp "$T/zoo.db" "$T/am.db"
sqlite3 "$T/am.db" "UPDATE epochs SET weights_absmax = 0.5 WHERE model_id = 1 AND epoch = 1"
"$BIN" verify "$T/am.db" >"$T/verify.out" 2>&1
rc=$?
check '[ $rc -eq 1 ] && grep -q "model 1 epoch 1: weights_absmax is 0.5" "$T/verify.out"' "verify names a wrong weights_absmax: $(cat "$T/verify.out")"
"$BIN" verify "$T/zoo.db" >"$T/verify.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "verify passes the intact zoo's absmax: $(cat "$T/verify.out")"

# --- crafted layout rows: a count of 2^62+200 (offsets after it shifted by 2^62), a shape whose
#     product overflows; and an epochs_done of INT_MAX ---
cp "$T/zoo.db" "$T/lay.db"
sqlite3 "$T/lay.db" "UPDATE layout SET shape = '[8,576460752303423513]', count = 4611686018427388104
    WHERE idx = (SELECT max(idx) FROM layout l2 WHERE l2.variant = layout.variant AND l2.name LIKE '%.weight');
    UPDATE layout SET offset = offset + 4611686018427387904 WHERE idx > (SELECT max(idx) FROM layout l2
    WHERE l2.variant = layout.variant AND l2.name LIKE '%.weight');"
for cmd in "dataset $T/lay.db -o $T/ds4 -q" "verify $T/lay.db" "bench $T/lay.db -q"; do
    "$BIN" $cmd >"$T/out" 2>&1
    rc=$?
    check '[ $rc -eq 1 ] && grep -q "table layout" "$T/out"' "mzoo $cmd on a crafted layout: exit $rc, $(head -c 300 "$T/out")"
done
"$BIN" train "$T/spec.json" -o "$T/lay.db" -q >"$T/out" 2>&1
rc=$?
check '[ $rc -eq 1 ] && grep -q "table layout" "$T/out"' "train (resume) on a crafted layout: exit $rc, $(cat "$T/out")"
cp "$T/zoo.db" "$T/done.db"
sqlite3 "$T/done.db" "UPDATE models SET status = 'running', epochs_done = 2147483647 WHERE id = 0"
"$BIN" train "$T/spec.json" -o "$T/done.db" -q >"$T/out" 2>&1
rc=$?
check '[ $rc -eq 1 ] && grep -q "epochs_done is 2147483647" "$T/out"' "train on epochs_done = INT_MAX: exit $rc, $(cat "$T/out")"

# --- --where is one bounded expression ---
"$BIN" dataset "$T/zoo.db" -o "$T/ds3" -q --where "1) THEN 1 ELSE 0 END, 0 FROM epochs UNION ALL SELECT 99, 0, 'x', 1 /*" 2>"$T/err"
rc=$?
check '[ $rc -eq 2 ] || [ $rc -eq 1 ]' "an expression that closes its parenthesis must fail (exit $rc)"
check 'grep -q "without its" "$T/err"' "the escape attempt is named: $(cat "$T/err")"
rc_a=$rc
"$BIN" dataset "$T/zoo.db" -o "$T/ds3" -q --where "seed = 1 /* unterminated" 2>"$T/err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "unterminated" "$T/err"' "an unterminated comment is refused: $(cat "$T/err")"
check '[ $rc -eq $rc_a ]' "--where errors share one exit code ($rc vs $rc_a)"
"$BIN" dataset "$T/zoo.db" -o "$T/ds3" -q --where "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c) > 0" 2>"$T/err"
rc=$?
check '[ $rc -eq $rc_a ] && grep -q "gave up" "$T/err"' "a runaway recursive expression is stopped: exit $rc, $(cat "$T/err")"
"$BIN" dataset "$T/zoo.db" -o "$T/ds3" -q --where "nosuchcolumn > 1" 2>"$T/err"
rc=$?
check '[ $rc -eq $rc_a ] && grep -q "no such column" "$T/err"' "an unknown column: exit $rc, $(cat "$T/err")"
"$BIN" dataset "$T/zoo.db" -o "$T/ds3" -q --where "seed = 1 AND ')' <> '(' -- a comment" 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "parentheses inside strings and comments are fine: $(cat "$T/err")"

# --- control characters from input are escaped ---
printf '{"dataset": "fashion-mnist", "architecture": "\\u001b[31mEVIL\\u001b[0m\\nsecond", "epochs": 1, "batch_size": 10, "grid": {}}' > "$T/evil.json"
"$BIN" train "$T/evil.json" -o "$T/evil.db" 2>"$T/err"
rc=$?
check '[ $rc -ne 0 ]' "an unknown architecture is refused"
check '! grep -q "$(printf "\033")" "$T/err" && [ "$(wc -l < "$T/err")" -eq 1 ]' "the ESC byte or the newline reached the terminal"
check 'grep -qF "\\x1b[31mEVIL" "$T/err"' "the escape is shown as \\x1b: $(cat "$T/err")"

echo "cli_integrity: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
