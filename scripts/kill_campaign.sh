#!/usr/bin/env bash
# Kill campaign (not part of the default suite; docs/RELIABILITY.md): trains a small zoo once
# without interruption, then N times from scratch with SIGKILL sent at random moments until the
# run finishes on its own, resuming after each kill. Every interrupted zoo must end bit-identical to
# the uninterrupted one (every epochs row: weights and metrics) with PRAGMA integrity_check ok and
# `mzoo verify` clean.
#
#   scripts/kill_campaign.sh [TRIALS] [MZOO_BINARY]     (default 100 trials, build/mzoo)
set -u
cd "$(dirname "$0")/.."
trials=${1:-100}
BIN=${2:-build/mzoo}
command -v sqlite3 >/dev/null || { echo "kill_campaign: needs sqlite3" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/spec.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 3, "batch_size": 10,
 "train_subset": 400,
 "grid": {"activation": ["tanh", "relu"], "optimizer": ["adam", "sgd"], "lr": 0.001,
          "momentum": 0.9, "dropout": [0, 0.5], "seed": [1, 2]}}
JSON
same_zoo() {
    sqlite3 "$1" "ATTACH '$2' AS b;
      SELECT (SELECT count(*) FROM epochs) = (SELECT count(*) FROM b.epochs)
         AND (SELECT count(*) FROM epochs e JOIN b.epochs f USING (model_id, epoch)
              WHERE e.weights = f.weights AND e.train_loss IS f.train_loss
                AND e.train_acc IS f.train_acc AND e.val_loss IS f.val_loss
                AND e.val_acc IS f.val_acc AND e.test_loss IS f.test_loss
                AND e.test_acc IS f.test_acc) = (SELECT count(*) FROM epochs)
         AND (SELECT count(*) FROM models WHERE status = 'done') =
             (SELECT count(*) FROM b.models WHERE status = 'done');"
}
start=$(date +%s.%N)
"$BIN" train "$T/spec.json" -o "$T/ref.db" -j 2 -q || { echo "reference run failed" >&2; exit 1; }
ref_s=$(echo "$(date +%s.%N) - $start" | bc)
kills=0 failed=0
for ((t = 1; t <= trials; t++)); do
    rm -f "$T/z.db" "$T/z.db-wal" "$T/z.db-shm"
    for ((round = 0; round < 50; round++)); do
        "$BIN" train "$T/spec.json" -o "$T/z.db" -j 2 -q 2>>"$T/log" &
        pid=$!
        # a random moment within the reference run's duration
        sleep "$(awk -v s="$ref_s" -v r=$RANDOM 'BEGIN { printf "%.3f", s * r / 32768 }')"
        if kill -9 $pid 2>/dev/null; then
            wait $pid 2>/dev/null
            kills=$((kills + 1))
            [ "$(sqlite3 "$T/z.db" 'PRAGMA integrity_check' 2>&1)" = ok ] ||
                { echo "trial $t: integrity_check after a kill failed" >&2; failed=$((failed + 1)); }
        else
            wait $pid
            rc=$?
            [ $rc -eq 0 ] || { echo "trial $t: a run exited with $rc" >&2; failed=$((failed + 1)); }
            break
        fi
    done
    "$BIN" train "$T/spec.json" -o "$T/z.db" -j 2 -q || { echo "trial $t: final run failed" >&2; failed=$((failed + 1)); }
    [ "$(same_zoo "$T/z.db" "$T/ref.db")" = 1 ] || { echo "trial $t: zoo differs" >&2; failed=$((failed + 1)); }
    [ "$(sqlite3 "$T/z.db" 'PRAGMA integrity_check')" = ok ] || { echo "trial $t: integrity" >&2; failed=$((failed + 1)); }
    "$BIN" verify "$T/z.db" >/dev/null || { echo "trial $t: verify" >&2; failed=$((failed + 1)); }
done
echo "kill_campaign: $trials trials, $kills kills survived, $failed failures (reference run ${ref_s%.*} s)"
[ $failed -eq 0 ]
