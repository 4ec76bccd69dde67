#!/usr/bin/env bash
# Training over several processes with MPI (Open MPI's mpirun on this machine, as root with
# --allow-run-as-root --oversubscribe), against a single process with one thread:
#  - 3 ranks x 1 thread and 2 ranks x 2 threads give the same zoo, bit for bit;
#  - rank 0 killed after a few commits (the whole job dies), then the same command with another
#    number of ranks: the same zoo;
#  - a worker rank killed with SIGKILL mid-run, then a rerun: the same zoo;
#  - a rank that cannot read the data stops every rank before anything is written, naming the
#    rank; twins over several ranks equal twins made by one process.
set -u
BIN=${MZ_BIN:?}
if ! "$BIN" train --help >/dev/null 2>&1; then
    echo "cli_mpi: $BIN does not run" >&2
    exit 1
fi
if ! command -v mpirun >/dev/null; then
    echo "cli_mpi: mpirun not found (apt-get install openmpi-bin libopenmpi-dev, then rebuild)" >&2
    exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
MPI="mpirun --allow-run-as-root --oversubscribe"
content() { sqlite3 "$1" "SELECT model_id, epoch, hex(weights), train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, sparsity FROM epochs ORDER BY 1, 2; SELECT id, status, epochs_done FROM models ORDER BY id"; }

cat > "$T/spec.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 2, "batch_size": 10,
 "train_subset": 300,
 "grid": {"activation": ["tanh", "relu"], "init": "kaiming_uniform", "optimizer": ["adam", "sgd"],
          "lr": 0.001, "momentum": 0.9, "dropout": [0, 0.5], "seed": [1]}}
JSON
"$BIN" train "$T/spec.json" -o "$T/one.db" -j 1 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "one process: $(cat "$T/err")"
content "$T/one.db" > "$T/one.txt"

# a build without MPI says so under mpirun, and this test then has nothing to check
$MPI -np 2 "$BIN" train "$T/spec.json" -o "$T/r3.db" -j 1 -q >"$T/out" 2>&1
rc=$?
if grep -q "built without MPI" "$T/out"; then
    echo "cli_mpi: skipped: this mzoo was built without MPI"
    exit 0
fi
check '[ $rc -eq 0 ] && cmp -s "$T/one.txt" <(content "$T/r3.db")' "2 ranks x 1 thread differ from one process (exit $rc): $(tail -3 "$T/out")"
$MPI -np 3 "$BIN" train "$T/spec.json" -o "$T/r3b.db" -j 1 -q >"$T/out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/one.txt" <(content "$T/r3b.db")' "3 ranks x 1 thread differ from one process (exit $rc): $(tail -3 "$T/out")"
$MPI -np 2 "$BIN" train "$T/spec.json" -o "$T/r2.db" -j 2 >"$T/out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/one.txt" <(content "$T/r2.db")' "2 ranks x 2 threads differ (exit $rc): $(tail -3 "$T/out")"
check '[ $(grep -c "^mzoo: training" "$T/out") -eq 1 ]' "only rank 0 reports: $(head -5 "$T/out")"

# rank 0 dies right after its 5th commit (the job ends), then 3 ranks finish the zoo
$MPI -np 2 "$BIN" train "$T/spec.json" -o "$T/k.db" -j 1 -q --kill-after-commits 5 >"$T/out" 2>&1
rc=$?
check '[ $rc -ne 0 ]' "the killed job must fail"
n=$(sqlite3 "$T/k.db" "SELECT count(*) FROM epochs")
check '[ "$n" -ge 5 ] && [ "$n" -lt 24 ]' "the killed job kept its commits ($n epochs)"
$MPI -np 3 "$BIN" train "$T/spec.json" -o "$T/k.db" -j 1 -q >"$T/out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/one.txt" <(content "$T/k.db")' "killed + resumed on 3 ranks differs (exit $rc): $(tail -3 "$T/out")"

# another rank killed with SIGKILL mid-run, then a rerun on 2 ranks. A zoo with more work than
# the others (seconds per rank), so that the kill lands mid-run; mid-run is told by the victim's
# CPU time, not by commits (the writer commits as units finish). The victim is whichever worker
# rank (1 or 2) has trained half a second first: with mixed populations a rank may get no unit.
cat > "$T/long.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 3, "batch_size": 10,
 "train_subset": 3000,
 "grid": {"activation": ["tanh", "relu"], "init": "kaiming_uniform", "optimizer": ["adam", "sgd"],
          "lr": 0.001, "momentum": 0.9, "dropout": [0, 0.5], "seed": [1, 2]}}
JSON
"$BIN" train "$T/long.json" -o "$T/long1.db" -j 1 -q 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "the longer zoo, one process: $(cat "$T/err")"
content "$T/long1.db" > "$T/long1.txt"
$MPI -np 3 "$BIN" train "$T/long.json" -o "$T/s.db" -j 1 -q >"$T/out" 2>&1 &
job=$!
victim=""
half=$(( $(getconf CLK_TCK) / 2 ))
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
for i in $(seq 1 1200); do
    sleep 0.05
    for p in $(pgrep -f "mzoo train $T/long.json -o $T/s.db" || true); do
        if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=[12]$' &&
            [ "$(cpu_ticks "$p")" -ge "$half" ]; then
            victim=$p
        fi
    done
    [ -n "$victim" ] && break
done
[ -n "$victim" ] && kill -9 "$victim"
wait $job
rc=$?
check '[ -n "$victim" ] && [ $rc -ne 0 ]' "a worker rank was killed and the job failed (exit $rc)"
$MPI -np 2 "$BIN" train "$T/long.json" -o "$T/s.db" -j 1 -q >"$T/out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/long1.txt" <(content "$T/s.db")' "a rank killed + rerun differs (exit $rc): $(tail -3 "$T/out")"

# a rank without the data: refused on every rank before anything is written
$MPI -np 1 "$BIN" train "$T/spec.json" -o "$T/nodata.db" -q : -np 1 "$BIN" train "$T/spec.json" --data "$T/missing" -o "$T/nodata.db" -q >"$T/out" 2>&1
rc=$?
check '[ $rc -ne 0 ] && grep -q "rank 1 (" "$T/out" && grep -q "missing" "$T/out" && [ ! -s "$T/nodata.db" ]' "a rank without data must stop the job before writing (exit $rc): $(cat "$T/out")"

# twins over 2 ranks equal twins made by one process
"$BIN" sparsify "$T/one.db" -o "$T/t1.db" --epochs 1 -j 1 -q --where "m.dropout = 0" 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "twins, one process: $(cat "$T/err")"
$MPI -np 2 "$BIN" sparsify "$T/one.db" -o "$T/t2.db" --epochs 1 -j 1 -q --where "m.dropout = 0" >"$T/out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && cmp -s <(content "$T/t1.db") <(content "$T/t2.db")' "twins over 2 ranks differ (exit $rc): $(tail -3 "$T/out")"

echo "cli_mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
