#!/usr/bin/env python3
"""A hyper-representation of a zoo (Schuerholt et al., 2021, "Self-supervised representation
learning on neural network weights for model characteristic prediction"): an autoencoder learns
to reconstruct the checkpoints' weights; a linear probe on its embedding then predicts their test
accuracy. Reports the probe's R^2 on the test models, next to the same probe on s(W).

    /usr/bin/python3 examples/python/hyper_representation.py ZOO.db

The weights stream from the zoo through mzoo.torch.WeightDataset and a DataLoader (the zoo need
not fit in memory); the split is by model, as `mzoo dataset` makes it.
"""
import sys

import numpy as np
import torch

import mzoo
import mzoo.torch as mt

torch.manual_seed(0)
zoo = mzoo.open(sys.argv[1])
ds = zoo.dataset(epochs="all", split=(0.7, 0.15, 0.15), seed=42)
train = mt.WeightDataset(ds, "train", targets="test_acc")

# per-coordinate standardisation from the training checkpoints (one streaming pass)
n, s1, s2 = 0, np.zeros(ds.dim), np.zeros(ds.dim)
for x, _ in ds.batches("train", batch_size=64):
    n, s1, s2 = n + len(x), s1 + x.sum(0), s2 + (x.astype(np.float64) ** 2).sum(0)
mean = torch.tensor(s1 / n, dtype=torch.float32)
std = torch.tensor(np.sqrt(np.maximum(s2 / n - (s1 / n) ** 2, 0)) + 1e-3, dtype=torch.float32)

EMBED = 16
encoder = torch.nn.Sequential(torch.nn.Linear(ds.dim, 128), torch.nn.Tanh(),
                              torch.nn.Linear(128, EMBED))
decoder = torch.nn.Sequential(torch.nn.Linear(EMBED, 128), torch.nn.Tanh(),
                              torch.nn.Linear(128, ds.dim))
opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
loader = torch.utils.data.DataLoader(train, batch_size=16, shuffle=True)
for epoch in range(60):
    total = 0.0
    for x, _ in loader:
        z = (x - mean) / std
        noisy = z + 0.05 * torch.randn_like(z)  # a denoising autoencoder, as the paper's
        loss = torch.nn.functional.mse_loss(decoder(encoder(noisy)), z)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(x)
print(f"autoencoder: reconstruction MSE {total / len(train):.3f} (standardised weights, "
      f"{len(train)} training checkpoints, embedding of {EMBED})")


def embed(part):
    with torch.no_grad():
        return np.concatenate([encoder((torch.from_numpy(x) - mean) / std).numpy()
                               for x, _ in ds.batches(part, batch_size=64)])


def ridge_r2(features):
    """Ridge regression (closed form, intercept, lambda chosen on val) -> R^2 on test."""
    F = {p: features(p) for p in ("train", "val", "test")}
    mu, sd = F["train"].mean(0), F["train"].std(0) + 1e-8
    A = {p: np.hstack([(F[p] - mu) / sd, np.ones((len(F[p]), 1))]) for p in F}
    y = {p: ds.y("test_acc", p) for p in F}

    def r2(p, w):
        e = A[p] @ w - y[p]
        return 1 - (e ** 2).sum() / ((y[p] - y[p].mean()) ** 2).sum()
    fits = [np.linalg.solve(A["train"].T @ A["train"] + lam * np.eye(A["train"].shape[1]),
                            A["train"].T @ y["train"]) for lam in (1e-3, 1e-2, 1e-1, 1, 10, 100)]
    best = max(fits, key=lambda w: r2("val", w)) if len(y["val"]) > 1 else fits[3]
    return r2("test", best)


print(f"linear probe -> test accuracy: R2 = {ridge_r2(embed):.3f} on the hyper-representation, "
      f"{ridge_r2(lambda p: ds.statistics(part=p)):.3f} on s(W)")
