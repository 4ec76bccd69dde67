#!/usr/bin/python3
"""Golden values for mzoo's probe numerics (tests/test_probe_numerics.c).

Run with Debian's /usr/bin/python3 (numpy, scipy, scikit-learn):
    /usr/bin/python3 tools/make_probe_fixtures.py tests/data/probe

Writes small JSON files; the C tests read them and need no Python. Floats are written with
repr() so they round-trip exactly. Everything is seeded, so re-running gives the same files.
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.linear_model import Ridge

LAMBDAS = [1e3, 3e2, 1e2, 3e1, 1e1, 3, 1, 3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5]


def flist(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def nan_to_none(v):
    return None if np.isnan(v) else float(v)


def dump(outdir, name, obj):
    obj["generator"] = ("tools/make_probe_fixtures.py with numpy %s, scipy %s, scikit-learn %s"
                        % (np.__version__, scipy.__version__, sklearn.__version__))
    with open(os.path.join(outdir, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def stats_cases(rng):
    """mean, population variance and np.percentile (linear) of float32 tensors, in float64."""
    cases = []
    arrays = [
        np.array([0.5], dtype=np.float32),
        np.array([2.0, -1.0], dtype=np.float32),
        np.array([3.0, 1.0, 2.0], dtype=np.float32),
        np.array([1, 1, 1, 2, 2, 7, 7, 7, 7], dtype=np.float32),  # ties
        rng.normal(0, 0.1, size=8).astype(np.float32),  # a bias vector
        rng.uniform(-0.5, 0.5, size=200).astype(np.float32),  # conv1 of CNN-s
        rng.normal(0.01, 0.2, size=1200).astype(np.float32),  # conv2 of CNN-s
        np.round(rng.normal(0, 1, size=101), 1).astype(np.float32),  # many ties
    ]
    for a in arrays:
        a64 = a.astype(np.float64)
        cases.append({
            "x": flist(a),
            "mean": float(np.mean(a64)),
            "var": float(np.var(a64)),
            "percentiles": flist(np.percentile(a64, [1, 25, 50, 75, 99])),
        })
    # Single percentiles at awkward q, on a fixed sorted array.
    a = np.sort(rng.normal(size=37))
    qs = [0, 0.5, 1, 12.5, 25, 33.3, 50, 66.7, 75, 99, 99.9, 100]
    return {"tensors": cases, "sorted": flist(a), "q": qs, "values": flist(np.percentile(a, qs))}


def r2(y, yhat):
    """The reference's R^2 (against the split's own mean)."""
    return 1 - np.mean((y - yhat) ** 2) / np.mean((y - np.mean(y)) ** 2)


def ridge_case(rng, n_tr, n_va, n_te, d, noise, name):
    n = n_tr + n_va + n_te
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = X @ w + 0.7 + noise * rng.normal(size=n)
    Xtr, Xva, Xte = X[:n_tr], X[n_tr:n_tr + n_va], X[n_tr + n_va:]
    ytr, yva, yte = y[:n_tr], y[n_tr:n_tr + n_va], y[n_tr + n_va:]
    A = np.hstack([Xtr, np.ones((n_tr, 1))])
    coefs, sk_coefs, r2s = [], [], []
    for lam in LAMBDAS:
        # The reference: torch.linalg.solve(A'A + lam I, A'y) -- numpy's LU solve of the same system.
        b = np.linalg.solve(A.T @ A + lam * np.eye(d + 1), A.T @ ytr)
        coefs.append(flist(b))
        # sklearn's Ridge on the augmented matrix without its own intercept is the same problem.
        sk = Ridge(alpha=lam, fit_intercept=False, solver="cholesky").fit(A, ytr)
        sk_coefs.append(flist(sk.coef_))
        pred = lambda Z: np.hstack([Z, np.ones((len(Z), 1))]) @ b
        r2s.append([r2(ytr, pred(Xtr)), r2(yva, pred(Xva)) if n_va else None, r2(yte, pred(Xte))])
    val = [r[1] for r in r2s] if n_va else [r[0] for r in r2s]
    best = int(np.argmax(val))  # first maximum, as the reference
    return {
        "name": name, "d": d, "n_train": n_tr, "n_val": n_va, "n_test": n_te,
        "x": flist(X), "y": flist(y), "lambdas": LAMBDAS,
        "coefs": coefs, "sklearn_coefs": sk_coefs,
        "best": best, "best_r2": [nan_to_none(v) if v is not None else None for v in r2s[best]],
    }


def kendall_cases(rng):
    cases = []
    pairs = [
        (np.arange(10.0), np.arange(10.0)),
        (np.arange(10.0), -np.arange(10.0)),
        (np.array([1, 2, 2, 3, 3, 3, 4.0]), np.array([1, 1, 2, 2, 3, 3, 3.0])),
        (np.array([1, 1, 1, 2.0]), np.array([1, 2, 3, 4.0])),
        (rng.normal(size=50), rng.normal(size=50)),
        (rng.integers(0, 5, size=300).astype(float), rng.integers(0, 4, size=300).astype(float)),
    ]
    x = rng.normal(size=2000)
    pairs.append((np.round(x, 1), np.round(x + rng.normal(scale=0.5, size=2000), 0)))  # heavy ties
    pairs.append((np.ones(5), np.arange(5.0)))  # constant -> nan
    for a, b in pairs:
        t = scipy.stats.kendalltau(a, b)[0]  # tau-b, scipy's default
        cases.append({"x": flist(a), "y": flist(b), "tau": nan_to_none(t)})
    return cases


def classifier_case(rng):
    """Three well-separated blobs in 4-D: the reference's linear classifier must reach accuracy 1."""
    k, d, n_per = 3, 4, 1200
    centres = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=float)
    X, y = [], []
    for c in range(k):
        X.append(centres[c] + 0.3 * rng.normal(size=(n_per, d)))
        y += [c] * n_per
    X = np.vstack(X)
    y = np.array(y)
    perm = rng.permutation(len(y))
    X, y = np.round(X[perm], 4), y[perm]
    n_tr = 3000  # 15000 Adam steps of lr 1e-4 in 50 epochs
    return {"d": d, "k": k, "n_train": n_tr, "x": flist(X), "y": [int(v) for v in y]}


