#!/usr/bin/python3
"""Writes tests/data/golden/resnet.{json,bin}: PyTorch (Debian's torch 1.13 / torchvision 0.14,
CPU) golden values for mzoo's ResNet-18 (src/nn/resnet.c, tests/test_resnet.c).

The model is the reference's: torchvision's
ResNet(BasicBlock, [2, 2, 2, 2], num_classes=K) with conv1 replaced by a 3x3/s1/p1 conv without
bias and maxpool by Identity; loss NLLLoss(log_softmax(z)) with mean reduction; SGD(lr, momentum
0.9, weight_decay 5e-4) stepped by OneCycleLR(max_lr, epochs, steps_per_epoch) with torch's
defaults, so the momentum in use is OneCycle's.

Nothing large is stored. The state (all 122 state_dict tensors) is a formula both sides compute:
tensor t (state_dict index) of case seed S uses u_i = (mix64(((1000 S + t) G + i) mod 2^64) >> 40)
* 2^-24 for its element i (row-major), with mix64 the splitmix64 finaliser and G =
0x9E3779B97F4A7C15, every expression evaluated in double and rounded once to float32:
  conv and fc weights   b (2u - 1), b = sqrt(6 / fan_in) (fan_in = in * kh * kw; fc: 512)
  fc.bias               0.1 (2u - 1)
  bn weight             0.75 + 0.5 u
  bn bias               0.2 (2u - 1)
  running_mean          0.1 (2u - 1)
  running_var           0.5 + u
  num_batches_tracked   3
Input batch with seed s: x[i] = (mix64((s G + i) mod 2^64) >> 40) 2^-22 - 1 over the [B][C][H][W]
floats; labels y[b] = mix64((s G + 2^32 + b) mod 2^64) mod K (stored in the manifest).

A tensor of more than 4096 elements is stored as 512 samples at indices floor(j count / 512),
j = 0..511, plus two full-tensor statistics in float64: its Euclidean norm and its projection
sum_i v_i r_i on the sign pattern r_i = +1 if mix64(i + 12345) is odd, else -1 (a random
projection: a wrong element anywhere moves it by about its own error, rounding by about the norm
of the rounding errors). Smaller tensors are stored whole.

Case seeds are chosen so that no ReLU input of the gradient cases is within 1e-6 of 0 (the script
asserts it): at a kink the two sides' rounding can flip the ReLU mask and change a gradient by a
whole element's contribution, which in layer4 (few values per channel) is not small.

Cases (all C = 3):
  b4_16     B=4, 16x16, K=10: train-mode logits, loss, every gradient, the BN buffers after that
            forward; eval-mode logits of the initial state; then 3 SGD+OneCycle updates on input
            seeds 101, 102, 103 (max_lr 0.05, epochs 2, steps_per_epoch 10): the losses, and the
            weights (statistics of the change w3 - w0) and buffers after the third.
  b2_32     B=2, 32x32, K=10: train-mode logits, loss, every gradient; eval-mode logits.
  b3_12     B=3, 12x12, K=200: odd sizes (12, 6, 3, 2 through the layers): train and eval logits,
            loss, every gradient.
Layouts (names and shapes of the state_dict) for C=3 with K=10, 100 and 200 and for C=1, K=10.

File format: resnet.bin is a sequence of little-endian float32 arrays; resnet.json lists every
array by name with its offset (in floats), count and shape.

Run: /usr/bin/python3 tools/make_resnet_golden.py [out_dir]   (default tests/data/golden)
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, ResNet

G = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
FULL_MAX = 4096
SAMPLES = 512


class ResNet18(ResNet):
    """The reference's ResNet18: torchvision's, CIFAR stem, no maxpool."""

    def __init__(self, channels_in, n_classes):
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=n_classes)
        self.conv1 = nn.Conv2d(channels_in, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.maxpool = nn.Identity()


def mix64_np(z):
    z = z.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def stream(seed, n, extra=0):
    """mix64((seed G + extra + i) mod 2^64) for i < n."""
    base = (seed * G + extra) & MASK
    with np.errstate(over="ignore"):
        z = np.uint64(base) + np.arange(n, dtype=np.uint64)
    return mix64_np(z)


def unit24(seed, n):
    return (stream(seed, n) >> np.uint64(40)).astype(np.float64) * 2.0**-24


def fill_state(model, case_seed):
    sd = model.state_dict()
    new = {}
    for t, (name, v) in enumerate(sd.items()):
        n = v.numel()
        if name.endswith("num_batches_tracked"):
            new[name] = torch.tensor(3, dtype=torch.int64)
            continue
        u = unit24(1000 * case_seed + t, n)
        if name.endswith("running_mean"):
            a = 0.1 * (2 * u - 1)
        elif name.endswith("running_var"):
            a = 0.5 + u
        elif name == "fc.bias":
            a = 0.1 * (2 * u - 1)
        elif v.dim() >= 2:
            fan_in = v.shape[1] * (v.shape[2] * v.shape[3] if v.dim() == 4 else 1)
            a = math.sqrt(6.0 / fan_in) * (2 * u - 1)
        elif name.endswith(".weight"):
            a = 0.75 + 0.5 * u
        else:
            a = 0.2 * (2 * u - 1)
        new[name] = torch.from_numpy(a.astype(np.float32).reshape(tuple(v.shape)))
    model.load_state_dict(new)


def make_batch(seed, B, C, H, W, K):
    x = ((stream(seed, B * C * H * W) >> np.uint64(40)).astype(np.float64) * 2.0**-22 - 1.0)
    x = x.astype(np.float32).reshape(B, C, H, W)
    y = (stream(seed, B, 1 << 32) % np.uint64(K)).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def signs(n):
    return np.where(mix64_np(np.arange(n, dtype=np.uint64) + np.uint64(12345)) & np.uint64(1), 1.0, -1.0)


class Writer:
    def __init__(self):
        self.chunks, self.arrays, self.offset = [], {}, 0

    def add(self, name, arr):
        a = np.ascontiguousarray(np.asarray(arr, dtype=np.float32)).reshape(-1)
        assert name not in self.arrays
        self.arrays[name] = {"offset": self.offset, "count": int(a.size), "shape": list(np.shape(arr))}
        self.chunks.append(a)
        self.offset += a.size

    def add_tensor(self, name, v):
        """Whole if small, else samples + norm + projection (see the module docstring)."""
        v = v.detach().double().numpy().reshape(-1)
        n = v.size
        if n <= FULL_MAX:
            self.add(name, v)
            return {"full": True}
        idx = (np.arange(SAMPLES, dtype=np.int64) * n) // SAMPLES
        self.add(name, v[idx])
        return {"full": False, "norm": float(np.linalg.norm(v)), "proj": float(np.dot(v, signs(n)))}


def loss_of(model, x, y):
    out = model(x)
    return out, F.nll_loss(F.log_softmax(out, dim=1), y)


def relu_margin(model, x):
    """Smallest |input| of any ReLU in a training-mode forward (on a copy of the model)."""
    import copy

    m = copy.deepcopy(model)
    m.train()
    mins = []
    for mod in m.modules():
        if isinstance(mod, nn.ReLU):
            mod.register_forward_pre_hook(lambda mod, inp: mins.append(inp[0].abs().min().item()))
    with torch.no_grad():
        m(x)
    return min(mins)


def grads_case(w, model, tag, x, y):
    # A ReLU input within rounding of 0 would make the two sides' gradients differ by a whole
    # element's contribution (the mask flips): case seeds are chosen so that none is below 1e-6.
    margin = relu_margin(model, x)
    assert margin > 1e-6, f"{tag}: a ReLU input is {margin:.3g} from 0; pick another case seed"
    model.train()
    model.zero_grad()
    out, loss = loss_of(model, x, y)
    loss.backward()
    w.add(f"{tag}/logits_train", out.detach().numpy())
    stats = {}
    for name, p in model.named_parameters():
        stats[name] = w.add_tensor(f"{tag}/grad/{name}", p.grad)
    return float(loss.item()), stats


def buffers(w, model, prefix):
    for name, v in model.state_dict().items():
        if "running" in name or "num_batches" in name:
            w.add(f"{prefix}/{name}", v.double().numpy())


def case(w, tag, case_seed, B, HW, K, steps):
    torch.manual_seed(0)
    model = ResNet18(3, K)
    fill_state(model, case_seed)
    x, y = make_batch(case_seed, B, 3, HW, HW, K)
    c = {"name": tag, "seed": case_seed, "B": B, "H": HW, "W": HW, "C": 3, "K": K,
         "labels": [int(v) for v in y]}
    # eval mode first, from the untouched state
    model.eval()
    with torch.no_grad():
        w.add(f"{tag}/logits_eval", model(x).numpy())
    c["loss"], c["grads"] = grads_case(w, model, tag, x, y)
    buffers(w, model, f"{tag}/after_forward")
    if steps:
        fill_state(model, case_seed)  # the train forward above moved the running statistics
        w0 = {n: p.detach().clone() for n, p in model.named_parameters()}
        max_lr, epochs, spe = 0.05, 2, 10
        opt = torch.optim.SGD(model.parameters(), lr=max_lr, momentum=0.9, weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=epochs, steps_per_epoch=spe)
        model.train()
        c["steps"] = {"max_lr": max_lr, "total_steps": epochs * spe, "input_seeds": [], "labels": [],
                      "losses": [], "lr": [], "momentum": []}
        for s in range(steps):
            xs, ys = make_batch(101 + s, B, 3, HW, HW, K)
            c["steps"]["input_seeds"].append(101 + s)
            c["steps"]["labels"].append([int(v) for v in ys])
            c["steps"]["lr"].append(opt.param_groups[0]["lr"])
            c["steps"]["momentum"].append(opt.param_groups[0]["momentum"])
            opt.zero_grad()
            _, loss = loss_of(model, xs, ys)
            loss.backward()
            opt.step()
            sched.step()
            c["steps"]["losses"].append(float(loss.item()))
        delta = {}
        for n, p in model.named_parameters():
            delta[n] = w.add_tensor(f"{tag}/delta/{n}", p.detach() - w0[n])
        c["steps"]["delta"] = delta
        buffers(w, model, f"{tag}/after_steps")
    return c


def layout(C, K):
    sd = ResNet18(C, K).state_dict()
    return [[n, list(v.shape)] for n, v in sd.items()]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "golden")
    torch.set_num_threads(1)
    w = Writer()
    layouts = {f"c3_k{K}": layout(3, K) for K in (10, 100, 200)}
    layouts["c1_k10"] = layout(1, 10)
    cases = [
        case(w, "b4_16", 1, 4, 16, 10, 3),
        case(w, "b2_32", 2, 2, 32, 10, 0),
        case(w, "b3_12", 7, 3, 12, 200, 0),
    ]
    manifest = {
        "generator": "tools/make_resnet_golden.py",
        "torch": torch.__version__,
        "full_max": FULL_MAX,
        "samples": SAMPLES,
        "layouts": layouts,
        "cases": cases,
        "arrays": w.arrays,
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "resnet.bin"), "wb") as f:
        np.concatenate(w.chunks).astype("<f4").tofile(f)
    with open(os.path.join(out, "resnet.json"), "w") as f:
        json.dump(manifest, f, separators=(",", ":"))
    print(f"wrote {w.offset} floats, {len(w.arrays)} arrays to {out}")


if __name__ == "__main__":
    main()
