#!/usr/bin/python3
"""Writes tests/data/golden/predict.{json,bin}: PyTorch (Debian's torch 1.13, CPU) predictions of
a CNN-s and of a variational-dropout twin of one (the reference's CNN_ARD, evaluated as its
pruned network) for tests/test_eval.c, which checks mz_evaluator_predict against them.

Images: N single-channel 28x28 uint8 images given by a formula the C test recomputes (splitmix64
finaliser mix64, G = 0x9E3779B97F4A7C15): byte i of the [N][1][28][28] array is
mix64(IMAGE_SEED * G + i) >> 56, except that image k keeps only its first 28 * (4 + k % 25)
bytes, the rest 0 (images of different brightness, so that the classes vary). They are
normalised as torchvision does, (x / 255 - 0.5) / 0.5 in float32.

Parameters: drawn here and stored. The CNN-s has PyTorch's default initialisation times 6 (so
that the logits spread), tanh. The twin has its own weights, log_sigma2 from -4 to 6 so that
about half the weights have log alpha >= 3 (none within 1e-3 of 3, where float32 logarithms of
two libraries could disagree), conv log_sigma2_bias likewise, and NaN in the linear layers'
log_sigma2_bias, which the reference never initialises and never reads.

Stored per model: the parameters in state_dict order, the logits [N][10] and the classes
(argmax, the first of equal maxima), as float32.

Run: /usr/bin/python3 tools/make_eval_golden.py [out_dir]   (default tests/data/golden)
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N = 256
IMAGE_SEED = 21
G = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
MEAN, STD = 0.5, 0.5


def mix64(z):
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & MASK
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & MASK
    return z ^ (z >> 31)


def images():
    n = N * 28 * 28
    base = (IMAGE_SEED * G) & MASK
    x = np.array([mix64((base + i) & MASK) >> 56 for i in range(n)], dtype=np.uint8)
    x = x.reshape(N, 28 * 28)
    for k in range(N):
        x[k, 28 * (4 + k % 25):] = 0
    return x.reshape(N, 1, 28, 28)


class ConvARD(nn.Conv2d):
    def __init__(self, cin, cout, k):
        super().__init__(cin, cout, k)
        self.log_sigma2 = nn.Parameter(torch.zeros_like(self.weight))
        self.log_sigma2_bias = nn.Parameter(torch.zeros_like(self.bias))

    def forward(self, x):
        la = torch.clamp(self.log_sigma2 - 2 * torch.log(torch.abs(self.weight) + 1e-15), -8, 8)
        lb = torch.clamp(self.log_sigma2_bias - 2 * torch.log(torch.abs(self.bias) + 1e-15), -8, 8)
        return F.conv2d(x, torch.where(la >= 3, torch.zeros_like(self.weight), self.weight),
                        torch.where(lb >= 3, torch.zeros_like(self.bias), self.bias))


class LinearARD(nn.Linear):
    def __init__(self, fin, fout):
        super().__init__(fin, fout)
        self.log_sigma2 = nn.Parameter(torch.zeros_like(self.weight))
        self.log_sigma2_bias = nn.Parameter(torch.zeros_like(self.bias))

    def forward(self, x):
        la = torch.clamp(self.log_sigma2 - 2 * torch.log(torch.abs(self.weight) + 1e-15), -10, 10)
        return F.linear(x, torch.where(la >= 3, torch.zeros_like(self.weight), self.weight),
                        self.bias)


def cnn_s(conv, linear):
    """The reference's CNN-s (dropout 0): conv -> maxpool -> tanh, twice; conv -> tanh; flatten;
    linear -> tanh; linear."""
    return nn.Sequential(conv(1, 8, 5), nn.MaxPool2d(2, 2), nn.Tanh(), conv(8, 6, 5),
                         nn.MaxPool2d(2, 2), nn.Tanh(), conv(6, 4, 2), nn.Tanh(), nn.Flatten(),
                         linear(36, 20), nn.Tanh(), linear(20, 10))


def state_of(net):
    """The parameters in the reference's state_dict order (weight, bias[, log_sigma2,
    log_sigma2_bias] per layer) as one float32 vector."""
    return np.concatenate([p.detach().numpy().ravel() for p in net.parameters()]).astype("<f4")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "golden")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(22)
    x = torch.from_numpy(images()).float().div(255).sub(MEAN).div(STD)
    plain = cnn_s(nn.Conv2d, nn.Linear)
    twin = cnn_s(ConvARD, LinearARD)
    g = torch.Generator().manual_seed(18)
    with torch.no_grad():
        for p in plain.parameters():
            p.mul_(6)
        for m in twin:
            if not isinstance(m, (ConvARD, LinearARD)):
                continue
            m.weight.mul_(3)
            m.bias.uniform_(-0.3, 0.3, generator=g)
            for ls, theta in ((m.log_sigma2, m.weight), (m.log_sigma2_bias, m.bias)):
                ls.uniform_(-4, 6, generator=g)
                la = ls - 2 * torch.log(torch.abs(theta) + 1e-15)
                ls.add_(torch.where((la - 3).abs() < 1e-3, torch.full_like(ls, 0.01),
                                    torch.zeros_like(ls)))
            if isinstance(m, LinearARD):
                m.log_sigma2_bias.fill_(float("nan"))
    arrays, chunks, at = {}, [], 0
    models = {}
    for name, net in (("cnn-s", plain), ("twin", twin)):
        with torch.no_grad():
            z = net.eval()(x)
        cls = z.argmax(dim=1)  # the first of equal maxima
        for key, a in (("params", state_of(net)), ("logits", z.numpy().astype("<f4")),
                       ("classes", cls.numpy().astype("<f4"))):
            a = np.ascontiguousarray(a, dtype="<f4").ravel()
            arrays["%s/%s" % (name, key)] = {"offset": at, "count": int(a.size)}
            chunks.append(a)
            at += a.size
        counts = np.bincount(cls.numpy(), minlength=10).tolist()
        models[name] = {"classes_histogram": counts}
        print("%s: classes %s" % (name, counts), file=sys.stderr)
    with open(os.path.join(out, "predict.bin"), "wb") as f:
        f.write(np.concatenate(chunks).astype("<f4").tobytes())
    manifest = {"format": 1, "generator": "tools/make_eval_golden.py", "torch": torch.__version__,
                "n_images": N, "image_seed": IMAGE_SEED, "mean": MEAN, "std": STD,
                "activation": "tanh", "models": models, "arrays": arrays}
    with open(os.path.join(out, "predict.json"), "w") as f:
        json.dump(manifest, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
