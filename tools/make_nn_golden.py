#!/usr/bin/python3
"""Writes tests/data/golden/nn.{json,bin}: PyTorch (Debian's torch 1.13, CPU) golden values for
mzoo's reference kernels and optimizers (tests/test_nn_golden.c).

The models are the reference's CNN ("CNN-s") and CNN3 ("CNN-l") as the reference
defines them: an nn.ModuleList named module_list, blocks conv -> maxpool -> activation ->
[dropout], no output activation, loss NLLLoss(log_softmax(z)) with mean reduction. Initialisation
as the reference: torch.manual_seed(seed), construction (default init), then every Conv2d/Linear
weight redrawn with the init type and every bias set to 0.01.

Dropout masks come from torch's RNG and cannot be matched, so every case runs in train mode with
dropout rate 0. CNN-s cases marked dropout_layers are built with p = 0.1 (which inserts the Dropout
modules and shifts the indices to 0/4/8/11/14) and the modules' p is then set to 0; CNN-l always
has its Dropout modules (Dropout(0) when p = 0), as in the reference.

Inputs are not stored: batch t of a shape is x[i] = (mix64(seed * G + i) >> 40) * 2^-22 - 1, i over
the [B][C][H][W] floats in order, with mix64 the splitmix64 finaliser and G = 0x9E3779B97F4A7C15
(every value is exact in float32, in [-1, 3)). The manifest holds the seed, the labels and a
checksum of x so the C test can verify that it regenerates the same batch.

File format: nn.bin is a sequence of little-endian float32 arrays; nn.json lists every array by
name with its offset (in floats), count and shape, and the cases that refer to them.

Run: /usr/bin/python3 tools/make_nn_golden.py [out_dir]   (default tests/data/golden)
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

B = 10
N_CLASSES = 10
G = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1

ACTIVATIONS = ["tanh", "relu", "sigmoid", "gelu", "leakyrelu", "silu"]
INITS = ["uniform", "normal", "kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal"]

ADAM = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-3, "momentum": 0.0, "nesterov": False}
SGD = {"optimizer": "sgd", "lr": 1e-2, "weight_decay": 1e-3, "momentum": 0.9, "nesterov": False}
SGD_M0 = dict(SGD, momentum=0.0)
SGD_NESTEROV = dict(SGD, nesterov=True)


def activation(name):
    return {
        "tanh": nn.Tanh(),
        "relu": nn.ReLU(),
        "sigmoid": nn.Sigmoid(),
        "gelu": nn.GELU(),  # exact (erf) form
        "leakyrelu": nn.LeakyReLU(),  # negative slope 0.01
        "silu": nn.SiLU(),
    }[name]


class CNN(nn.Module):
    """CNN-s (reference "CNN"), C x 28 x 28; Dropout modules only when dropout > 0."""

    def __init__(self, channels_in, nlin, dropout):
        super().__init__()
        m = nn.ModuleList()
        m.append(nn.Conv2d(channels_in, 8, 5))
        m.append(nn.MaxPool2d(2, 2))
        m.append(activation(nlin))
        if dropout > 0:
            m.append(nn.Dropout(dropout))
        m.append(nn.Conv2d(8, 6, 5))
        m.append(nn.MaxPool2d(2, 2))
        m.append(activation(nlin))
        if dropout > 0:
            m.append(nn.Dropout(dropout))
        m.append(nn.Conv2d(6, 4, 2))
        m.append(activation(nlin))
        m.append(nn.Flatten())
        m.append(nn.Linear(36, 20))
        m.append(activation(nlin))
        if dropout > 0:
            m.append(nn.Dropout(dropout))
        m.append(nn.Linear(20, 10))
        self.module_list = m

    def forward(self, x):
        for layer in self.module_list:
            x = layer(x)
        return x


class CNN3(nn.Module):
    """CNN-l (reference "CNN3"), C x 32 x 32; Dropout modules always present."""

    def __init__(self, channels_in, nlin, dropout):
        super().__init__()
        m = nn.ModuleList()
        m.append(nn.Conv2d(channels_in, 16, 3))
        m.append(nn.MaxPool2d(2, 2))
        m.append(activation(nlin))
        m.append(nn.Dropout(dropout))
        m.append(nn.Conv2d(16, 32, 3))
        m.append(nn.MaxPool2d(2, 2))
        m.append(activation(nlin))
        m.append(nn.Dropout(dropout))
        m.append(nn.Conv2d(32, 15, 3))
        m.append(nn.MaxPool2d(2, 2))
        m.append(activation(nlin))
        m.append(nn.Dropout(dropout))
        m.append(nn.Flatten())
        m.append(nn.Linear(60, 20))
        m.append(activation(nlin))
        m.append(nn.Dropout(dropout))
        m.append(nn.Linear(20, 10))
        self.module_list = m

    def forward(self, x):
        for layer in self.module_list:
            x = layer(x)
        return x


def initialize_weights(model, init_type):
    for m in model.module_list:
        if type(m) in (nn.Conv2d, nn.Linear):
            w = m.weight
            if init_type == "uniform":
                nn.init.uniform_(w, a=0.0, b=1.0)
            elif init_type == "normal":
                nn.init.normal_(w, mean=0.0, std=1.0)
            elif init_type == "kaiming_uniform":
                nn.init.kaiming_uniform_(w)
            elif init_type == "kaiming_normal":
                nn.init.kaiming_normal_(w)
            elif init_type == "xavier_uniform":
                nn.init.xavier_uniform_(w)
            elif init_type == "xavier_normal":
                nn.init.xavier_normal_(w)
            m.bias.data.fill_(0.01)


def build(arch, channels, nlin, init_type, seed, dropout_layers):
    torch.manual_seed(seed)
    if arch == "cnn-s":
        model = CNN(channels, nlin, 0.1 if dropout_layers else 0.0)
    else:
        model = CNN3(channels, nlin, 0.0)
    initialize_weights(model, init_type)
    for m in model.module_list:
        if isinstance(m, nn.Dropout):
            m.p = 0.0  # masks cannot match torch's RNG: keep the modules, drop nothing
    model.train()
    return model


def mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def make_input(seed, n):
    base = np.uint64((seed * G) & MASK)
    with np.errstate(over="ignore"):
        z = mix64(base + np.arange(n, dtype=np.uint64))
    u = (z >> np.uint64(40)).astype(np.float32)
    return (u * np.float32(2.0 ** -22) - np.float32(1.0)).astype(np.float32)


def make_labels(seed):
    with np.errstate(over="ignore"):
        z = mix64(np.uint64(((seed ^ 0x5A5A) * G) & MASK) + np.arange(B, dtype=np.uint64))
    return [int(v) for v in (z >> np.uint64(32)) % np.uint64(N_CLASSES)]


def batch(channels, hw, t):
    seed = channels * 100000 + hw * 100 + t
    n = B * channels * hw * hw
    x = make_input(seed, n)
    y = make_labels(seed)
    meta = {"seed": seed, "labels": y, "checksum": float(np.sum(x.astype(np.float64))),
            "first": [float(v) for v in x[:4]]}
    return torch.from_numpy(x.reshape(B, channels, hw, hw).copy()), torch.tensor(y), meta


def loss_of(model, x, y):
    z = model(x)
    return z, F.nll_loss(F.log_softmax(z, dim=1), y)


def flat_params(model):
    return torch.cat([v.detach().reshape(-1) for v in model.state_dict().values()]).numpy()


class Writer:
    def __init__(self):
        self.chunks, self.arrays, self.offset = [], {}, 0

    def add(self, name, arr):
        a = np.ascontiguousarray(arr, dtype="<f4").reshape(-1)
        assert name not in self.arrays
        self.arrays[name] = {"offset": self.offset, "count": int(a.size), "shape": list(arr.shape)}
        self.chunks.append(a)
        self.offset += a.size
        return name


def make_case(w, arch, channels, nlin, init_type, seed, dropout_layers, trajectories):
    hw = 28 if arch == "cnn-s" else 32
    name = "%s_c%d_%s_%s%s" % (arch, channels, nlin, init_type, "_drop" if dropout_layers else "")
    model = build(arch, channels, nlin, init_type, seed, dropout_layers)
    sd = model.state_dict()
    named = [n for n, _ in model.named_parameters()]
    assert named == list(sd.keys()), "parameters() order must be the state_dict order"
    tensors = [{"name": k, "shape": list(v.shape)} for k, v in sd.items()]
    # the initial weights depend on (arch, channels, init, seed) only: share them between cases
    pname = "init_%s_c%d_%s_s%d" % (arch, channels, init_type, seed)
    p0 = flat_params(model)
    if pname in w.arrays:
        off = w.arrays[pname]["offset"]
        assert np.array_equal(np.concatenate(w.chunks)[off:off + p0.size], p0)
    else:
        w.add(pname, p0)

    x, y, meta0 = batch(channels, hw, 0)
    model.zero_grad()
    z, loss = loss_of(model, x, y)
    loss.backward()
    grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()
    case = {
        "name": name, "arch": arch, "channels": channels, "h": hw, "w": hw,
        "dropout_layers": dropout_layers, "activation": nlin, "init": init_type, "seed": seed,
        "n_params": int(p0.size), "tensors": tensors, "params": pname, "batch": meta0,
        "logits": w.add(name + "/logits", z.detach().numpy()), "loss": float(loss.item()),
        "grads": w.add(name + "/grads", grads), "trajectories": [],
    }
    for cfg in trajectories:
        model = build(arch, channels, nlin, init_type, seed, dropout_layers)
        params = list(model.parameters())
        if cfg["optimizer"] == "adam":
            opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        else:
            opt = torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"],
                                  weight_decay=cfg["weight_decay"], nesterov=cfg["nesterov"])
        tag = "%s_m%g%s" % (cfg["optimizer"], cfg["momentum"], "_nesterov" if cfg["nesterov"] else "")
        traj = dict(cfg, name=tag, batches=[], losses=[], weights=[])
        for t in range(3):
            xt, yt, meta = batch(channels, hw, t)
            opt.zero_grad()
            _, loss = loss_of(model, xt, yt)
            loss.backward()
            opt.step()
            traj["batches"].append(meta)
            traj["losses"].append(float(loss.item()))
            traj["weights"].append(w.add("%s/%s/step%d" % (name, tag, t + 1), flat_params(model)))
        case["trajectories"].append(traj)
    return case


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "golden")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    w = Writer()
    cases = []
    # CNN-s, C=1: every activation x every init type. Each activation gets an Adam and an SGD
    # (momentum 0.9) trajectory, on init types rotated so each init type has one of each; a few
    # cases are built with Dropout modules (shifted indices).
    for ai, act in enumerate(ACTIVATIONS):
        for ii, init in enumerate(INITS):
            traj = []
            if ii == ai:
                traj.append(ADAM)
            if ii == (ai + 3) % 6:
                traj.append(SGD)
            if (act, init) == ("relu", "xavier_uniform"):
                traj.append(SGD_M0)
            if (act, init) == ("silu", "normal"):
                traj.append(SGD_NESTEROV)
            drop = (ai + ii) % 4 == 1
            cases.append(make_case(w, "cnn-s", 1, act, init, 42, drop, traj))
    # CNN-s, C=3 and CNN-l, C=3: a few cases
    cases.append(make_case(w, "cnn-s", 3, "relu", "kaiming_uniform", 7, True, [ADAM, SGD_NESTEROV]))
    cases.append(make_case(w, "cnn-s", 3, "sigmoid", "xavier_normal", 8, False, [SGD]))
    cases.append(make_case(w, "cnn-l", 3, "gelu", "kaiming_normal", 9, True, [ADAM]))
    cases.append(make_case(w, "cnn-l", 3, "tanh", "xavier_uniform", 10, True, []))

    blob = np.concatenate(w.chunks).astype("<f4")
    with open(os.path.join(out, "nn.bin"), "wb") as f:
        f.write(blob.tobytes())
    manifest = {
        "format": 1,
        "generator": "tools/make_nn_golden.py",
        "torch": torch.__version__,
        "batch_size": B,
        "n_classes": N_CLASSES,
        "input": "x[i] = (mix64(seed * 0x9E3779B97F4A7C15 + i) >> 40) * 2^-22 - 1 (splitmix64 finaliser)",
        "arrays": w.arrays,
        "cases": cases,
    }
    with open(os.path.join(out, "nn.json"), "w") as f:
        json.dump(manifest, f, separators=(",", ":"))
        f.write("\n")
    print("%d cases, %d floats (%.0f KB)" % (len(cases), blob.size, blob.size * 4 / 1024))


if __name__ == "__main__":
    main()
