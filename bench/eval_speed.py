#!/usr/bin/env python3
"""Evaluation throughput: mzoo's population engine (bench_eval) against PyTorch, in one run.

Both sides on one thread, one after the other for each activation (so that they meet the same
machine load), on the first N Fashion-MNIST test images (random bytes if the dataset is missing).
Times are CPU times of the process (best of --reps passes), so that time-slicing with other jobs
on a shared machine does not count; cache and core sharing still do:

* mzoo: build/bench/bench_eval, a pop of 1, 8 and 16 CNN-s models evaluating the images
  (mz_pop_eval, as the trainer's per-epoch val/test evaluation, mzoo eval, sparsify and report
  run it). Figure: images per second per model = models x images / seconds; %peak = the conv
  and linear layers' flops per second over the thread's FMA peak measured just before.
* PyTorch: the reference's CNN-s (bench/torch_reference.py's build_model), torch.set_num_threads(1),
  model.eval(), torch.no_grad(), its test_step (log_softmax, NLL, argmax, .item()), with the split
  as ONE batch (the reference's FastTensorDataLoader for val and test) and in batches of 10 (its
  epoch-0 train evaluation). Figure: images per second of one model.

Usage: python3 bench/eval_speed.py [--build build] [--before DIR] [--acts tanh,relu,gelu]
                                   [--models 1,8,16] [--images 10000] [--reps 3]
--before DIR: a second bench_eval (DIR/bench/bench_eval, e.g. built from an older commit) timed
in the same run, for before/after figures. Prints one table; timing is never a test.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FMNIST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def run_mzoo(binary, act, models, images, reps):
    out = subprocess.run([binary, "--acts", act, "--models", models, "--images", str(images),
                          "--reps", str(reps)], check=True, capture_output=True, text=True).stdout
    return {r["models"]: r for r in map(json.loads, out.split("\n")[:-1])}


def torch_images(torch, n):
    import numpy as np
    if os.path.exists(FMNIST):
        with gzip.open(FMNIST, "rb") as f:
            raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    else:
        raw = np.random.default_rng(1).integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)
    x = (torch.from_numpy(raw.astype(np.float32)) / 255.0 - 0.2860) / 0.3530
    y = torch.arange(len(x)) % 10
    return x, y


def run_torch(torch, ref, act, x, y, reps, batch):
    torch.manual_seed(1)
    net = ref.build_model(torch, "CNN", 1, dict(act=act, dropout=0.0, init="kaiming_uniform"))
    net.eval()
    crit = torch.nn.NLLLoss()
    n = len(x)
    bs = n if batch is None else batch

    def one_pass():
        for i in range(0, n, bs):
            ref.eval_batch(torch, net, crit, x[i:i + bs], y[i:i + bs])

    one_pass()  # warm-up
    best = float("inf")
    for _ in range(reps):
        t0 = time.process_time()
        one_pass()
        best = min(best, time.process_time() - t0)
    return n / best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--before", default=None)
    ap.add_argument("--acts", default="tanh,relu,gelu")
    ap.add_argument("--models", default="1,8,16")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, HERE)
    import torch_reference as ref

    binaries = [("after", os.path.join(args.build, "bench", "bench_eval"))]
    if args.before:
        binaries.insert(0, ("before", os.path.join(args.before, "bench", "bench_eval")))
    x, y = torch_images(torch, args.images)
    with open("/proc/loadavg") as f:
        load0 = f.read().split()[0]
    rows = []
    for act in args.acts.split(","):
        res = {tag: run_mzoo(b, act, args.models, args.images, args.reps) for tag, b in binaries}
        t_one = run_torch(torch, ref, act, x, y, args.reps, None)
        t_b10 = run_torch(torch, ref, act, x, y, args.reps, 10)
        for m in sorted(res["after"]):
            row = dict(act=act, models=m, torch_one_batch=t_one, torch_b10=t_b10)
            for tag in res:
                row[tag] = res[tag][m]["model_images_per_s"]
            a = res["after"][m]
            row["of_peak"] = a["gflops"] / a["peak_gflops"] if "peak_gflops" in a else float("nan")
            rows.append(row)
        print(f"eval_speed: {act} done", file=sys.stderr)
    with open("/proc/loadavg") as f:
        load1 = f.read().split()[0]
    data = rows[0] and res["after"][min(res["after"])]["data"]
    print(f"CNN-s eval, {args.images} {data} images, one thread, images/s per model "
          f"(load average {load0} -> {load1}; torch {torch.__version__})")
    hdr = f"{'act':6} {'models':>6} "
    if args.before:
        hdr += f"{'mzoo before':>12} "
    hdr += f"{'mzoo':>10} {'%peak':>6} {'torch 1 batch':>13} {'torch b10':>10} {'vs 1 batch':>10} {'vs b10':>7}"
    if args.before:
        hdr += f" {'after/before':>12}"
    print(hdr)
    for r in rows:
        line = f"{r['act']:6} {r['models']:>6} "
        if args.before:
            line += f"{r['before']:>12.0f} "
        line += (f"{r['after']:>10.0f} {100 * r['of_peak']:>5.0f}% {r['torch_one_batch']:>13.0f} {r['torch_b10']:>10.0f} "
                 f"{r['after'] / r['torch_one_batch']:>9.1f}x {r['after'] / r['torch_b10']:>6.1f}x")
        if args.before:
            line += f" {r['after'] / r['before']:>11.1f}x"
        print(line)


if __name__ == "__main__":
    main()
