#!/usr/bin/python3
"""Writes tests/data/golden/ard.{json,bin}: PyTorch (Debian's torch 1.13, CPU) golden values for
mzoo's variational-dropout ("ARD") twin kernels (tests/test_ard.c).

The layers are the reference's LinearARD and Conv2dARD (Molchanov
et al.'s variational dropout with the local reparameterisation trick), the models its CNN_ARD and
CNN3_ARD (the module_list layouts of CNN-s and CNN-l), written here from that
description with one change: the noise eps of a training forward is not drawn inside the layer but
set by this script before the call, so that the C test can feed the same noise.

  log alpha = clamp(log_sigma2 - 2 log(|theta| + 1e-15), -10, 10) (linear) / (-8, 8) (conv, also
              for the bias with log_sigma2_bias)
  train:  linear y = x theta^T + sqrt((x*x)(alpha theta theta)^T + 1e-15) eps + b
          conv   y = conv(x, theta, b) + sqrt(1e-15 + conv(x*x, alpha theta theta, alpha_b b b)) eps
  eval:   theta (and conv b) set to 0 where log alpha >= 3
  KL:     -sum(k1 sigmoid(k2 + k3 log alpha) - 0.5 log1p(exp(-log alpha)) - k1) over linear weights
          and conv weights and biases; ELBO = cross_entropy(z, y) + kl_weight * KL

Dropout masks come from torch's RNG and cannot be matched, so the Dropout modules (present in
CNN-l, and in CNN-s cases marked dropout_layers) have p = 0.

Nothing random is stored, everything is a formula the C test recomputes (splitmix64 finaliser
mix64, G = 0x9E3779B97F4A7C15, u = (mix64(seed * G + i) >> 40) * 2^-24 in [0, 1), exact in float):
  inputs   x[i] = (mix64(seed * G + i) >> 40) * 2^-22 - 1 over [B][C][H][W] (as make_nn_golden.py)
  params   tensor t of a case: v[i] = lo + width * u with seed = case_seed * 64 + t, computed in
           float32 (lo and width are exact); a few listed elements are then set to exactly 0
  noise    ARD layer o at step s: eps[i] = (mix64(seed * G + i) >> 40) * 2^-22 - 2, i over
           [B][out] of that layer, seed = case_seed * 1000 + 100 + 10 s + o
The manifest holds the seeds and checksums so the C test can verify it regenerates the same values.

File format: ard.bin is a sequence of little-endian float32 arrays; ard.json lists every array by
name with its offset (in floats), count and shape, and the cases that refer to them.

Run: /usr/bin/python3 tools/make_ard_golden.py [out_dir]   (default tests/data/golden)
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import Parameter

B = 10
N_CLASSES = 10
G = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
K1, K2, K3 = 0.63576, 1.8732, 1.48695
THRESH = 3.0

ADAM = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-3, "momentum": 0.0, "nesterov": False}
ADAM_WD0 = dict(ADAM, weight_decay=0.0)
SGD = {"optimizer": "sgd", "lr": 1e-2, "weight_decay": 1e-3, "momentum": 0.9, "nesterov": False}
SGD_NESTEROV = dict(SGD, nesterov=True)


def activation(name):
    return {"tanh": nn.Tanh(), "relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "gelu": nn.GELU(),
            "leakyrelu": nn.LeakyReLU(), "silu": nn.SiLU()}[name]


def mdkl(log_alpha):
    return K1 * torch.sigmoid(K2 + K3 * log_alpha) - 0.5 * torch.log1p(torch.exp(-log_alpha)) - K1


class LinearARD(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = Parameter(torch.zeros(out_features, in_features))
        self.bias = Parameter(torch.zeros(out_features))
        self.log_sigma2 = Parameter(torch.full((out_features, in_features), -10.0))
        self.log_sigma2_bias = Parameter(torch.full((out_features,), -10.0))  # unused
        self.eps = None

    @property
    def log_alpha(self):
        return torch.clamp(self.log_sigma2 - 2 * torch.log(torch.abs(self.weight) + 1e-15), -10, 10)

    def forward(self, x):
        if not self.training:
            w = torch.where(self.log_alpha >= THRESH, torch.zeros_like(self.weight), self.weight)
            return F.linear(x, w, self.bias)
        mu = x.matmul(self.weight.t())
        s2 = (x * x).matmul((torch.exp(self.log_alpha) * self.weight * self.weight).t())
        return mu + torch.sqrt(s2 + 1e-15) * self.eps + self.bias

    def get_reg(self):
        return -torch.sum(mdkl(self.log_alpha))

    def weights_dropped(self):
        return int((self.log_alpha >= THRESH).sum()), self.weight.numel()


class Conv2dARD(nn.Conv2d):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__(in_channels, out_channels, kernel_size)
        self.log_sigma2 = Parameter(-10.0 * torch.ones_like(self.weight))
        self.log_sigma2_bias = Parameter(-10.0 * torch.ones_like(self.bias))
        self.eps = None

    @property
    def log_alpha(self):
        return torch.clamp(self.log_sigma2 - 2 * torch.log(torch.abs(self.weight) + 1e-15), -8, 8)

    @property
    def log_alpha_bias(self):
        return torch.clamp(self.log_sigma2_bias - 2 * torch.log(torch.abs(self.bias) + 1e-15), -8, 8)

    def forward(self, x):
        if not self.training:
            w = torch.where(self.log_alpha >= THRESH, torch.zeros_like(self.weight), self.weight)
            b = torch.where(self.log_alpha_bias >= THRESH, torch.zeros_like(self.bias), self.bias)
            return F.conv2d(x, w, b)
        mu = F.conv2d(x, self.weight, self.bias)
        si = torch.sqrt(1e-15 + F.conv2d(x * x, torch.exp(self.log_alpha) * self.weight * self.weight,
                                         torch.exp(self.log_alpha_bias) * self.bias * self.bias))
        return mu + si * self.eps

    def get_reg(self):
        return -torch.sum(mdkl(self.log_alpha)) - torch.sum(mdkl(self.log_alpha_bias))

    def weights_dropped(self):
        return int((self.log_alpha >= THRESH).sum()), self.weight.numel()


class Net(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.module_list = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.module_list:
            x = layer(x)
        return x

    def ard_layers(self):
        return [m for m in self.module_list if isinstance(m, (LinearARD, Conv2dARD))]

    def get_reg(self):
        return sum(m.get_reg() for m in self.ard_layers())


def cnn_ard(channels, nlin, dropout_layers):
    """CNN_ARD (CNN-s), C x 28 x 28; Dropout modules (p = 0 here) only with dropout_layers."""
    drop = (lambda: [nn.Dropout(0.0)]) if dropout_layers else (lambda: [])
    m = [Conv2dARD(channels, 8, 5), nn.MaxPool2d(2, 2), activation(nlin)] + drop()
    m += [Conv2dARD(8, 6, 5), nn.MaxPool2d(2, 2), activation(nlin)] + drop()
    m += [Conv2dARD(6, 4, 2), activation(nlin), nn.Flatten(), LinearARD(36, 20), activation(nlin)]
    m += drop() + [LinearARD(20, 10)]
    return Net(m)


def cnn3_ard(channels, nlin):
    """CNN3_ARD (CNN-l), C x 32 x 32; Dropout modules always present (p = 0 here)."""
    m = []
    for cin, cout in ((channels, 16), (16, 32), (32, 15)):
        m += [Conv2dARD(cin, cout, 3), nn.MaxPool2d(2, 2), activation(nlin), nn.Dropout(0.0)]
    m += [nn.Flatten(), LinearARD(60, 20), activation(nlin), nn.Dropout(0.0), LinearARD(20, 10)]
    return Net(m)


def mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def bits24(seed, n):
    base = np.uint64((seed * G) & MASK)
    with np.errstate(over="ignore"):
        z = mix64(base + np.arange(n, dtype=np.uint64))
    return (z >> np.uint64(40)).astype(np.float32)


def make_input(seed, n):
    return (bits24(seed, n) * np.float32(2.0 ** -22) - np.float32(1.0)).astype(np.float32)


def make_noise(seed, n):
    return (bits24(seed, n) * np.float32(2.0 ** -22) - np.float32(2.0)).astype(np.float32)


def make_labels(seed):
    with np.errstate(over="ignore"):
        z = mix64(np.uint64(((seed ^ 0x5A5A) * G) & MASK) + np.arange(B, dtype=np.uint64))
    return [int(v) for v in (z >> np.uint64(32)) % np.uint64(N_CLASSES)]


def batch(channels, hw, t):
    seed = 900000 + channels * 1000 + hw * 10 + t
    x = make_input(seed, B * channels * hw * hw)
    y = make_labels(seed)
    meta = {"seed": seed, "labels": y, "checksum": float(np.sum(x.astype(np.float64))),
            "first": [float(v) for v in x[:4]]}
    return torch.from_numpy(x.reshape(B, channels, hw, hw).copy()), torch.tensor(y), meta


def set_noise(model, case_seed, step, x_shape):
    """Noise of every ARD layer for a batch: shapes from a dry eval-mode pass."""
    seeds = []
    outs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outs.append(o.shape))
             for m in model.ard_layers()]
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(x_shape))
    model.train(was)
    for h in hooks:
        h.remove()
    for o, (m, shape) in enumerate(zip(model.ard_layers(), outs)):
        seed = case_seed * 1000 + 100 + 10 * step + o
        n = int(np.prod(shape))
        m.eps = torch.from_numpy(make_noise(seed, n).reshape(shape).copy())
        seeds.append(seed)
    return seeds


def param_spec(model, case_seed):
    """Per state_dict tensor: the generator's (seed, lo, width), see the module docstring."""
    out = []
    for t, (name, v) in enumerate(model.state_dict().items()):
        if name.endswith(".weight"):
            fan_in = v[0].numel()
            s = 2.0 ** -int(np.floor(np.log2(np.sqrt(fan_in))))  # ~ 1 / sqrt(fan_in)
            lo, width = -s, 2 * s
        elif name.endswith(".bias"):
            lo, width = -0.125, 0.25
        else:
            # log_sigma2, log_sigma2_bias in [-20, -4): log alpha from below the lower clamp to
            # above the threshold 3 (small weights) and the upper clamp (tiny ones), while the
            # noise's standard deviation per weight, sqrt(alpha) |theta| = exp(log_sigma2 / 2)
            # unless clamped, stays below 0.14 (logits of a moderate size)
            lo, width = -20.0, 16.0
        out.append({"name": name, "shape": list(v.shape), "seed": case_seed * 64 + t, "lo": lo,
                    "width": width})
    return out


