#!/usr/bin/env python3
"""Side-by-side table of the training-speed benchmark (bench/README.md).

Usage: compare.py SGEMM.jsonl TORCH.jsonl [MZOO.jsonl]
Reads the JSON lines of sgemm_peak, torch_reference.py and bench_train, prints a table, and
writes nothing else.  Missing or unreadable mzoo results give "n/a" columns.
"""
import json
import math
import sys


def read_jsonl(path):
    out = []
    if path is None:
        return out
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    print(f"compare.py: {path}:{n}: not JSON ({e})", file=sys.stderr)
    except OSError as e:
        print(f"compare.py: {path}: {e.strerror}", file=sys.stderr)
    return out


def num(d, key):
    v = d.get(key) if d else None
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def mzoo_models_per_hour(m, t):
    """bench_train's own figure, or composed from its timings with the torch side's counts."""
    v = num(m, "models_per_hour")
    if v is not None:
        return v
    t_step, group, t_eval = num(m, "t_step"), num(m, "models_per_group"), num(m, "t_eval_img")
    procs = num(m, "n_procs") or 1.0
    if None in (t_step, group, t_eval) or group <= 0:
        return None
    return 3600.0 * procs / (t["steps_per_model"] * t_step / group
                             + t["eval_images_per_model"] * t_eval)


def fmt(v, spec, na="n/a"):
    return na if v is None else format(v, spec)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    sgemm = read_jsonl(argv[1])
    torch = {d["config"]: d for d in read_jsonl(argv[2]) if "config" in d}
    mzoo = {d["config"]: d for d in read_jsonl(argv[3] if len(argv) > 3 else None)
            if "config" in d}
    if not torch:
        print("compare.py: no PyTorch results", file=sys.stderr)
        return 1

    peak1 = next((d for d in sgemm if d.get("procs") == 1), None)
    peakn = max((d for d in sgemm if d.get("procs", 0) > 1), key=lambda d: d["procs"],
                default=None)
    peak = peakn or peak1
    peak_total = num(peak, "gflops_total")
    if peak:
        print(f"sgemm peak (OpenBLAS {peak.get('openblas_corename', '?')}, n={peak.get('size')}): "
              f"{fmt(num(peak1, 'gflops_total'), '.1f')} GFLOP/s on 1 core, "
              f"{fmt(peak_total, '.1f')} GFLOP/s with {peak.get('procs')} processes")
    else:
        print("sgemm peak: not measured")

    head = ("config", "mzoo models/h", "torch models/h", "ratio", "mzoo GFLOP/s", "mzoo %peak",
            "torch GFLOP/s", "torch %peak", "mzoo MB", "torch MB")
    rows = [head]
    notes = []
    for name, t in torch.items():
        m = mzoo.get(name)
        t_mph = num(t, "models_per_hour")
        m_mph = mzoo_models_per_hour(m, t) if m else None
        fpm = num(t, "flops_per_model")
        # Effective rates from the same FLOP count per model for both sides (README "FLOPs").
        t_gf = t_mph * fpm / 3600e9 if t_mph and fpm else None
        m_gf = m_mph * fpm / 3600e9 if m_mph and fpm else None
        if m and num(m, "gflops") and m_gf and abs(num(m, "gflops") / m_gf - 1) > 0.05:
            notes.append(f"{name}: bench_train reports {num(m, 'gflops'):.2f} GFLOP/s, "
                         f"README FLOP count x its models/h gives {m_gf:.2f}")
        t_mem = num(t, "peak_rss_mb")
        t_mem_s = (f"{t_mem * t['n_procs']:.0f} ({t['n_procs']}x{t_mem:.0f})"
                   if t_mem else "n/a")
        rows.append((
            name, fmt(m_mph, ".1f"), fmt(t_mph, ".2f"),
            fmt(m_mph / t_mph if m_mph and t_mph else None, ".1f"),
            fmt(m_gf, ".1f"), fmt(100 * m_gf / peak_total if m_gf and peak_total else None, ".1f"),
            fmt(t_gf, ".1f"), fmt(100 * t_gf / peak_total if t_gf and peak_total else None, ".1f"),
            fmt(num(m, "peak_rss_mb"), ".0f"), t_mem_s))
    for name in mzoo:
        if name not in torch:
            notes.append(f"{name}: mzoo result without a PyTorch counterpart (not compared)")

    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for k, r in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    t0 = next(iter(torch.values()))
    print(f"torch: {t0.get('torch')}, {t0.get('n_procs')} processes x 1 thread, "
          f"OPENBLAS_CORETYPE={t0.get('env', {}).get('OPENBLAS_CORETYPE', '')}, "
          f"load before {fmt(t0.get('loadavg_before', [None])[0], '.2f')}"
          + (", QUICK run" if t0.get("quick") else ""))
    for n in notes:
        print("note: " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
