#!/usr/bin/env python3
"""Predicts the test accuracy of a zoo's checkpoints from s(W), the per-layer statistics of their
weights, with a small PyTorch MLP; reports R^2 on the test models.

    /usr/bin/python3 examples/python/predict_accuracy.py ZOO.db

Samples are every (model, epoch) checkpoint; the split is by model (no model's checkpoints on
both sides), exactly as `mzoo dataset` splits. s(W) is computed by libmzoo, as `mzoo bench` does.
"""
import sys

import numpy as np
import torch

import mzoo

torch.manual_seed(0)
zoo = mzoo.open(sys.argv[1])
ds = zoo.dataset(epochs="all", split=(0.7, 0.15, 0.15), seed=42)

X = {p: ds.statistics(part=p) for p in ("train", "val", "test")}  # [n, 70] for CNN-s
y = {p: ds.y("test_acc", p) for p in ("train", "val", "test")}
mean, std = X["train"].mean(0), X["train"].std(0) + 1e-8


def tensor(a):
    return torch.tensor(a, dtype=torch.float32)


def r2(pred, target):
    return 1 - ((pred - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()


Xt = {p: tensor((X[p] - mean) / std) for p in X}
# a few dozen samples of 70 features: noise on the inputs, dropout and weight decay keep the MLP
# from memorising the training models
net = torch.nn.Sequential(torch.nn.Linear(Xt["train"].shape[1], 32), torch.nn.ReLU(),
                          torch.nn.Dropout(0.5), torch.nn.Linear(32, 1))
opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.1)
for step in range(500):  # full batches
    opt.zero_grad()
    noisy = Xt["train"] + torch.randn_like(Xt["train"])
    loss = torch.nn.functional.mse_loss(net(noisy).squeeze(1), tensor(y["train"]))
    loss.backward()
    opt.step()
net.eval()
with torch.no_grad():
    test = r2(net(Xt["test"]).squeeze(1).numpy(), y["test"])
print(f"s(W) -> test accuracy with an MLP: {len(y['train'])} training samples "
      f"({ds.counts['models']['train']} models), {len(y['test'])} test samples: "
      f"R2 = {test:.3f}")