def fill_params(model, spec, zeros):
    sd = model.state_dict()
    with torch.no_grad():
        for t, s in enumerate(spec):
            n = sd[s["name"]].numel()
            u = bits24(s["seed"], n) * np.float32(2.0 ** -24)
            v = (np.float32(s["lo"]) + np.float32(s["width"]) * u).astype(np.float32)
            for tz, iz in zeros:
                if tz == t:
                    v[iz] = 0.0
            sd[s["name"]].copy_(torch.from_numpy(v.reshape(sd[s["name"]].shape)))


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


def make_case(w, arch, channels, nlin, dropout_layers, case_seed, kl_weight, zeros, trajectories):
    hw = 28 if arch == "cnn-s" else 32
    name = "%s_c%d_%s%s" % (arch, channels, nlin, "_drop" if dropout_layers else "")

    def build():
        torch.manual_seed(case_seed)
        model = cnn_ard(channels, nlin, dropout_layers) if arch == "cnn-s" else cnn3_ard(channels, nlin)
        fill_params(model, spec, zeros)
        return model

    spec = None
    model = cnn_ard(channels, nlin, dropout_layers) if arch == "cnn-s" else cnn3_ard(channels, nlin)
    spec = param_spec(model, case_seed)
    model = build()
    assert [n for n, _ in model.named_parameters()] == list(model.state_dict().keys())
    p0 = flat_params(model)

    x, y, meta0 = batch(channels, hw, 0)
    noise0 = set_noise(model, case_seed, 0, x.shape)
    model.train()
    model.zero_grad()
    z = model(x)
    ce = F.cross_entropy(z, y)
    kl = model.get_reg()
    elbo = ce + kl_weight * kl
    elbo.backward()
    # LinearARD's log_sigma2_bias takes no part: no gradient (zero)
    grads = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                       for p in model.parameters()]).numpy()
    model.eval()
    with torch.no_grad():
        ze = model(x)
        eval_loss = F.cross_entropy(ze, y) + kl_weight * model.get_reg()
    dropped = sum(m.weights_dropped()[0] for m in model.ard_layers())
    n_weights = sum(m.weights_dropped()[1] for m in model.ard_layers())
    case = {
        "name": name, "arch": arch, "channels": channels, "h": hw, "w": hw,
        "dropout_layers": dropout_layers, "activation": nlin, "seed": case_seed,
        "kl_weight": kl_weight, "n_params": int(p0.size), "tensors": spec, "zeros": zeros,
        "params_checksum": float(np.sum(p0.astype(np.float64))), "batch": meta0,
        "noise_seeds": noise0,
        "logits_train": w.add(name + "/logits_train", z.detach().numpy()),
        "logits_eval": w.add(name + "/logits_eval", ze.numpy()),
        "ce": float(ce.item()), "kl": float(kl.item()), "elbo": float(elbo.item()),
        "eval_loss": float(eval_loss.item()), "dropped": dropped, "n_weights": n_weights,
        "grads": w.add(name + "/grads", grads), "trajectories": [],
    }
    for cfg in trajectories:
        model = build()
        model.train()
        params = list(model.parameters())
        if cfg["optimizer"] == "adam":
            opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        else:
            opt = torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"],
                                  weight_decay=cfg["weight_decay"], nesterov=cfg["nesterov"])
        tag = "%s_m%g_wd%g%s" % (cfg["optimizer"], cfg["momentum"], cfg["weight_decay"],
                                 "_nesterov" if cfg["nesterov"] else "")
        traj = dict(cfg, name=tag, batches=[], noise_seeds=[], losses=[])
        for t in range(3):
            xt, yt, meta = batch(channels, hw, t)
            traj["noise_seeds"].append(set_noise(model, case_seed, t, xt.shape))
            opt.zero_grad()
            loss = F.cross_entropy(model(xt), yt) + kl_weight * model.get_reg()
            loss.backward()
            opt.step()
            traj["batches"].append(meta)
            traj["losses"].append(float(loss.item()))
        traj["weights"] = w.add("%s/%s/step3" % (name, tag), flat_params(model))
        case["trajectories"].append(traj)
    print("%-28s ce %.5f kl %.3f dropped %d of %d" % (name, ce.item(), kl.item(), dropped,
                                                      n_weights), file=sys.stderr)
    return case


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "golden")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    w = Writer()
    cases = [
        # zeros: (tensor index, element) set to exactly 0 (|theta| = 0: log alpha at the clamp)
        make_case(w, "cnn-s", 1, "tanh", False, 11, 0.05, [[4, 11], [12, 5]], [ADAM, SGD]),
        make_case(w, "cnn-s", 1, "relu", True, 12, 0.01, [], [ADAM_WD0]),
        make_case(w, "cnn-s", 3, "gelu", True, 13, 0.02, [[0, 3]], [SGD_NESTEROV]),
        make_case(w, "cnn-s", 1, "sigmoid", False, 14, -0.0004, [], []),
        make_case(w, "cnn-l", 3, "silu", False, 15, 0.01, [], [ADAM]),
        make_case(w, "cnn-l", 1, "leakyrelu", False, 16, 0.0096, [], []),
    ]
    blob = np.concatenate(w.chunks).astype("<f4")
    with open(os.path.join(out, "ard.bin"), "wb") as f:
        f.write(blob.tobytes())
    manifest = {
        "format": 1,
        "generator": "tools/make_ard_golden.py",
        "torch": torch.__version__,
        "batch_size": B,
        "n_classes": N_CLASSES,
        "arrays": w.arrays,
        "cases": cases,
    }
    with open(os.path.join(out, "ard.json"), "w") as f:
        json.dump(manifest, f, separators=(",", ":"))
        f.write("\n")
    print("%d cases, %d floats (%.0f KB)" % (len(cases), blob.size, blob.size * 4 / 1024))


if __name__ == "__main__":
    main()
