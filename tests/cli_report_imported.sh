#!/usr/bin/env bash
# mzoo report on imported zoos (fixtures of tools/make_interop_fixtures.py, written by PyTorch):
#  - a Google Small CNN Zoo, whose epochs.epoch holds training steps (meta epoch_unit = step):
#    the page says "step" on its axes, labels and header, its hyperparameters are the config
#    columns that vary (not the modeldir that names each model);
#  - a Model Zoos experiment of Fashion-MNIST CNN-s trials (one with a metrics-only epoch, one
#    diverged): the importer names the dataset from dataset::dump, and the page's prediction
#    disagreement is what torch computes from the source checkpoints;
#  - a Model Zoos experiment of CNN-s and CNN-l: the page says why it has no weight-space plots.
set -u
BIN=${MZ_BIN:?}
SRC=${MZ_SOURCE_DIR:?}
PY=/usr/bin/python3
FX="$SRC/tools/make_interop_fixtures.py"
DATA=/usr/share/datasets/fashion-mnist
if ! "$PY" -c "import torch, numpy" 2>/dev/null; then
    echo "cli_report_imported: needs Debian's python3-torch and python3-numpy" >&2
    exit 1
fi
if [ ! -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
    echo "cli_report_imported: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)" >&2
    exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
# a plot's texts (PLplot writes each character as an entity)
texts() {
    "$PY" - "$1" "$2" <<'PY'
import html, re, sys
t = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<svg[^>]*data-plot="%s".*?</svg>' % re.escape(sys.argv[2]), t, re.S)
print("|".join(html.unescape(re.sub(r"<[^>]+>", "", x)) for x in
               re.findall(r"<text[^>]*>(.*?)</text>", m.group(0), re.S)) if m else "NONE")
PY
}
jq_py() { "$PY" -c "import json,re,sys; d=json.loads(re.search(r'<script type=\"application/json\" id=\"mzoo-data\">(.*?)</script>', open(sys.argv[1]).read(), re.S).group(1)); print($2)" "$1"; }

"$PY" "$FX" modelzoos "$T/mz" :: ctc "$T/c" >"$T/fx.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "fixtures: $(cat "$T/fx.out")"

# --- the Small CNN Zoo: steps --------------------------------------------------------------------
"$BIN" import "$T/c/ctc" -o "$T/g.db" -q >/dev/null 2>&1
check '[ "$(sqlite3 "$T/g.db" "SELECT value FROM meta WHERE key = '"'epoch_unit'"'")" = step ]' \
    "the import says its epochs are steps"
"$BIN" info "$T/g.db" >"$T/g.info" 2>&1
check 'grep -q "at each model.s last step (.* models, steps " "$T/g.info"' "info counts steps: $(grep 'last' "$T/g.info")"
"$BIN" report "$T/g.db" -o "$T/g.html" -q >"$T/g.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "report of the Small CNN Zoo: $(cat "$T/g.out")"
check '[ "$(jq_py "$T/g.html" "d[\"zoos\"][0][\"epoch_unit\"]")" = step ]' "epoch_unit in the data"
steps=$(sqlite3 "$T/g.db" "SELECT group_concat(epoch, ', ') FROM (SELECT DISTINCT epoch FROM epochs ORDER BY epoch)")
check '[ "$(jq_py "$T/g.html" "str(d[\"zoos\"][0][\"epochs\"])[1:-1]")" = "$steps" ]' \
    "the x values are the zoo's steps ($steps)"
for plot in curve-population curve-test_acc curve-train_loss curve-ggap norm-conv1; do
    tx=$(texts "$T/g.html" "z0-$plot")
    check 'echo "|$tx|" | grep -q "|step|" && ! echo "|$tx|" | grep -q "|epoch|"' \
        "$plot: its x axis says step: $tx"
done
tx=$(texts "$T/g.html" z0-pca-epoch)
check 'echo "$tx" | grep -q "coloured by step" && echo "$tx" | grep -q "|step 0|"' \
    "PCA coloured by step: $tx"
check 'grep -q "<th>last step</th><td>2340</td>" "$T/g.html" && grep -q "<th>step rows</th>" "$T/g.html" && grep -q "training steps: each checkpoint" "$T/g.html"' \
    "the header speaks of steps"
check 'grep -q "data-plot=\"z0-box-config.train_fraction\"" "$T/g.html" && ! grep -q "modeldir" "$T/g.html"' \
    "config columns that vary are hyperparameters, the modeldir is not"
check 'grep -q "this zoo&#39;s architecture is &#39;smallcnn&#39;" "$T/g.html"' \
    "why there is no prediction disagreement"

# --- a Model Zoos experiment of Fashion-MNIST CNN-s: disagreement against torch ----------------
mkdir -p "$T/fm"
cp -r "$T"/mz/tune_zoo_fixture/NN_tune_trainable_6e7f1_0000[0-3]_* "$T/fm/"
"$BIN" import "$T/fm" -o "$T/f.db" -q >/dev/null 2>&1
check '[ "$(sqlite3 "$T/f.db" "SELECT value FROM meta WHERE key = '"'dataset'"'")" = fashion-mnist ]' \
    "the dataset named by dataset::dump"
"$BIN" report "$T/f.db" -o "$T/f.html" -q >"$T/f.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "data-plot=\"z0-disagree-hist\"" "$T/f.html" && grep -q "data-plot=\"z0-pca-traj\"" "$T/f.html"' \
    "report of the Model Zoos import (a metrics-only epoch, a NaN checkpoint): $(cat "$T/f.out")"
check '[ "$(jq_py "$T/f.html" "d[\"zoos\"][0][\"epoch_unit\"]")" = epoch ] && grep -q "<th>last epoch</th><td>3</td>" "$T/f.html"' \
    "epochs are epochs"
tx=$(texts "$T/f.html" z0-curve-test_acc)
check 'echo "|$tx|" | grep -q "|epoch|"' "x axis: epoch: $tx"
"$PY" "$FX" check-disagreement "$T/f.html" "$T/fm" "$DATA" >"$T/d.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "disagreement against torch: $(cat "$T/d.out")"

# --- CNN-s and CNN-l in one experiment --------------------------------------------------------
"$BIN" import "$T/mz/tune_zoo_fixture" -o "$T/a.db" -q >/dev/null 2>&1
"$BIN" report "$T/a.db" -o "$T/a.html" -q >"$T/a.out" 2>&1
rc=$?
check '[ $rc -eq 0 ] && grep -q "several architectures, whose checkpoints do not compare" "$T/a.html"' \
    "mixed architectures: $(cat "$T/a.out")"
check 'grep -q "data-plot=\"z0-box-model::type\"" "$T/a.html" && ! grep -q "data-plot=\"z0-box-cuda\"" "$T/a.html"' \
    "hparams that vary are hyperparameters, constant ones are not"

echo "cli_report_imported: $pass passed, $fail failed"
[ $fail -eq 0 ]
