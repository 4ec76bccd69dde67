#!/usr/bin/env bash
# The report as a person sees it: pages of a synthetic zoo, and of a zoo beside its twins, loaded
# in headless Chromium (Debian's chromium) by report_browser.py: no console error, nothing
# fetched, every plot present with its texts inside it and not overlapping, nothing past the
# window's edge, and in a full-page screenshot no plot blank.
set -u
BIN=${MZ_BIN:?}
SYNTH=${MZ_SYNTH:?}
SRC=${MZ_SOURCE_DIR:?}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
command -v chromium >/dev/null || { echo "cli_report_browser: needs chromium (apt-get install chromium)" >&2; exit 1; }
$PY -c 'import numpy, PIL' 2>/dev/null || { echo "cli_report_browser: needs numpy and PIL for /usr/bin/python3 (apt-get install python3-numpy python3-pil)" >&2; exit 1; }
pass=0 fail=0
"$SYNTH" -o "$T/s.db" --models 64 --epochs 6 && "$SYNTH" -o "$T/t.db" --models 24 --epochs 5 --twin || { echo "FAIL: synthetic zoos" >&2; exit 1; }
for page in one two; do
    if [ $page = one ]; then zoos=("$T/s.db"); else zoos=("$T/s.db" "$T/t.db"); fi
    if ! "$BIN" report "${zoos[@]}" -o "$T/$page.html" -q --pred-images 200 2>"$T/err"; then
        echo "FAIL: report $page: $(cat "$T/err")" >&2
        fail=$((fail + 1))
        continue
    fi
    $PY "$SRC/tests/report_browser.py" "$T/$page.html" "$T/$page" chromium >"$T/out" 2>&1
    rc=$?
    tail -2 "$T/out"
    if [ $rc -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); grep FAIL "$T/out" | head -20 >&2; fi
    [ -n "${MZ_KEEP_SCREENSHOTS:-}" ] && cp "$T/$page/screenshot.png" "$MZ_KEEP_SCREENSHOTS/report-$page.png"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
