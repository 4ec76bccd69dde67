#!/usr/bin/env python3
"""PyTorch side of bench/e2e.sh: trains every model of a zoo file as the reference does, whole.

The zoo file (made by `mzoo train` from the same spec in the same run) gives the models and the
recipe: for each model its activation, init, optimizer, learning rate, weight decay, dropout and
seed; the epochs, batch size and train_subset. Each model then runs the reference protocol on
real Fashion-MNIST (the official IDX files): epoch 0 evaluates the untrained model on train
(batches of the training loader), val and test (one batch each, as the reference's test loader);
each epoch 1..E trains on shuffled batches and evaluates val and test. N single-threaded worker
processes (the reference's one trial per CPU) take the models round-robin; the whole run is
timed, data loading included. Prints one JSON line: seconds (wall), cpu_seconds (user + system of
the workers), models, processes.

Usage: /usr/bin/python3 bench/torch_e2e.py ZOO.db [--procs N] [--data DIR]
"""
import argparse
import gzip
import json
import math
import multiprocessing as mp
import os
import resource
import sqlite3
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import (ShuffledBatches, build_model, build_optimizer,  # noqa: E402
                             eval_batch, train_step)


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def worker(rank, procs, models, recipe, data_dir, out):
    import torch
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    xs = load_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
    ys = load_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
    xt = load_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))
    yt = load_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))

    def tensor(x):  # Normalize(0.5, 0.5) as the reference's transform
        return (torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1) - 0.5) / 0.5

    g = torch.Generator().manual_seed(42)
    perm = torch.randperm(len(xs), generator=g).numpy()
    n_train = min(recipe.get("train_subset") or 50000, 50000)
    tr, va = perm[:n_train], perm[50000:60000]
    xtr, ytr = tensor(xs[tr]), torch.from_numpy(ys[tr].astype(np.int64))
    xva, yva = tensor(xs[va]), torch.from_numpy(ys[va].astype(np.int64))
    xte, yte = tensor(xt), torch.from_numpy(yt.astype(np.int64))
    crit = torch.nn.NLLLoss()
    B, E = recipe["batch_size"], recipe["epochs"]
    for k in range(rank, len(models), procs):
        v = models[k]
        torch.manual_seed(v["seed"])
        net = build_model(torch, "CNN", 1, v)
        opt = build_optimizer(torch, net, v)
        loader = ShuffledBatches(torch, xtr, ytr, B)
        steps = math.ceil(n_train / B)
        for epoch in range(E + 1):
            if epoch == 0:
                net.eval()
                for _ in range(steps):
                    eval_batch(torch, net, crit, *loader.next())
            else:
                net.train()
                for _ in range(steps):
                    train_step(torch, net, opt, crit, *loader.next())
            net.eval()
            eval_batch(torch, net, crit, xva, yva)
            eval_batch(torch, net, crit, xte, yte)
    out.put(rank)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("zoo")
    ap.add_argument("--procs", type=int, default=os.cpu_count())
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    db = sqlite3.connect("file:" + args.zoo + "?mode=ro", uri=True)
    recipe = json.loads(db.execute("SELECT value FROM meta WHERE key = 'recipe'").fetchone()[0])
    if recipe.get("architecture") != "cnn-s" or recipe.get("dataset") != "fashion-mnist":
        sys.exit("torch_e2e.py: only Fashion-MNIST CNN-s zoos")
    models = [dict(act=a, init=i, opt=o, lr=lr, wd=wd or 0.0, dropout=d or 0.0, seed=s)
              for a, i, o, lr, wd, d, s in db.execute(
                  "SELECT activation, init, optimizer, lr, weight_decay, dropout, seed "
                  "FROM models ORDER BY id")]
    db.close()
    t0 = time.perf_counter()
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    ps = [ctx.Process(target=worker, args=(r, args.procs, models, recipe, args.data, out))
          for r in range(args.procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"torch_e2e.py: a worker failed (exit {p.exitcode})")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": ru.ru_utime + ru.ru_stime,
                      "models": len(models), "procs": args.procs}))


if __name__ == "__main__":
    main()
