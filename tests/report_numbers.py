"""Checks the numbers behind an mzoo report against an independent computation: the zoo read with
sqlite3 and numpy only, the numbers read from the page's JSON data block.

usage: report_numbers.py REPORT.html ZOO.db [ZOO2.db ...]   (the zoos in the report's order,
       reported without --where)

Checked for each zoo: the per-epoch quantiles (5, 25, 50, 75, 95 %, numpy's linear method) of
every metric and of the gap, for all models and per value of the banding hyperparameter; the box
plots of the final test accuracy per hyperparameter value; the diverged and chance-level counts;
the PCA of the sampled checkpoints (numpy's SVD: explained variance ratios, projections up to
each component's sign, the trajectories in the same plane); the pairwise distances' quantiles
and mean; the disagreement matrix's shape and consistency. Prints "N passed, N failed".
"""
import json
import re
import sqlite3
import sys

import numpy as np

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


def close(a, b, tol, what):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ok = a.shape == b.shape and np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True)
    if not ok and a.shape == b.shape:
        i = np.nanargmax(np.abs(a - b)) if a.size else 0
        what += " (worst at %d: %r vs %r)" % (i, a.ravel()[i], b.ravel()[i])
    check(ok, what)


def hp_label(v):
    if isinstance(v, float):
        return repr(v).rstrip("0").rstrip(".") if v != int(v) else str(int(v))
    return str(v)


