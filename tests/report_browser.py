"""Checks an mzoo report as a person would see it, in headless Chromium.

usage: report_browser.py REPORT.html WORKDIR [CHROMIUM]

1. A copy of the page with a measuring script appended is loaded (--dump-dom); the script records
   the page's size, every plot's box, the box of every text inside each plot, the boxes of the
   page's own text, and every resource the page loaded. The page itself has no script.
2. The page as written is loaded again and screenshotted at its full height (--screenshot).
3. Checks: no console error, nothing fetched, every plot the data block counts is on the page with
   a non-zero size, no text of a plot is cut by the plot's edge or overlaps another text of the
   plot, no text of the page runs past the window, and in the screenshot every plot's area is not
   blank (enough non-white pixels and colours).
Prints one line per problem and "N passed, N failed"; exits 1 on any problem. The screenshot is
left in WORKDIR/screenshot.png.
"""
import html
import json
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image

WIDTH = 1300

MEASURE = r"""
<script>
window.addEventListener('load', function () {
  var r = {width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
           inner: window.innerWidth, plots: [], overflow: [],
           resources: performance.getEntriesByType('resource').map(function (e) { return e.name; })};
  var boxes = function (el) { var b = el.getBoundingClientRect();
    return {x: b.left + window.scrollX, y: b.top + window.scrollY, w: b.width, h: b.height}; };
  document.querySelectorAll('svg.plot').forEach(function (svg) {
    var p = boxes(svg); p.id = svg.getAttribute('data-plot'); p.texts = [];
    svg.querySelectorAll('text').forEach(function (t) {
      var b = boxes(t); if (b.w > 0 && t.textContent.trim() !== '') { b.s = t.textContent; p.texts.push(b); } });
    p.shapes = svg.querySelectorAll('polyline,polygon,path,rect').length;
    r.plots.push(p);
  });
  document.querySelectorAll('body *').forEach(function (el) {
    if (el.closest('svg') || el.tagName === 'SCRIPT') return;
    var b = el.getBoundingClientRect();
    if (b.width > 0 && b.right > window.innerWidth + 1)
      r.overflow.push(el.tagName + ': ' + (el.textContent || '').slice(0, 60));
  });
  var pre = document.createElement('pre'); pre.id = 'mzoo-check';
  pre.textContent = JSON.stringify(r); document.body.appendChild(pre);
});
</script>
"""

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


def chromium(browser, workdir, args, url, timeout=120):
    ud = os.path.join(workdir, "profile")
    os.makedirs(ud, exist_ok=True)
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--user-data-dir=" + ud, "--hide-scrollbars", "--force-device-scale-factor=1",
           "--enable-logging=stderr", "--v=0"] + args + [url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def overlap(a, b):
    w = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(w, 0) * max(h, 0)


def main():
    page, workdir = sys.argv[1], sys.argv[2]
    browser = sys.argv[3] if len(sys.argv) > 3 else "chromium"
    os.makedirs(workdir, exist_ok=True)
    text = open(page, encoding="utf-8").read()
    data = json.loads(re.search(r'<script type="application/json" id="mzoo-data">(.*?)</script>',
                                text, re.S).group(1))
    measured = os.path.join(workdir, "measured.html")
    with open(measured, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", MEASURE + "</body>"))
    res = chromium(browser, workdir, ["--window-size=%d,1000" % WIDTH, "--virtual-time-budget=10000",
                                      "--dump-dom"], "file://" + os.path.abspath(measured))
    m = re.search(r'<pre id="mzoo-check">(.*?)</pre>', res.stdout, re.S)
    check(m is not None, "the measuring script did not run (chromium said: %s)" % res.stderr[-500:])
    if m is None:
        return
    r = json.loads(html.unescape(m.group(1)))
    console = [l for l in res.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    check(not console, "console messages: %s" % console[:5])
    check(r["resources"] == [], "the page fetched resources: %s" % r["resources"][:5])
    check(r["width"] <= r["inner"], "the page is wider than the window (%d > %d px)" % (r["width"], r["inner"]))
    check(not r["overflow"], "elements run past the window's right edge: %s" % r["overflow"][:5])
    check(len(r["plots"]) == data["n_plots"],
          "%d plots on the page, the data block counts %d" % (len(r["plots"]), data["n_plots"]))
    ids = [p["id"] for p in r["plots"]]
    check(len(set(ids)) == len(ids), "plot ids repeat")
    for p in r["plots"]:
        check(p["w"] > 100 and p["h"] > 100, "plot %s is %dx%d px" % (p["id"], p["w"], p["h"]))
        check(p["shapes"] > 10, "plot %s has %d shapes" % (p["id"], p["shapes"]))
        check(len(p["texts"]) >= 3, "plot %s has %d texts (title, axis labels)" % (p["id"], len(p["texts"])))
        for t in p["texts"]:
            inside = (t["x"] >= p["x"] - 0.5 and t["y"] >= p["y"] - 0.5 and
                      t["x"] + t["w"] <= p["x"] + p["w"] + 0.5 and t["y"] + t["h"] <= p["y"] + p["h"] + 0.5)
            check(inside, "plot %s: text %r is cut by the plot's edge" % (p["id"], t["s"]))
        ts = p["texts"]
        for i in range(len(ts)):
            for j in range(i + 1, len(ts)):
                a, b = ts[i], ts[j]
                small = min(a["w"] * a["h"], b["w"] * b["h"])
                check(overlap(a, b) <= 0.2 * small,
                      "plot %s: texts %r and %r overlap" % (p["id"], a["s"], b["s"]))
    # the page as written, at its full height
    height = min(int(r["height"]) + 10, 30000)
    shot = os.path.join(workdir, "screenshot.png")
    res = chromium(browser, workdir, ["--window-size=%d,%d" % (WIDTH, height),
                                      "--screenshot=" + shot], "file://" + os.path.abspath(page))
    check(os.path.exists(shot), "no screenshot: %s" % res.stderr[-500:])
    if not os.path.exists(shot):
        return
    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.int32)
    check(img.shape[1] == WIDTH and img.shape[0] >= r["height"] - 2,
          "screenshot is %dx%d, the page %dx%d" % (img.shape[1], img.shape[0], WIDTH, r["height"]))
    for p in r["plots"]:
        x0, y0 = int(p["x"]), int(p["y"])
        crop = img[y0:y0 + int(p["h"]), x0:x0 + int(p["w"])]
        if crop.size == 0:
            check(False, "plot %s lies outside the screenshot" % p["id"])
            continue
        ink = (crop.sum(axis=2) < 3 * 235).mean()
        colours = len(np.unique(crop.reshape(-1, 3) // 16, axis=0))
        check(ink > 0.02, "plot %s looks blank in the screenshot (%.1f%% ink)" % (p["id"], 100 * ink))
        check(colours >= 4, "plot %s has %d colours in the screenshot" % (p["id"], colours))
    print("%d plots, page %dx%d px" % (len(r["plots"]), r["width"], r["height"]))


if __name__ == "__main__":
    main()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
