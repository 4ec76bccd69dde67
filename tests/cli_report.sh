#!/usr/bin/env bash
# mzoo report on synthetic zoos (mzoo-synth-zoo: 64 CNN-s models over 6 epochs, some diverged or
# at chance, and 24 magnitude twins):
#  - the numbers behind the plots (per-epoch quantiles, box plots, counts, PCA, trajectories,
#    distances, disagreement) agree with numpy reading the zoo with sqlite3 (report_numbers.py),
#    for one zoo and for a zoo beside its twins;
#  - the page needs nothing but itself: no script besides the JSON data block, no outside
#    address, nothing fetched; the same command writes the same bytes;
#  - --where, --by and --epochs do what they say; errors (an unknown hyperparameter, a bad
#    expression, a missing zoo, a file that is not a zoo, no -o) leave no page behind.
# The page in a real browser: cli_report_browser.sh.
set -u
BIN=${MZ_BIN:?}
SYNTH=${MZ_SYNTH:?}
SRC=${MZ_SOURCE_DIR:?}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
$PY -c 'import numpy' 2>/dev/null || { echo "cli_report: needs numpy for /usr/bin/python3 (apt-get install python3-numpy)" >&2; exit 1; }
jq_py() { $PY -c "import json,re,sys; d=json.loads(re.search(r'<script type=\"application/json\" id=\"mzoo-data\">(.*?)</script>', open(sys.argv[1]).read(), re.S).group(1)); print($2)" "$1"; }

"$SYNTH" -o "$T/s.db" --models 64 --epochs 6 && "$SYNTH" -o "$T/t.db" --models 24 --epochs 5 --twin
rc=$?
check '[ $rc -eq 0 ]' "writing the synthetic zoos"

"$BIN" report "$T/s.db" -o "$T/s.html" -q --pred-images 100 >"$T/out" 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/s.html" ] && [ ! -e "$T/s.html.tmp" ]' "report of one zoo: $(cat "$T/err")"
check 'grep -q "the report is in .*s.html (" "$T/out"' "says where the report is: $(cat "$T/out")"
$PY "$SRC/tests/report_numbers.py" "$T/s.html" "$T/s.db" >"$T/num" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "numbers of one zoo: $(tail -5 "$T/num")"

"$BIN" report "$T/s.db" "$T/t.db" -o "$T/st.html" -q --pred-images 100 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "report of a zoo and twins: $(cat "$T/err")"
$PY "$SRC/tests/report_numbers.py" "$T/st.html" "$T/s.db" "$T/t.db" >"$T/num" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "numbers of two zoos: $(tail -5 "$T/num")"
check '[ "$(jq_py "$T/st.html" "d[\"zoos\"][1][\"by\"]")" = "twin method" ]' "twins are banded by their method"
check 'grep -q "data-plot=\"z1-twin-path\"" "$T/st.html" && grep -q "data-plot=\"z1-twin-final\"" "$T/st.html"' "twin plots"
check 'grep -q "data-plot=\"z0-disagree-hist\"" "$T/s.html"' "prediction disagreement plotted (is dataset-fashion-mnist installed?)"

# self-contained: one script element, the JSON block; no outside address but the SVG namespace
n_script=$(grep -o "<script" "$T/st.html" | wc -l)
check '[ "$n_script" -eq 1 ] && grep -q "<script type=\"application/json\" id=\"mzoo-data\">" "$T/st.html"' "$n_script script elements"
check '! grep -o "https\?://[^\" ]*" "$T/st.html" | grep -v "^http://www.w3.org/2000/svg$" | grep -q .' "outside addresses: $(grep -o "https\?://[^\" ]*" "$T/st.html" | sort -u | head -3)"
check '! grep -qi "<img\|<link\|<iframe\|src=" "$T/st.html"' "the page loads nothing"
"$BIN" report "$T/s.db" -o "$T/s2.html" -q --pred-images 100 2>/dev/null
sed 's/s2\.html/s.html/' "$T/s2.html" > "$T/s2n.html"
check 'cmp -s "$T/s.html" "$T/s2n.html"' "the same command wrote different pages"

# --where, --by, --epochs
"$BIN" report "$T/s.db" -o "$T/w.html" -q --pred-images 0 --where "m.optimizer = 'adam' AND e.epoch <= 4" --by lr --epochs 0,4 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ]' "report with --where: $(cat "$T/err")"
want=$(sqlite3 "$T/s.db" "SELECT count(*) FROM epochs e JOIN models m ON m.id = e.model_id WHERE m.optimizer = 'adam' AND e.epoch <= 4")
check '[ "$(jq_py "$T/w.html" "d[\"zoos\"][0][\"n_kept_rows\"]")" = "$want" ]' "--where keeps $want rows"
check '[ "$(jq_py "$T/w.html" "d[\"zoos\"][0][\"by\"]")" = "lr" ]' "--by lr"
check '[ "$(jq_py "$T/w.html" "sorted(set(d[\"zoos\"][0][\"pca\"][\"epochs\"]))")" = "[0, 4]" ]' "--epochs 0,4"
check '[ "$(jq_py "$T/w.html" "d[\"zoos\"][0][\"final_test_acc\"][\"optimizer\"] if \"optimizer\" in d[\"zoos\"][0][\"final_test_acc\"] else \"none\"")" = "none" ]' "one optimizer left: no optimizer box plot"
check 'grep -q "Rows selected with <code>--where m.optimizer = &#39;adam&#39;" "$T/w.html"' "the header shows the expression, escaped"

# errors
"$BIN" report "$T/s.db" -o "$T/e.html" --by colour -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "no such hyperparameter (this zoo has: activation" "$T/err" && [ ! -e "$T/e.html" ]' "unknown --by: rc $rc $(cat "$T/err")"
"$BIN" report "$T/s.db" -o "$T/e.html" --where "1; DROP TABLE models" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "\-\-where" "$T/err" && [ ! -e "$T/e.html" ]' "bad --where: rc $rc $(cat "$T/err")"
"$BIN" report "$T/none.db" -o "$T/e.html" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && [ ! -e "$T/e.html" ] && [ ! -e "$T/none.db" ]' "missing zoo: rc $rc $(cat "$T/err")"
echo "not a zoo" > "$T/x.db"
"$BIN" report "$T/x.db" -o "$T/e.html" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 1 ] && [ ! -e "$T/e.html" ] && [ "$(cat "$T/x.db")" = "not a zoo" ]' "not a zoo: rc $rc $(cat "$T/err")"
"$BIN" report "$T/s.db" -q 2>"$T/err"
rc=$?
check '[ $rc -eq 2 ] && grep -q "usage: mzoo report" "$T/err"' "no -o: rc $rc"
"$BIN" report "$T/s.db" -o "$T/e.html" --max-points x 2>"$T/err"
rc=$?
check '[ $rc -eq 2 ] && grep -q "max-points" "$T/err"' "bad --max-points: rc $rc"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
