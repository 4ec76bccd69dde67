#!/usr/bin/env bash
# Zoo files on read-only and shared storage, end to end (docs/FORMAT.md, "Read-only and shared
# storage"):
#  - a run that stops on Ctrl-C says so at once (and how to quit now) and leaves one file in
#    rollback-journal mode, like a finished run;
#  - a finished zoo, chmod 0444 in a chmod 0555 directory and read by another user (as root:
#    setpriv to nobody), and on a read-only bind mount (as root: unshare -m; skipped where mounts
#    are not permitted), opens with every mzoo reader (info, verify, dataset, bench, report,
#    export), with the sqlite3 command (file:...?mode=ro), with docs/FORMAT.md's Python example
#    run as written and with the Python package; nothing is created beside it;
#  - a WAL-mode copy without its -wal/-shm opens with mzoo on the read-only mount;
#  - a WAL-mode copy whose -wal holds commits, without -shm, on the read-only mount: mzoo names
#    the -shm file it needs, never "not a complete zoo file";
#  - training into a zoo on read-only storage is refused, naming the file.
set -u
BIN=${MZ_BIN:?}
SYNTH=${MZ_SYNTH:?}
SRC=${MZ_SOURCE_DIR:?}
PY=/usr/bin/python3
LIB=$(cd "$(dirname "$BIN")" && pwd)/libmzoo.so.0
T=$(mktemp -d)
chmod 755 "$T"
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
pass=0 fail=0 skipped=""
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
no_companions() { [ ! -e "$1-wal" ] && [ ! -e "$1-shm" ] && [ ! -e "$1-journal" ]; }
mode() { sqlite3 "$1" "PRAGMA journal_mode"; }

# --- a run stopped by Ctrl-C folds its WAL like a finished one ---
cat > "$T/spec.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 40, "batch_size": 10,
 "train_subset": 200, "grid": {"activation": "tanh", "seed": [1, 2]}}