def main():
    page = open(sys.argv[1], encoding="utf-8").read()
    data = json.loads(re.search(r'<script type="application/json" id="mzoo-data">(.*?)</script>',
                                page, re.S).group(1))
    check(abs(sum(data["quantiles_at"]) - 2.5) < 1e-12, "quantiles_at")
    for zi, path in enumerate(sys.argv[2:]):
        jz = data["zoos"][zi]
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        models = {r[0]: r for r in db.execute(
            "SELECT id, activation, init, optimizer, lr, weight_decay, dropout, momentum, nesterov, "
            "status FROM models ORDER BY id")}
        cols = {"activation": 1, "init": 2, "optimizer": 3, "lr": 4, "weight_decay": 5,
                "dropout": 6, "momentum": 7, "nesterov": 8}
        rows = db.execute("SELECT model_id, epoch, train_loss, train_acc, val_loss, val_acc, "
                          "test_loss, test_acc, sparsity FROM epochs").fetchall()
        names = ["train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "sparsity"]
        epochs = sorted({r[1] for r in rows})
        check(jz["epochs"] == epochs, "zoo %d: epochs" % zi)
        check(jz["n_models"] == len(models), "zoo %d: models" % zi)
        check(jz["n_rows"] == len(rows), "zoo %d: rows" % zi)
        val = {}
        for r in rows:
            for k, n in enumerate(names):
                val[(n, r[0], r[1])] = np.nan if r[2 + k] is None else r[2 + k]
        last = {}
        for r in rows:
            last[r[0]] = max(last.get(r[0], -1), r[1])

        def value(metric, m, e):
            if metric == "ggap":
                return val.get(("train_acc", m, e), np.nan) - val.get(("test_acc", m, e), np.nan)
            return val.get((metric, m, e), np.nan)

        def group_of(hp, m):
            v = models[m][cols[hp]]
            return None if v is None else hp_label(v)

        by = jz["by"]
        for metric, q in jz["curves"].items():
            want = []
            for e in epochs:
                v = np.array([value(metric, m, e) for m in models if
                              ("test_acc", m, e) in val])
                v = v[np.isfinite(v)]
                want.append(np.percentile(v, [5, 25, 50, 75, 95]) if v.size else [np.nan] * 5)
            close(np.array(q["all"], dtype=float), np.array(want), 1e-5,
                  "zoo %d: %s quantiles of all models" % (zi, metric))
            if "by_value" in q and by in cols:
                for label, qv in q["by_value"].items():
                    want = []
                    for e in epochs:
                        v = np.array([value(metric, m, e) for m in models
                                      if group_of(by, m) == label and ("test_acc", m, e) in val])
                        v = v[np.isfinite(v)]
                        want.append(np.percentile(v, [5, 25, 50, 75, 95]) if v.size else [np.nan] * 5)
                    close(np.array(qv, dtype=float), np.array(want), 1e-5,
                          "zoo %d: %s quantiles of %s=%s" % (zi, metric, by, label))
        final = {m: value("test_acc", m, last[m]) for m in last}
        for hp, boxes in jz["final_test_acc"].items():
            if hp not in cols:
                continue
            for label, b in boxes.items():
                v = np.array([final[m] for m in final if group_of(hp, m) == label])
                v = v[np.isfinite(v)]
                check(b["n"] == v.size, "zoo %d: box %s=%s n" % (zi, hp, label))
                close([b["q1"], b["median"], b["q3"], b["mean"]],
                      [np.percentile(v, 25), np.percentile(v, 50), np.percentile(v, 75), v.mean()],
                      1e-6, "zoo %d: box %s=%s" % (zi, hp, label))
                iqr = np.percentile(v, 75) - np.percentile(v, 25)
                inside = v[(v >= np.percentile(v, 25) - 1.5 * iqr) & (v <= np.percentile(v, 75) + 1.5 * iqr)]
                close([b["whisker_lo"], b["whisker_hi"]], [inside.min(), inside.max()], 1e-6,
                      "zoo %d: whiskers %s=%s" % (zi, hp, label))
        thr = jz["chance_threshold"]
        h = jz["health"]["all"]["all"]
        status = [models[m][9] for m in models]
        check(h["diverged"] == status.count("diverged"), "zoo %d: diverged count" % zi)
        chance = sum(1 for m in models if models[m][9] not in ("diverged", "failed") and m in final
                     and np.isfinite(final[m]) and final[m] < thr)
        check(h["chance"] == chance, "zoo %d: chance-level count %d vs %d" % (zi, h["chance"], chance))

        # PCA of the sampled checkpoints (a CNN-s vector is its blob: every layer's weight, bias)
        p = jz.get("pca")
        check(p is not None, "zoo %d: no PCA" % zi)
        if p is None:
            continue
        X = np.stack([np.frombuffer(db.execute(
            "SELECT weights FROM epochs WHERE model_id=? AND epoch=?", (m, e)).fetchone()[0], "<f4")
            for m, e in zip(p["models"], p["epochs"])]).astype(np.float64)
        check(X.shape[1] == p["dim"], "zoo %d: PCA dimension" % zi)
        mean = X.mean(axis=0)
        U, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
        evr = S ** 2 / (S ** 2).sum()
        close(p["explained_variance_ratio"], evr[:2], 1e-6, "zoo %d: explained variance ratio" % zi)
        close(p["total_variance"], (S ** 2).sum() / (len(X) - 1), 1e-8, "zoo %d: total variance" % zi)
        proj = np.array(p["proj"]).reshape(-1, 2)
        want = (X - mean) @ Vt[:2].T
        for j in range(2):
            sign = np.sign(proj[:, j] @ want[:, j])
            scale = np.abs(want[:, j]).max()
            close(proj[:, j] / scale, sign * want[:, j] / scale, 1e-5, "zoo %d: PC%d projections" % (zi, j + 1))
            Vt[j] *= sign
        for t in p["trajectories"][:3]:
            es = sorted(e for (mm, e) in [(r[0], r[1]) for r in rows] if mm == t["model"])
            T = np.stack([np.frombuffer(db.execute(
                "SELECT weights FROM epochs WHERE model_id=? AND epoch=?", (t["model"], e)).fetchone()[0],
                "<f4") for e in es]).astype(np.float64)
            got = np.array(t["proj"]).reshape(-1, 2)
            want = (T - mean) @ Vt[:2].T
            scale = np.abs(want).max()
            close(got / scale, want[:len(got)] / scale, 1e-5, "zoo %d: trajectory of model %d" % (zi, t["model"]))

        d = jz["distances"]
        D = np.stack([np.frombuffer(db.execute(
            "SELECT weights FROM epochs WHERE model_id=? AND epoch=?", (m, d["epoch"])).fetchone()[0], "<f4")
            for m in d["models"]]).astype(np.float64)
        G = np.sqrt(((D[:, None, :] - D[None, :, :]) ** 2).sum(axis=2))
        tri = G[np.triu_indices(len(D), 1)]
        close(d["quantiles"], np.percentile(tri, np.array(d["quantiles_at"]) * 100), 1e-6,
              "zoo %d: distance quantiles" % zi)
        close(d["mean"], tri.mean(), 1e-6, "zoo %d: mean distance" % zi)

        g = jz.get("disagreement")
        if g is not None:
            k = len(g["models"])
            M = np.array(g["matrix"]).reshape(k, k)
            check(g["models"] == d["models"][:k], "zoo %d: disagreement models" % zi)
            check(np.allclose(M, M.T) and np.all(np.diag(M) == 0), "zoo %d: disagreement symmetric" % zi)
            acc = np.array(g["subset_accuracy"])
            # two models that differ in accuracy by x disagree on at least x of the images
            check(np.all(M + 1e-12 >= np.abs(acc[:, None] - acc[None, :])),
                  "zoo %d: disagreement below the accuracy difference" % zi)
            check(np.all((M * g["images"]).round(6) % 1 == 0), "zoo %d: disagreement counts" % zi)


if __name__ == "__main__":
    main()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