def nonlinear_case(rng):
    """y = sin(3 x0) * x1^2 + |x2|: trees fit it, a linear model cannot."""
    n_tr, n_va, n_te, d = 600, 200, 200, 4
    n = n_tr + n_va + n_te
    X = rng.uniform(-1, 1, size=(n, d))
    y = np.sin(3 * X[:, 0]) * X[:, 1] ** 2 + np.abs(X[:, 2])
    # The best ridge fit's test R^2, for reference (lambda by validation as the reference).
    A = np.hstack([X[:n_tr], np.ones((n_tr, 1))])
    best = None
    for lam in LAMBDAS:
        b = np.linalg.solve(A.T @ A + lam * np.eye(d + 1), A.T @ y[:n_tr])
        p = lambda Z: np.hstack([Z, np.ones((len(Z), 1))]) @ b
        v = r2(y[n_tr:n_tr + n_va], p(X[n_tr:n_tr + n_va]))
        if best is None or v > best[0]:
            best = (v, r2(y[n_tr + n_va:], p(X[n_tr + n_va:])))
    return {"d": d, "n_train": n_tr, "n_val": n_va, "n_test": n_te, "x": flist(X.astype(np.float32)),
            "y": flist(y.astype(np.float32)), "ridge_test_r2": best[1]}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/data/probe"
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(20240611)
    dump(outdir, "stats.json", stats_cases(rng))
    dump(outdir, "ridge.json", {"cases": [
        ridge_case(rng, 40, 15, 15, 6, 0.3, "primal"),          # d+1 <= n: primal system
        ridge_case(rng, 12, 6, 6, 30, 0.1, "dual"),             # d+1 > n: dual system
        ridge_case(rng, 60, 0, 20, 3, 0.5, "no-val"),           # selection on train R^2
    ]})
    dump(outdir, "kendall.json", {"cases": kendall_cases(rng)})
    dump(outdir, "classifier.json", classifier_case(rng))
    dump(outdir, "nonlinear.json", nonlinear_case(rng))


if __name__ == "__main__":
    main()