JSON
"$BIN" train "$T/spec.json" -o "$T/stop.db" -j 1 -q 2>"$T/err" &
pid=$!
for _ in $(seq 600); do # until the first commit (the data is loaded first)
    n=$(sqlite3 "file:$T/stop.db?mode=ro" "SELECT count(*) FROM epochs" 2>/dev/null)
    [ "${n:-0}" -gt 0 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
check '[ $rc -ne 0 ] && [ "$(mode "$T/stop.db")" = delete ] && no_companions "$T/stop.db"' \
    "a run stopped by Ctrl-C (exit $rc) leaves one file in rollback-journal mode: $(mode "$T/stop.db"); $(ls "$T"); $(cat "$T/err")"
check 'grep -q "^mzoo: stopping after the epochs in flight (committed epochs are kept); press Ctrl-C again to quit now$" "$T/err"' \
    "the first Ctrl-C says what happens and how to quit at once: $(cat "$T/err")"

# --- the zoo the reads below share: finished, rollback-journal mode ---
"$SYNTH" -o "$T/zoo.db" --models 6 --epochs 3 >/dev/null
check '[ "$(mode "$T/zoo.db")" = delete ] && no_companions "$T/zoo.db"' "a finished zoo is one file in rollback-journal mode"
epochs=$(sqlite3 "$T/zoo.db" "SELECT count(*) FROM epochs")

# docs/FORMAT.md's Python example, exactly as written (it reads fmnist-demo.db in the current
# directory), ending with a check of what it read
"$PY" - "$SRC/docs/FORMAT.md" > "$T/format_example.py" <<'PY'
import re, sys
doc = open(sys.argv[1]).read()
at = doc.index("## Reading a zoo from Python, without mzoo")
print(re.search(r"```python\n(.*?)```", doc[at:], re.S).group(1))
print("assert len(rows) > 0 and len(state_dict) > 0, 'the example read nothing'")
PY

# the Python package and the library where another user can read them (a checkout, or the build
# directory, may be private to its owner)
mkdir "$T/pkg"
cp -r "$SRC/python/mzoo" "$T/pkg/"
cp "$LIB" "$T/pkg/libmzoo.so.0"
chmod -R a+rX "$T/pkg"

# all the reads, in directory $1 on zoo file $1/$2, writing outputs under $3; as "$RUN"
reads() {
    local d=$1 z=$1/$2 out=$3 what=$4 rc
    $RUN "$BIN" info "$z" >"$out/info.out" 2>&1
    rc=$?
    check '[ $rc -eq 0 ] && grep -q "done  *6" "$out/info.out"' "$what: info: $(cat "$out/info.out")"
    $RUN "$BIN" verify "$z" >"$out/verify.out" 2>&1
    rc=$?
    check '[ $rc -eq 0 ]' "$what: verify: $(cat "$out/verify.out")"
    $RUN "$BIN" dataset "$z" -o "$out/ds" -q >"$out/err" 2>&1
    rc=$?
    check '[ $rc -eq 0 ] && [ -e "$out/ds/dataset.json" ]' "$what: dataset: $(cat "$out/err")"
    $RUN "$BIN" bench "$z" --models ridge --threads 1 >"$out/err" 2>&1
    rc=$?
    check '[ $rc -eq 0 ]' "$what: bench: $(cat "$out/err")"
    $RUN "$BIN" report "$z" -o "$out/r.html" --pred-images 0 -q >"$out/err" 2>&1
    rc=$?
    check '[ $rc -eq 0 ] && [ -s "$out/r.html" ]' "$what: report: $(cat "$out/err")"
    $RUN "$BIN" export "$z" -o "$out/st" --format safetensors -q >"$out/err" 2>&1
    rc=$?
    check '[ $rc -eq 0 ]' "$what: export: $(cat "$out/err")"
    n=$($RUN sqlite3 "file:$z?mode=ro" "SELECT count(*) FROM epochs" 2>"$out/err")
    check '[ "$n" = "$epochs" ]' "$what: sqlite3 'file:...?mode=ro' reads $n epochs: $(cat "$out/err")"
    (cd "$d" && $RUN "$PY" "$T/format_example.py") >"$out/err" 2>&1
    rc=$?
    check '[ $rc -eq 0 ]' "$what: docs/FORMAT.md's Python example: $(cat "$out/err")"
    # a sanitizer build's library cannot be loaded into Python (the sanitizer runtime must be
    # the process's first library): the package's reads are checked by the release build's run
    if ! ldd "$LIB" 2>/dev/null | grep -q 'lib[atu]san'; then
        $RUN env PYTHONPATH="$T/pkg" MZOO_LIBRARY="$T/pkg/libmzoo.so.0" PYTHONDONTWRITEBYTECODE=1 "$PY" -c "
import mzoo
z = mzoo.open('$z')
assert len(z.metrics()) == $epochs, len(z.metrics())" >"$out/err" 2>&1
        rc=$?
        check '[ $rc -eq 0 ]' "$what: the Python package (mzoo.open): $(cat "$out/err")"
    fi
    check 'no_companions "$z"' "$what: the reads left files beside the zoo: $(ls -a "$d")"
    $RUN "$BIN" train "$T/spec.json" -o "$z" -q >"$out/err" 2>&1
    rc=$?
    check '[ $rc -ne 0 ] && grep -q "not writable" "$out/err"' "$what: train into it must be refused: $(cat "$out/err")"
}

# --- a read-only file in a read-only directory, read by another user ---
mkdir "$T/ro" "$T/out1"
cp "$T/zoo.db" "$T/ro/fmnist-demo.db"
chmod 444 "$T/ro/fmnist-demo.db"
chmod 555 "$T/ro"
chmod 777 "$T/out1"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    RUN="setpriv --reuid=65534 --regid=65534 --clear-groups"
    reads "$T/ro" fmnist-demo.db "$T/out1" "chmod 0444 file, 0555 directory, another user"
elif [ "$(id -u)" != 0 ]; then
    RUN=""
    reads "$T/ro" fmnist-demo.db "$T/out1" "chmod 0444 file, 0555 directory"
else
    skipped="$skipped another-user(no setpriv)"
fi

# --- a read-only mount (root only, in a private mount namespace) ---
mkdir "$T/src" "$T/mnt" "$T/out2"
cp "$T/zoo.db" "$T/src/fmnist-demo.db"
# a WAL-mode copy without -wal/-shm (what copying only zoo.db of a running zoo gives)
cp "$T/zoo.db" "$T/src/bare.db"
sqlite3 "$T/src/bare.db" "PRAGMA journal_mode=WAL" >/dev/null
rm -f "$T/src/bare.db-wal" "$T/src/bare.db-shm"
# a WAL-mode copy whose -wal holds a commit, without -shm (a killed run copied without -shm)
"$PY" - "$T/src" <<'PY'
import shutil, sqlite3, sys
d = sys.argv[1]
shutil.copy(d + "/fmnist-demo.db", d + "/live.db")
db = sqlite3.connect(d + "/live.db", isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA wal_autocheckpoint=0")
db.execute("UPDATE models SET epochs_done = epochs_done WHERE id = 1")
db.execute("INSERT INTO meta(key, value) VALUES ('test-note', 'in the wal')")
shutil.copy(d + "/live.db", d + "/killed.db")
shutil.copy(d + "/live.db-wal", d + "/killed.db-wal")
db.close()
PY
rm -f "$T/src/live.db"*
if unshare -m true 2>/dev/null && unshare -m sh -c "mount --bind -o ro '$T/src' '$T/mnt'" 2>/dev/null; then
    cat > "$T/inmount.sh" <<SH
set -u
mount --bind -o ro '$T/src' '$T/mnt' || exit 3
touch '$T/mnt/probe' 2>/dev/null && exit 4
. '$T/funcs.sh'
RUN=""
reads '$T/mnt' fmnist-demo.db '$T/out2' "read-only mount"
"$BIN" info '$T/mnt/bare.db' >'$T/out2/bare.out' 2>&1
rc=\$?
check '[ \$rc -eq 0 ] && grep -q "done  *6" "$T/out2/bare.out"' "read-only mount: a WAL-mode copy without -wal/-shm: \$(cat '$T/out2/bare.out')"
n=\$(sqlite3 'file:$T/mnt/bare.db?mode=ro&immutable=1' "SELECT count(*) FROM epochs" 2>&1)
check '[ "\$n" = "$epochs" ]' "read-only mount: sqlite3 with immutable=1 on a WAL-mode copy: \$n"
"$BIN" info '$T/mnt/killed.db' >'$T/out2/killed.out' 2>&1
rc=\$?
check '[ \$rc -ne 0 ] && grep -q "killed.db-shm" "$T/out2/killed.out" && ! grep -q "not a complete" "$T/out2/killed.out"' \
    "read-only mount: a -wal with commits but no -shm is named: \$(cat '$T/out2/killed.out')"
echo "\$pass \$fail" > '$T/counts'
SH
    declare -f ok bad check no_companions reads > "$T/funcs.sh"
    printf 'BIN=%q SYNTH=%q PY=%q T=%q SRC=%q LIB=%q epochs=%q pass=0 fail=0\n' "$BIN" "$SYNTH" "$PY" "$T" \
        "$SRC" "$LIB" "$epochs" >> "$T/funcs.sh"
    chmod 777 "$T/out2"
    unshare -m bash "$T/inmount.sh"
    rc=$?
    if [ $rc -eq 0 ] && [ -s "$T/counts" ]; then
        read -r p f < "$T/counts"
        pass=$((pass + p)) fail=$((fail + f))
    else
        bad "the read-only mount checks did not run (exit $rc)"
    fi
else
    skipped="$skipped read-only-mount(not permitted here)"
fi

[ -n "$skipped" ] && echo "skipped:$skipped"
echo "cli_readonly: $pass passed, $fail failed"
[ $fail -eq 0 ]
