#!/usr/bin/python3
"""Fixtures and checks for mzoo's import/export tests (tests/cli_interop.sh, tests/test_pickle.c),
made with Debian's python3-torch, python3-torchvision and python3-numpy:

    /usr/bin/python3 tools/make_interop_fixtures.py COMMAND ARGS...

Fixtures (written into a directory, usually a temporary one):
  modelzoos DIR      a small Ray Tune 1.8 experiment as the Model Zoos publish them
                     (DIR/tune_zoo_fixture/NN_tune_trainable_*/params.json, result.json,
                     checkpoint_*/checkpoints), its .zip and .tar.gz, a ResNet-18 experiment, and
                     malformed copies (DIR/bad_*/)
  ard DIR            the sparsified twins as the reference writes them (DIR/ard_fixture:
                     CNN_ARD and CNN3_ARD trials with sparsity_ratio and garbage in the linear
                     layers' log_sigma2_bias, a diverged one; its .zip) and malformed copies
                     (DIR/bad_ard_*/)
  ctc DIR            a small Google Small CNN Zoo (DIR/ctc: weights.npy float32, metrics.csv.gz,
                     layout.csv; DIR/ctc64: float64 weights, plain metrics.csv) and bad copies
  tiny DIR           the few small .pt files tests/data/pt holds (committed; regenerate with
                     `tiny tests/data/pt`)
Checks (exit status 1 with a message on the first difference):
  compare-zoos A.db B.db [--ignore-hparams]
                                  same models, epochs (weights bit for bit) and layouts
  check-ard ZOO.db EXP            an imported twin zoo against its source (weights, sparsity,
                                  per-layer sparsity, hparams, status) as torch computes them
  check-ard-pruned ZOO.db EXP     mzoo's Python package: pruned state_dicts and modules of the
                                  twins equal torch's ARD modules (PYTHONPATH, MZOO_LIBRARY set)
  check-pt EXPORT SRC             every .pt of `mzoo export --format pt`: torch.load(weights_only=True),
                                  load_state_dict(strict=True) into the reference's module, equal to
                                  the source checkpoint (SRC: a modelzoos experiment or a ctc dir)
  check-safetensors EXPORT SRC    the same for `--format safetensors` (read with json + numpy)
  reference-load EXP              loads EXP as the reference's ModelDatasetBase does (every
                                  subdirectory a model, checkpoint_<e> or checkpoint_<e:06d>,
                                  result.json lines, config keys) and prints a digest of it
  check-disagreement REPORT.html EXP DATA
                                  the prediction disagreement of `mzoo report` on a zoo imported
                                  from EXP against torch on Fashion-MNIST's test images in DATA
  check-ctc EXPORT SRC            an exported ctc directory holds SRC's rows (by modeldir and step)
  eval-fmnist EXPORT ZOO.db DIR   test accuracy of every model's last exported CNN-s checkpoint on
                                  Fashion-MNIST's test set (torch), against the zoo's test_acc
Several commands separated by '::' run in one process (torch is imported once).
"""
import collections
import csv
import gzip
import hashlib
import io
import json
import math
import os
import shutil
import sqlite3
import struct
import sys
import tarfile
import zipfile

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)  # the test machines are small and shared

# ---------------------------------------------------------------------------------------------
# The reference's modules, re-declared from its description (module_list indices, dropout rule)


def activation(name):
    return {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
            "leakyrelu": nn.LeakyReLU, "silu": nn.SiLU}[name]()


class CNN(nn.Module):
    """CNN-s: dropout modules only when dropout > 0, which shifts the later indices."""

    def __init__(self, channels=1, nlin="tanh", dropout=0.0):
        super().__init__()
        drop = dropout > 0
        m = [nn.Conv2d(channels, 8, 5), nn.MaxPool2d(2, 2), activation(nlin)]
        m += [nn.Dropout(dropout)] if drop else []
        m += [nn.Conv2d(8, 6, 5), nn.MaxPool2d(2, 2), activation(nlin)]
        m += [nn.Dropout(dropout)] if drop else []
        m += [nn.Conv2d(6, 4, 2), activation(nlin), nn.Flatten(), nn.Linear(36, 20),
              activation(nlin)]
        m += [nn.Dropout(dropout)] if drop else []
        m += [nn.Linear(20, 10)]
        self.module_list = nn.ModuleList(m)

    def forward(self, x):
        for m in self.module_list:
            x = m(x)
        return x


class CNN3(nn.Module):
    """CNN-l: dropout modules always present."""

    def __init__(self, channels=3, nlin="tanh", dropout=0.0):
        super().__init__()
        m = []
        for cin, cout in ((channels, 16), (16, 32), (32, 15)):
            m += [nn.Conv2d(cin, cout, 3), nn.MaxPool2d(2, 2), activation(nlin),
                  nn.Dropout(dropout)]
        m += [nn.Flatten(), nn.Linear(60, 20), activation(nlin), nn.Dropout(dropout),
              nn.Linear(20, 10)]
        self.module_list = nn.ModuleList(m)

    def forward(self, x):
        for m in self.module_list:
            x = m(x)
        return x


def resnet18(channels=3, classes=10):
    from torchvision.models.resnet import BasicBlock, ResNet
    net = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=classes)
    net.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    return net


class SmallCNN(nn.Module):
    """Google's Small CNN Zoo network in PyTorch: 3x3 stride-2 convolutions without padding,
    global average pooling, a dense layer. State dict names as mzoo's layout: conv1..convL, fc."""

    def __init__(self, channels=1, units=16, layers=3, classes=10, nlin="relu"):
        super().__init__()
        self.act = nlin
        cin = channels
        for i in range(layers):
            setattr(self, "conv%d" % (i + 1), nn.Conv2d(cin, units, 3, stride=2))
            cin = units
        self.layers = layers
        self.fc = nn.Linear(units, classes)

    def forward(self, x):
        f = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
             "selu": torch.selu}[self.act]
        for i in range(self.layers):
            x = f(getattr(self, "conv%d" % (i + 1))(x))
        return self.fc(x.mean(dim=(2, 3)))


class LinearARD(nn.Module):
    """The reference's LinearARD: weight, bias, log_sigma2 (the weight's shape) and
    log_sigma2_bias (never initialised, never used). Eval forward: weights with
    log alpha = clamp(log_sigma2 - 2 log(|w| + 1e-15), -10, 10) >= 3 are zero; the bias stays."""

    def __init__(self, fin, fout):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(fout, fin).normal_(0, 0.02))
        self.bias = nn.Parameter(torch.zeros(fout))
        self.log_sigma2 = nn.Parameter(torch.full((fout, fin), -10.0))
        self.log_sigma2_bias = nn.Parameter(torch.empty(fout))  # uninitialised, as the reference

    def log_alpha(self):
        return torch.clamp(self.log_sigma2 - 2 * torch.log(torch.abs(self.weight) + 1e-15), -10, 10)

    def forward(self, x):
        return nn.functional.linear(x, self.weight * (self.log_alpha() < 3).float(), self.bias)


class Conv2dARD(nn.Conv2d):
    """The reference's Conv2dARD: nn.Conv2d plus log_sigma2 and log_sigma2_bias (-10); eval
    forward zeroes weights and biases whose log alpha (clamped to [-8, 8]) is >= 3."""

    def __init__(self, cin, cout, k):
        super().__init__(cin, cout, k)
        self.log_sigma2 = nn.Parameter(torch.full(self.weight.shape, -10.0))
        self.log_sigma2_bias = nn.Parameter(torch.full(self.bias.shape, -10.0))

    def log_alpha(self):
        return torch.clamp(self.log_sigma2 - 2 * torch.log(torch.abs(self.weight) + 1e-15), -8, 8)

    def forward(self, x):
        la_b = torch.clamp(self.log_sigma2_bias - 2 * torch.log(torch.abs(self.bias) + 1e-15), -8, 8)
        return self._conv_forward(x, self.weight * (self.log_alpha() < 3).float(),
                                  self.bias * (la_b < 3).float())


def ard_of(plain):
    """CNN_ARD / CNN3_ARD: the plain module's ModuleList with Conv2d and Linear replaced by their
    ARD layers (same indices), weights and biases copied (load_state_dict_from_nonARD)."""
    for i, m in enumerate(plain.module_list):
        if isinstance(m, nn.Conv2d):
            a = Conv2dARD(m.in_channels, m.out_channels, m.kernel_size[0])
        elif isinstance(m, nn.Linear):
            a = LinearARD(m.in_features, m.out_features)
        else:
            continue
        with torch.no_grad():
            a.weight.copy_(m.weight)
            a.bias.copy_(m.bias)
        plain.module_list[i] = a
    return plain


def ard_layers(net):
    return [m for m in net.module_list if isinstance(m, (Conv2dARD, LinearARD))]


def ard_sparsity(net):
    """sparsity_ratio as the reference computes it (weights with log alpha >= 3 over all ARD
    weights, biases not counted), and per layer in mzoo's names (conv1, ..., fc1, ...)."""
    dropped = total = 0
    per, nconv, nfc = {}, 0, 0
    with torch.no_grad():
        for m in ard_layers(net):
            d = int((m.log_alpha() >= 3).sum())
            if isinstance(m, Conv2dARD):
                nconv += 1
                name = "conv%d" % nconv
            else:
                nfc += 1
                name = "fc%d" % nfc
            per[name] = d / m.weight.numel()
            dropped += d
            total += m.weight.numel()
    return dropped / total, per


def module_for(params):
    t = params.get("model::type")
    if t in ("CNN_ARD", "CNN3_ARD"):
        return ard_of(module_for(dict(params, **{"model::type": t[:-4]})))
    if t == "CNN":
        return CNN(params.get("model::i_dim", 1), params.get("model::nlin", "tanh"),
                   params.get("model::dropout", 0))
    if t == "CNN3":
        return CNN3(params.get("model::i_dim", 3), params.get("model::nlin", "tanh"),
                    params.get("model::dropout", 0))
    if t == "Resnet18":
        return resnet18(params.get("model::i_dim", 3), params.get("model::o_dim", 10))
    raise SystemExit("unknown model::type %r" % t)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Hand-made .pt files (for malformed variants): a protocol-2 pickle emitter and a zip writer


def p_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def p_int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    return b"\x8a\x08" + struct.pack("<q", v)


def p_tuple(vals):
    return b"(" + b"".join(p_int(v) for v in vals) + b"t"


def p_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def state_dict_pickle(entries, top=("collections", "OrderedDict"), storage_type="FloatStorage"):
    """entries: (name, key, numel, offset, shape, stride). Returns pickle bytes."""
    out = b"\x80\x02" + p_global(*top) + b")R("
    for name, key, numel, offset, shape, stride in entries:
        out += p_str(name) + p_global("torch._utils", "_rebuild_tensor_v2") + b"(("
        out += p_str("storage") + p_global("torch", storage_type) + p_str(key) + p_str("cpu")
        out += p_int(numel) + b"tQ" + p_int(offset) + p_tuple(shape) + p_tuple(stride)
        out += b"\x89" + p_global("collections", "OrderedDict") + b")Rt" + b"R"
    return out + b"u."


def write_pt(path, pickle_bytes, storages, stem="checkpoints"):
    """A zip of stored entries as torch.save writes it (alignment is not needed to read it)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(stem + "/data.pkl", pickle_bytes)
        for key, data in storages:
            z.writestr(stem + "/data/" + key, data)
        z.writestr(stem + "/version", "3\n")


def state_dict_entries(sd):
    """The (name, key, numel, offset, shape, stride) and storage bytes of a real state_dict."""
    entries, storages = [], []
    for i, (k, v) in enumerate(sd.items()):
        v = v.contiguous()
        entries.append((k, str(i), v.numel(), 0, list(v.shape), list(v.stride())))
        storages.append((str(i), v.numpy().tobytes()))
    return entries, storages


# ---------------------------------------------------------------------------------------------
# modelzoos fixture

EPOCH_DATE = "2022-06-11_10-00-%02d"


def perturb(model, epoch, seed):
    """Deterministic stand-in for an epoch of training."""
    g = torch.Generator().manual_seed(1000 * seed + epoch)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g))


def base_params(**kw):
    p = {"cuda": False, "dataset::dump": "/data/F_MNIST/dataset.pt", "model::o_dim": 10,
         "model::use_bias": False, "training::batchsize": 10, "training::checkpoint_dir": None,
         "training::epochs_train": 3, "training::idx_out": 500, "training::output_epoch": 1,
         "training::start_epoch": 1, "training::val_epochs": 1, "optim::wd": 0}
    p.update(kw)
    return p


def result_line(params, it, metrics, done, trial_id):
    line = dict(metrics)
    line.update({"done": done, "timesteps_total": None, "episodes_total": None,
                 "training_iteration": it, "experiment_id": "e" * 32,
                 "date": EPOCH_DATE % it, "timestamp": 1654941600 + it,
                 "time_this_iter_s": 1.5, "time_total_s": 1.5 * (it + 1), "pid": 4242,
                 "hostname": "node", "node_ip": "10.0.0.1", "config": params,
                 "time_since_restore": 1.5 * (it + 1), "timesteps_since_restore": 0,
                 "iterations_since_restore": it + 1, "trial_id": trial_id,
                 "experiment_tag": "0_seed=%s" % params.get("seed")})
    return json.dumps(line)  # allow_nan: bare NaN / Infinity, as ray writes them


def write_trial(exp, name, params, model, epochs, *, version_a=False, val=False, padded=True,
                missing_ckpt=(), nan_ckpt=(), lines=None, error=None, dup_line=None,
                with_optimizer=True):
    """A trial directory: params.json, result.json, checkpoint_<e>/checkpoints (+ optimizer)."""
    d = os.path.join(exp, name)
    os.makedirs(d)
    with open(os.path.join(d, "params.json"), "w") as f:
        json.dump(params, f, indent=2, sort_keys=True)
    torch.manual_seed(params["seed"])
    seed = params["seed"]
    out = []
    for e in range(epochs):
        if e:
            perturb(model, e, seed)
        metrics = {"train_loss": 2.3 - 0.1 * e, "train_acc": 0.1 + 0.05 * e,
                   "test_loss": 2.2 - 0.1 * e, "test_acc": 0.12 + 0.05 * e}
        if version_a and e == 0:
            metrics["train_loss"] = metrics["train_acc"] = -999
        if val:
            metrics["val_loss"], metrics["val_acc"] = 2.25 - 0.1 * e, 0.11 + 0.05 * e
        if lines and e in lines:
            metrics.update(lines[e])
        out.append(result_line(params, e, metrics, e == epochs - 1 and not error,
                               name.split("_")[3] + "_" + name.split("_")[4]))
        if dup_line is not None and e == dup_line:  # a restored trial repeats an iteration
            m2 = dict(metrics, test_acc=metrics["test_acc"] + 0.5)
            out.append(result_line(params, e, m2, False, "x"))
        if e in missing_ckpt:
            continue
        cdir = os.path.join(d, "checkpoint_%06d" % e if padded else "checkpoint_%d" % e)
        os.makedirs(cdir)
        sd = model.state_dict()
        if e in nan_ckpt:
            sd = collections.OrderedDict((k, v.clone()) for k, v in sd.items())
            last = list(sd)[-1]
            sd[last][0] = float("nan")
        torch.save(sd, os.path.join(cdir, "checkpoints"))
        if with_optimizer:
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            torch.save(opt.state_dict(), os.path.join(cdir, "optimizer"))
        open(os.path.join(cdir, ".is_checkpoint"), "w").close()
    with open(os.path.join(d, "result.json"), "w") as f:
        for l in out:
            f.write(l + "\n")
    if error:
        with open(os.path.join(d, "error.txt"), "w") as f:
            f.write(error)
    return d


def trial_name(i, tag, seed):
    return "NN_tune_trainable_6e7f1_%05d_%d_%s,seed=%d_%s" % (i, i, tag, seed, EPOCH_DATE % i)


def make_modelzoos(root):
    exp = os.path.join(root, "tune_zoo_fixture")
    os.makedirs(exp)
    # experiment-level files the importer must leave alone
    with open(os.path.join(exp, "config.json"), "w") as f:
        f.write('{"model::type": "CNN", "seed": {"grid_search": [1, 2, 3, 4, 5]}}')
    open(os.path.join(exp, "readme.md"), "w").close()
    with open(os.path.join(exp, "experiment_state-2022-06-11_10-00-00.json"), "w") as f:
        f.write("{}")
    torch.save({"trainset": torch.zeros(2)}, os.path.join(exp, "dataset.pt"))

    # 0: Version A (epoch-0 train metrics -999), tanh, adam, dropout 0.0
    p = base_params(**{"model::type": "CNN", "model::i_dim": 1, "model::nlin": "tanh",
                       "model::dropout": 0.0, "model::init_type": "uniform",
                       "optim::optimizer": "adam", "optim::lr": 3e-4, "seed": 1})
    torch.manual_seed(1)
    write_trial(exp, trial_name(0, "model::dropout=0.0", 1), p, CNN(1, "tanh", 0.0), 4,
                version_a=True)
    # 1: dropout 0.5 (module indices shift), sgd with momentum, val metrics, unpadded folders
    p = base_params(**{"model::type": "CNN", "model::i_dim": 1, "model::nlin": "relu",
                       "model::dropout": 0.5, "model::init_type": "kaiming_uniform",
                       "optim::optimizer": "sgd", "optim::lr": 1e-3, "optim::wd": 1e-4,
                       "optim::momentum": 0.9, "seed": 2})
    torch.manual_seed(2)
    write_trial(exp, trial_name(1, "model::dropout=0.5", 2), p, CNN(1, "relu", 0.5), 4, val=True,
                padded=False)
    # 2: crashed after epoch 1 (error.txt)
    p = base_params(**{"model::type": "CNN", "model::i_dim": 1, "model::nlin": "sigmoid",
                       "model::dropout": 0.0, "model::init_type": "normal",
                       "optim::optimizer": "adam", "optim::lr": 1e-3, "seed": 3})
    torch.manual_seed(3)
    write_trial(exp, trial_name(2, "model::dropout=0.0", 3), p, CNN(1, "sigmoid", 0.0), 2,
                error="Failure # 1 (occurred at 2022-06-11_10-00-05)\nTraceback: "
                      "RuntimeError: CUDA out of memory\n")
    # 3: diverged: NaN/Infinity losses, a missing checkpoint, a NaN checkpoint, a repeated line
    p = base_params(**{"model::type": "CNN", "model::i_dim": 1, "model::nlin": "gelu",
                       "model::dropout": 0.0, "model::init_type": "kaiming_normal",
                       "optim::optimizer": "sgd", "optim::lr": 0.1, "optim::momentum": 0.9,
                       "seed": 4})
    torch.manual_seed(4)
    write_trial(exp, trial_name(3, "model::dropout=0.0", 4), p, CNN(1, "gelu", 0.0), 4,
                missing_ckpt=(2,), nan_ckpt=(3,), dup_line=1,
                lines={2: {"test_loss": float("nan")}, 3: {"test_loss": float("inf"),
                                                          "train_loss": float("nan")}})
    # 4: CNN-l on 3 channels, dropout the int 0 (as the CIFAR grids write it)
    p = base_params(**{"model::type": "CNN3", "model::i_dim": 3, "model::nlin": "gelu",
                       "model::dropout": 0, "model::init_type": "kaiming_uniform",
                       "optim::optimizer": "adam", "optim::lr": 1e-4, "optim::wd": 1e-2,
                       "seed": 5, "dataset::dump": "/data/CIFAR10/dataset_32px.pt"})
    torch.manual_seed(5)
    write_trial(exp, trial_name(4, "model::dropout=0", 5), p, CNN3(3, "gelu", 0), 3)
    # 5: CNN-s on 3 channels, a trial that never reported (params.json only)
    p = base_params(**{"model::type": "CNN", "model::i_dim": 3, "model::nlin": "tanh",
                       "model::dropout": 0.0, "model::init_type": "uniform",
                       "optim::optimizer": "adam", "optim::lr": 1e-4, "seed": 6})
    d = os.path.join(exp, trial_name(5, "model::dropout=0.0", 6))
    os.makedirs(d)
    with open(os.path.join(d, "params.json"), "w") as f:
        json.dump(p, f, indent=2, sort_keys=True)
    open(os.path.join(d, "result.json"), "w").close()

    # the downloads: a zip and a tar.gz of the experiment folder
    shutil.make_archive(os.path.join(root, "tune_zoo_fixture"), "zip", root, "tune_zoo_fixture")
    with tarfile.open(os.path.join(root, "tune_zoo_fixture.tar.gz"), "w:gz") as t:
        t.add(exp, arcname="tune_zoo_fixture")

    # a ResNet-18 zoo of one model, two checkpoints
    rexp = os.path.join(root, "resnet_fixture")
    os.makedirs(rexp)
    p = base_params(**{"model::type": "Resnet18", "model::i_dim": 3, "model::o_dim": 10,
                       "model::nlin": "relu", "model::dropout": 0.0,
                       "model::init_type": "kaiming_uniform", "optim::optimizer": "sgd",
                       "optim::lr": 0.05, "optim::wd": 5e-4, "optim::momentum": 0.9,
                       "optim::scheduler": "OneCycleLR", "seed": 7})
    torch.manual_seed(7)
    net = resnet18(3, 10)
    net.bn1.num_batches_tracked.fill_(157)
    write_trial(rexp, trial_name(0, "seed", 7), p, net, 2, val=True, with_optimizer=False)

    make_bad_modelzoos(root, exp)


def copy_trial(root, exp, name, i=0):
    """A one-trial experiment DIR/<name>/ holding a copy of trial i of the fixture."""
    trial = sorted(x for x in os.listdir(exp) if x.startswith("NN_"))[i]
    dst = os.path.join(root, name)
    shutil.copytree(os.path.join(exp, trial), os.path.join(dst, trial))
    return os.path.join(dst, trial)


def rewrite_pt(path, edit):
    """Re-writes the .pt at path with edit(entries, storages) -> (pickle, storages)."""
    sd = torch.load(path)
    entries, storages = state_dict_entries(sd)
    pk, storages = edit(entries, storages)
    write_pt(path, pk, storages)


def make_bad_modelzoos(root, exp):
    # a truncated checkpoint
    t = copy_trial(root, exp, "bad_truncated")
    f = os.path.join(t, "checkpoint_000001", "checkpoints")
    data = open(f, "rb").read()
    open(f, "wb").write(data[:len(data) // 2])
    # one flipped bit inside a storage: its CRC-32 no longer matches
    t = copy_trial(root, exp, "bad_crc")
    f = os.path.join(t, "checkpoint_000001", "checkpoints")
    data = bytearray(open(f, "rb").read())
    z = zipfile.ZipFile(io.BytesIO(bytes(data)))
    # the local header's extra field (padding) differs from the central one: find the data by
    # its content
    payload = z.read("checkpoints/data/2")
    at = bytes(data).index(payload) + 5
    data[at] ^= 0x10
    open(f, "wb").write(bytes(data))
    # a pickle that names os.system instead of collections.OrderedDict
    t = copy_trial(root, exp, "bad_global")
    rewrite_pt(os.path.join(t, "checkpoint_000002", "checkpoints"),
               lambda e, s: (state_dict_pickle(e, top=("os", "system")), s))
    # a negative storage offset
    t = copy_trial(root, exp, "bad_offset")

    def neg(e, s):
        e[3] = e[3][:3] + (-1,) + e[3][4:]
        return state_dict_pickle(e), s
    rewrite_pt(os.path.join(t, "checkpoint_000001", "checkpoints"), neg)
    # an offset whose sum with the strides overflows int64
    t = copy_trial(root, exp, "bad_overflow")

    def big(e, s):
        e[0] = e[0][:3] + (2**62,) + e[0][4:]
        e[0] = e[0][:5] + ([2**62, 1, 1, 1],)
        return state_dict_pickle(e), s
    rewrite_pt(os.path.join(t, "checkpoint_000001", "checkpoints"), big)
    # a stride that reads past the storage
    t = copy_trial(root, exp, "bad_stride")

    def stride(e, s):
        name, key, numel, off, shape, st = e[2]
        e[2] = (name, key, numel, off, shape, [st[0] * 2] + st[1:])
        return state_dict_pickle(e), s
    rewrite_pt(os.path.join(t, "checkpoint_000000", "checkpoints"), stride)
    # a storage entry shorter than the pickle says
    t = copy_trial(root, exp, "bad_storage_size")
    rewrite_pt(os.path.join(t, "checkpoint_000000", "checkpoints"),
               lambda e, s: (state_dict_pickle(e), [(k, d[:-4]) if k == "1" else (k, d)
                                                     for k, d in s]))
    # a broken line in result.json
    t = copy_trial(root, exp, "bad_result")
    f = os.path.join(t, "result.json")
    lines = open(f).read().splitlines()
    lines[2] = lines[2][:40]
    open(f, "w").write("\n".join(lines) + "\n")
    # the legacy (pre-1.6) torch.save format
    t = copy_trial(root, exp, "bad_legacy")
    f = os.path.join(t, "checkpoint_000000", "checkpoints")
    torch.save(torch.load(f), f, _use_new_zipfile_serialization=False)
    # layers of another shape than params.json says (i_dim 3 for a 1-channel checkpoint)
    t = copy_trial(root, exp, "bad_shape")
    f = os.path.join(t, "params.json")
    p = json.load(open(f))
    p["model::i_dim"] = 3
    json.dump(p, open(f, "w"), indent=2, sort_keys=True)
    # dropout > 0 in params.json, but checkpoints with the dropout-0 module indices
    t = copy_trial(root, exp, "bad_dropout")
    f = os.path.join(t, "params.json")
    p = json.load(open(f))
    p["model::dropout"] = 0.5
    json.dump(p, open(f, "w"), indent=2, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# ARD fixture: the sparsified twins as train_{mnist,svhn}_sparse_vd.py write them

# What uninitialised memory may hold: NaN, infinities, huge and denormal numbers, a signalling
# NaN with a payload, minus zero (as float32 bit patterns, written as they are)
GARBAGE = np.array([0x7fc00000, 0x7f800000, 0xff800000, 0x7f7fffff, 0x00000001, 0x7fa00001,
                    0x80000000, 0x4640e400, 0xffc12345, 0x3f800000], dtype=np.uint32)


def fill_garbage(t, start):
    bits = np.resize(np.roll(GARBAGE, -start), t.numel()).view(np.float32)
    with torch.no_grad():
        t.copy_(torch.from_numpy(bits.copy()).reshape(t.shape))


def ard_step(net, epoch, seed):
    """Deterministic stand-in for an epoch of variational-dropout training: the weights move a
    little and log_sigma2 grows, so that more weights reach log alpha >= 3 each epoch."""
    g = torch.Generator().manual_seed(7000 * seed + epoch)
    with torch.no_grad():
        for m in ard_layers(net):
            m.weight.add_(0.01 * torch.randn(m.weight.shape, generator=g))
            m.log_sigma2.add_(3.0 * torch.rand(m.log_sigma2.shape, generator=g))
            if isinstance(m, Conv2dARD):
                m.log_sigma2_bias.add_(3.0 * torch.rand(m.log_sigma2_bias.shape, generator=g))


def write_ard_trial(exp, i, params, net, epochs, *, nan_ls2=None, garbage=0, plain_ckpt=None,
                    reorder=False, tensor_edit=None):
    """A twin's trial: results 0..epochs-1 with sparsity_ratio, checkpoint_<e:06d>/checkpoints
    holding the ARD state_dict (weights unclipped, log_sigma2, log_sigma2_bias) with garbage in
    the linear layers' log_sigma2_bias."""
    name = "NN_tune_trainable_from_checkpoint_a1b2c_%05d_%d_training::init_checkpoint_path=" \
           "_data_zoos_trial_%d_%s" % (i, i, i, EPOCH_DATE % i)
    d = os.path.join(exp, name)
    os.makedirs(d)
    with open(os.path.join(d, "params.json"), "w") as f:
        json.dump(params, f, indent=2, sort_keys=True)
    for k, m in enumerate(ard_layers(net)):
        if isinstance(m, LinearARD):
            fill_garbage(m.log_sigma2_bias, garbage + 3 * k)
    out = []
    for e in range(epochs):
        if e:
            ard_step(net, e, i)
        ratio, _ = ard_sparsity(net)
        metrics = {"train_loss": 0.5 + 0.02 * e, "train_acc": 0.85 - 0.01 * e,
                   "test_loss": 0.45 + 0.03 * e, "test_acc": 0.86 - 0.01 * e,
                   "sparsity_ratio": ratio}
        out.append(result_line(params, e, metrics, e == epochs - 1, "a1b2c_%05d" % i))
        cdir = os.path.join(d, "checkpoint_%06d" % e)
        os.makedirs(cdir)
        sd = collections.OrderedDict((k, v.clone()) for k, v in net.state_dict().items())
        if nan_ls2 is not None and e >= nan_ls2:
            sd["module_list.3.log_sigma2"][0, 0, 0, 0] = float("nan")
        if plain_ckpt is not None:
            sd = plain_ckpt.state_dict()
        if reorder:  # weight, log_sigma2, bias, log_sigma2_bias: not the reference's order
            keys = list(sd)
            keys[1], keys[2] = keys[2], keys[1]
            sd = collections.OrderedDict((k, sd[k]) for k in keys)
        if tensor_edit:
            sd = tensor_edit(sd)
        torch.save(sd, os.path.join(cdir, "checkpoints"))
        open(os.path.join(cdir, ".is_checkpoint"), "w").close()
    with open(os.path.join(d, "result.json"), "w") as f:
        for l in out:
            f.write(l + "\n")
    return d


def ard_params(i, mtype, channels, nlin, dropout):
    """The twins' config: the first source trial's, all sharing its seed, with model::type,
    training::init_checkpoint_path (the source trial), sample_epoch and epochs_train changed."""
    return base_params(**{"model::type": mtype, "model::i_dim": channels, "model::nlin": nlin,
                          "model::dropout": dropout, "model::init_type": "kaiming_uniform",
                          "optim::optimizer": "adam", "optim::lr": 3e-4, "seed": 1,
                          "training::init_checkpoint_path":
                              "/data/zoos/MNIST/tune_zoo_mnist_uniform/NN_tune_trainable_%d" % i,
                          "training::sample_epoch": 50, "training::epochs_train": 3,
                          "dataset::dump": "/data/MNIST/dataset.pt"})


def make_ard(root):
    exp = os.path.join(root, "ard_fixture")
    os.makedirs(exp)
    with open(os.path.join(exp, "config.json"), "w") as f:
        f.write('{"model::type": "CNN_ARD"}')
    specs = [  # (model::type, channels, nlin, dropout, options)
        ("CNN_ARD", 1, "tanh", 0.0, {}),
        ("CNN_ARD", 1, "tanh", 0.0, {"garbage": 3}),
        ("CNN3_ARD", 3, "gelu", 0.0, {"garbage": 5}),
        ("CNN_ARD", 1, "relu", 0.5, {"garbage": 7}),  # dropout modules: shifted indices
        ("CNN_ARD", 1, "tanh", 0.0, {"nan_ls2": 2}),  # a NaN log_sigma2: diverged
    ]
    for i, (t, c, nlin, p, opt) in enumerate(specs):
        torch.manual_seed(100 + i)
        plain = (CNN if t == "CNN_ARD" else CNN3)(c, nlin, p)
        write_ard_trial(exp, i, ard_params(i, t, c, nlin, p), ard_of(plain), 4, **opt)
    shutil.make_archive(os.path.join(root, "ard_fixture"), "zip", root, "ard_fixture")

    def bad(name, t="CNN_ARD", dropout=0.0, **opt):
        e = os.path.join(root, name)
        os.makedirs(e)
        torch.manual_seed(200)
        net = ard_of(CNN(1, "tanh", opt.pop("net_dropout", dropout)))
        write_ard_trial(e, 0, ard_params(0, t, 1, "tanh", dropout), net, 2, **opt)
    torch.manual_seed(300)
    bad("bad_ard_plain", plain_ckpt=CNN(1, "tanh", 0.0))  # a plain checkpoint under CNN_ARD
    bad("bad_ard_order", reorder=True)
    bad("bad_ard_type", t="CNN2_ARD")
    bad("bad_ard_dropout", dropout=0.5, net_dropout=0.0)

    def narrow(sd):
        sd["module_list.0.log_sigma2"] = sd["module_list.0.log_sigma2"][:, :, :, :4].contiguous()
        return sd
    bad("bad_ard_shape", tensor_edit=narrow)

    def rename(sd):  # the same shapes under another name
        return collections.OrderedDict((k.replace("3.log_sigma2_bias", "3.log_sigma_bias"), v)
                                       for k, v in sd.items())
    bad("bad_ard_name", tensor_edit=rename)


# ---------------------------------------------------------------------------------------------
# Google Small CNN Zoo fixture

CTC_LAYOUT = [("sequential/conv2d/bias:0", (16,)), ("sequential/conv2d/kernel:0", (3, 3, 1, 16)),
              ("sequential/conv2d_1/bias:0", (16,)),
              ("sequential/conv2d_1/kernel:0", (3, 3, 16, 16)),
              ("sequential/conv2d_2/bias:0", (16,)),
              ("sequential/conv2d_2/kernel:0", (3, 3, 16, 16)),
              ("sequential/dense/bias:0", (10,)), ("sequential/dense/kernel:0", (16, 10))]
CTC_CONFIG = ["config.activation", "config.b_init", "config.dataset", "config.dnn_architecture",
              "config.dropout", "config.epochs", "config.epochs_between_checkpoints",
              "config.init_std", "config.l2reg", "config.learning_rate", "config.num_layers",
              "config.num_units", "config.optimizer", "config.random_seed",
              "config.train_fraction", "config.w_init"]


def ctc_models():
    """(modeldir, config, steps): 6 models; one crashed early, one diverged."""
    acts = ["relu", "tanh", "sigmoid", "relu", "selu", "tanh"]
    out = []
    for i in range(6):
        cfg = {"config.activation": acts[i], "config.b_init": "zeros", "config.dataset": "mnist",
               "config.dnn_architecture": "cnn", "config.dropout": [0.0, 0.2, 0.45][i % 3],
               "config.epochs": 86, "config.epochs_between_checkpoints": 20,
               "config.init_std": 0.05 * (i + 1), "config.l2reg": [0.0, 1e-4, 0.003][i % 3],
               "config.learning_rate": [0.01, 0.0031, 5e-4][i % 3], "config.num_layers": 3,
               "config.num_units": 16, "config.optimizer": ["sgd", "adam", "rmsprop"][i % 3],
               "config.random_seed": 42, "config.train_fraction": [1.0, 0.5, 0.25, 0.1][i % 4],
               "config.w_init": ["he_normal", "glorot_uniform", "RandomNormal"][i % 3]}
        spe = [117, 58, 29, 11][i % 4]
        steps = [e * spe for e in (0, 1, 2, 3, 20)]
        if i == 2:
            steps = steps[:3]  # the training process crashed
        out.append(("/tmp/cnn_zoo/mnist/%d" % (1000 + 37 * i), cfg, steps))
    return out


def write_ctc(d, dtype, gz, rows_order="interleaved"):
    os.makedirs(d)
    with open(os.path.join(d, "layout.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["varname", "start_idx", "end_idx", "shape"])
        at = 0
        for name, shape in CTC_LAYOUT:
            n = int(np.prod(shape))
            w.writerow([name, at, at + n, str(shape)])
            at += n
    rows = []
    for mi, (modeldir, cfg, steps) in enumerate(ctc_models()):
        for k, step in enumerate(steps):
            rows.append((modeldir, cfg, step, mi, k))
    if rows_order == "interleaved":
        rows.sort(key=lambda r: (r[4], r[0]))  # by checkpoint index, then model: interleaved
    rng = np.random.default_rng(5)
    W = np.empty((len(rows), 4970), dtype=dtype)
    header = CTC_CONFIG + ["modeldir", "step", "test_accuracy", "test_loss", "train_accuracy",
                           "train_loss"]
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow([""] + header)  # pandas' index column
    for r, (modeldir, cfg, step, mi, k) in enumerate(rows):
        W[r] = rng.standard_normal(4970) * 0.1
        acc = 0.1 + 0.1 * k + 0.01 * mi
        loss = 2.3 - 0.2 * k
        if mi == 4 and k >= 3:
            loss = float("nan")
        vals = [cfg[c] for c in CTC_CONFIG] + [modeldir, step, acc, loss, acc + 0.01,
                                               loss - 0.01]
        # floats as Python writes them: a diverged loss is "nan"; a missing value is empty
        w.writerow([r] + [repr(v) if isinstance(v, float) else v for v in vals])
    np.save(os.path.join(d, "weights.npy"), W)
    data = text.getvalue().encode()
    if gz:
        with gzip.open(os.path.join(d, "metrics.csv.gz"), "wb") as f:
            f.write(data)
    else:
        open(os.path.join(d, "metrics.csv"), "wb").write(data)


def make_ctc(root):
    write_ctc(os.path.join(root, "ctc"), np.float32, True)
    write_ctc(os.path.join(root, "ctc64"), np.float64, False)
    # bad: layout.csv whose ranges do not cover the rows
    shutil.copytree(os.path.join(root, "ctc"), os.path.join(root, "ctc_bad_layout"))
    f = os.path.join(root, "ctc_bad_layout", "layout.csv")
    lines = open(f).read().splitlines()
    lines[2] = lines[2].replace(",160,", ",161,")
    open(f, "w").write("\n".join(lines) + "\n")
    # bad: more metrics rows than weights rows
    shutil.copytree(os.path.join(root, "ctc"), os.path.join(root, "ctc_bad_rows"))
    f = os.path.join(root, "ctc_bad_rows", "weights.npy")
    W = np.load(f)
    np.save(f, W[:-1])
    # bad: a quoted field that never ends
    shutil.copytree(os.path.join(root, "ctc"), os.path.join(root, "ctc_bad_csv"))
    f = os.path.join(root, "ctc_bad_csv", "metrics.csv.gz")
    data = gzip.open(f).read().decode().splitlines()
    index, rest = data[3].split(",", 1)
    data[3] = index + ',"' + rest
    with gzip.open(f, "wb") as g:
        g.write(("\n".join(data) + "\n").encode())


def ctc_rows(d):
    """{(modeldir, step): (weights row, metrics row dict)} of a ctc directory."""
    W = np.load(os.path.join(d, "weights.npy"))
    p = os.path.join(d, "metrics.csv.gz")
    f = gzip.open(p, "rt") if os.path.exists(p) else open(os.path.join(d, "metrics.csv"))
    rows = list(csv.DictReader(f))
    assert len(rows) == W.shape[0], (len(rows), W.shape)
    return {(r["modeldir"], int(r["step"])): (W[i], r) for i, r in enumerate(rows)}


def ctc_layout(d):
    out = []
    for r in csv.DictReader(open(os.path.join(d, "layout.csv"))):
        shape = tuple(int(x) for x in r["shape"].strip("()").split(",") if x.strip())
        out.append((r["varname"], int(r["start_idx"]), int(r["end_idx"]), shape))
    return out


def ctc_to_torch(row, layout):
    """A Small CNN Zoo row as the PyTorch state_dict mzoo maps it to."""
    sd = collections.OrderedDict()
    conv = 0
    pending = {}
    for name, a, b, shape in layout:
        scope, var = name.rsplit("/", 1)
        v = np.asarray(row[a:b]).reshape(shape)
        pending.setdefault(scope, {})[var.split(":")[0]] = v
        if len(pending[scope]) == 2:
            k, bias = pending[scope]["kernel"], pending[scope]["bias"]
            if k.ndim == 4:
                conv += 1
                prefix = "conv%d" % conv
                k = k.transpose(3, 2, 0, 1)
            else:
                prefix = "fc"
                k = k.T
            sd[prefix + ".weight"] = torch.from_numpy(np.ascontiguousarray(k, dtype=np.float32))
            sd[prefix + ".bias"] = torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float32))
    return sd


# ---------------------------------------------------------------------------------------------
# tiny committed .pt files for tests/test_pickle.c


def make_tiny(d):
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(3, 2), nn.BatchNorm1d(2))
    m[2].num_batches_tracked.fill_(12)
    torch.save(m.state_dict(), os.path.join(d, "p2.pt"))
    torch.save(m.state_dict(), os.path.join(d, "p4.pt"), pickle_protocol=4)
    # nn.Parameter values (_rebuild_parameter), a transposed view and two views of one storage,
    # float64 / float16 / bfloat16 / int32 tensors
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    sd = collections.OrderedDict()
    sd["param"] = nn.Parameter(torch.tensor([1.5, -2.25]))
    sd["transposed"] = base.t()
    sd["row1"] = base[1]
    sd["f64"] = torch.tensor([0.1, 1e300], dtype=torch.float64)
    sd["f16"] = torch.tensor([1.0, -0.5, 65504.0, 6e-8], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.0, -3.0], dtype=torch.bfloat16)
    sd["i32"] = torch.tensor([7, -8], dtype=torch.int32)
    sd["scalar"] = torch.tensor(3.0)
    torch.save(sd, os.path.join(d, "views.pt"))
    torch.save(m.state_dict(), os.path.join(d, "legacy.pt"), _use_new_zipfile_serialization=False)
    # the same state_dict saved from a big-endian machine: byteorder "big", swapped storages
    src = zipfile.ZipFile(os.path.join(d, "p2.pt"))
    with zipfile.ZipFile(os.path.join(d, "big.pt"), "w", zipfile.ZIP_STORED) as z:
        sd = m.state_dict()
        dtypes = {str(i): v.dtype for i, v in enumerate(sd.values())}
        for info in src.infolist():
            data = src.read(info)
            if "/data/" in info.filename:
                key = info.filename.rsplit("/", 1)[1]
                item = 8 if dtypes[key] == torch.int64 else 4
                a = np.frombuffer(data, dtype="<i8" if item == 8 else "<i4")
                data = a.astype(a.dtype.newbyteorder(">")).tobytes()
            z.writestr(info.filename, data)
        z.writestr("p2/byteorder", "big")
    # what tests/test_pickle.c expects of each file: one line per tensor,
    # "file key dtype requires_grad ndim shape... count values..." (values as %.17g)
    names = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
             torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32"}
    with open(os.path.join(d, "expected.txt"), "w") as f:
        f.write("# written by tools/make_interop_fixtures.py tiny\n")
        for fn in ("p2.pt", "p4.pt", "views.pt"):  # big.pt: as p2.pt, torch 1.13 cannot read it
            sd = torch.load(os.path.join(d, fn))
            for k, v in sd.items():
                vals = v.detach().double().flatten().tolist()
                f.write("%s %s %s %d %d %s %d %s\n" % (
                    fn, k, names[v.dtype], int(v.requires_grad), v.dim(),
                    " ".join(str(x) for x in v.shape), v.numel(),
                    " ".join("%.17g" % x for x in vals)))


# ---------------------------------------------------------------------------------------------
# checks


def zoo_content(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    out = []
    cols = [r[1] for r in db.execute("PRAGMA table_info(models)")]
    for r in db.execute("SELECT * FROM models ORDER BY id"):
        out.append(("model",) + tuple(r))
    ecols = [r[1] for r in db.execute("PRAGMA table_info(epochs)")]
    for r in db.execute("SELECT * FROM epochs ORDER BY model_id, epoch"):
        row = dict(zip(ecols, r))
        if row["weights"] is not None:
            row["weights"] = hashlib.sha256(row["weights"]).hexdigest()
        out.append(("epoch",) + tuple(sorted(row.items())))
    for r in db.execute("SELECT * FROM layout ORDER BY variant, idx"):
        out.append(("layout",) + tuple(r))
    return cols, out


def compare_zoos(a, b, ignore_hparams=False):
    """ignore_hparams: a zoo mzoo trained against its export imported again, whose hparams
    gain the reference's keys (model::type, ...) that the export writes into params.json."""
    ca, xa = zoo_content(a)
    cb, xb = zoo_content(b)
    if ignore_hparams:
        i = ca.index("hparams") + 1  # +1: the row tag
        xa = [r[:i] + r[i + 1:] if r[0] == "model" else r for r in xa]
        xb = [r[:i] + r[i + 1:] if r[0] == "model" else r for r in xb]
    if len(xa) != len(xb):
        fail("%s has %d rows, %s has %d" % (a, len(xa), b, len(xb)))
    for ra, rb in zip(xa, xb):
        if repr(ra) != repr(rb):  # repr: NaN == NaN, 0.1 != 0.1000000001
            fail("%s and %s differ:\n  %r\n  %r" % (a, b, ra, rb))
    print("same content: %d rows" % len(xa))


def source_checkpoints(src):
    """{(model index, epoch): state_dict} of a modelzoos experiment (trials sorted by name)."""
    trials = sorted(t for t in os.listdir(src) if os.path.isfile(os.path.join(src, t, "params.json")))
    out = {}
    for mi, t in enumerate(trials):
        for c in os.listdir(os.path.join(src, t)):
            if c.startswith("checkpoint_"):
                out[(mi, int(c.split("_")[1]))] = torch.load(os.path.join(src, t, c, "checkpoints"))
    return trials, out


def same_tensor(a, b):
    a, b = a.detach(), b.detach()
    if a.dtype != b.dtype:
        b = b.to(a.dtype)
    return a.shape == b.shape and a.numpy().tobytes() == b.numpy().tobytes()


def expected_checkpoints(src):
    if os.path.exists(os.path.join(src, "layout.csv")):
        lay = ctc_layout(src)
        rows = ctc_rows(src)
        dirs = sorted({k[0] for k in rows})
        return {(dirs.index(m), s): ctc_to_torch(w, lay) for (m, s), (w, _) in rows.items()}
    return source_checkpoints(src)[1]


def module_of_model(m):
    variant = m["variant"]
    if variant.startswith("smallcnn/"):
        return SmallCNN(int(variant.split("/")[1][1:]))
    hp = m["hyperparameters"]
    params = dict(hp)
    for col, key in (("activation", "model::nlin"), ("dropout", "model::dropout")):
        if hp.get(col) is not None:
            params[key] = hp[col]
    if "model::type" not in params:  # a zoo mzoo trained
        arch, c = variant.split("/")[:2]
        params.update({"model::type": {"cnn-s": "CNN", "cnn-l": "CNN3"}.get(arch, "Resnet18"),
                       "model::i_dim": int(c[1:])})
        if variant.endswith("/ard"):  # its variational-dropout twins
            params["model::type"] += "_ARD"
        if arch == "resnet18":
            params["model::o_dim"] = int(variant.split("/")[2][1:])
    return module_for(params)


def check_pt(export, src):
    index = json.load(open(os.path.join(export, "index.json")))
    want = expected_checkpoints(src)
    n = 0
    for m in index["models"]:
        for e in m["epochs"]:
            if not e.get("file"):
                continue
            sd = torch.load(os.path.join(export, e["file"]), weights_only=True)
            if not isinstance(sd, collections.OrderedDict):
                fail("%s: not an OrderedDict" % e["file"])
            module_of_model(m).load_state_dict(sd, strict=True)
            ref = want[(m["id"], e["epoch"])]
            if list(sd) != list(ref):
                fail("%s: keys %s != %s" % (e["file"], list(sd), list(ref)))
            for k in ref:
                if not same_tensor(ref[k], sd[k]):
                    fail("%s: %s differs from the source" % (e["file"], k))
            n += 1
    print("%d checkpoints load (weights_only, strict) and equal the source" % n)


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    dt = {"F32": "<f4", "I64": "<i8", "F64": "<f8"}
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[8 + n + a:8 + n + b], dtype=dt[v["dtype"]]).reshape(v["shape"])
    return meta, out


def check_safetensors(export, src):
    want = expected_checkpoints(src)
    n = 0
    for f in sorted(os.listdir(export)):
        if not f.endswith(".safetensors"):
            continue
        meta, tensors = read_safetensors(os.path.join(export, f))
        if meta.get("format") != "pt":
            fail("%s: metadata format is %r" % (f, meta.get("format")))
        for name, a in tensors.items():
            parts = name.split("/")
            mid = int(parts[-3][len("model_"):]) if len(parts) == 3 else \
                int(f[len("model_"):-len(".safetensors")])
            ep = int(parts[-2][len("epoch_"):])
            ref = want[(mid, ep)][parts[-1]]
            if not same_tensor(ref, torch.from_numpy(a.copy())):
                fail("%s: %s differs" % (f, name))
            n += 1
        json.loads(meta["mzoo.models"] if "mzoo.models" in meta else meta["mzoo.model"])
    print("%d tensors equal the source" % n)


def reference_load(exp, epochs=None):
    """The reference's ModelDatasetBase, reduced to what it reads from disk."""
    paths = sorted(p for p in os.listdir(exp) if os.path.isdir(os.path.join(exp, p)))
    h = hashlib.sha256()
    samples = 0
    for p in paths:
        root = os.path.join(exp, p)
        lines = [json.loads(l) for l in open(os.path.join(root, "result.json"))]
        for e in range(0, 100):
            f = os.path.join(root, "checkpoint_%d" % e, "checkpoints")
            if not os.path.exists(f):
                f = os.path.join(root, "checkpoint_%06d" % e, "checkpoints")
            if not os.path.exists(f):
                continue
            sd = torch.load(f, map_location="cpu")
            vec = torch.cat([v.flatten().float() for k, v in sd.items()
                             if k.endswith("weight") or k.endswith("bias")])
            if torch.isnan(vec).any():
                continue  # the reference drops NaN samples
            line = lines[e]
            assert line["training_iteration"] == e, (p, e)
            props = [line["test_acc"], line["training_iteration"], line["train_acc"] - line["test_acc"]]
            props += [line["config"][k] for k in ("model::nlin", "model::init_type",
                                                   "optim::optimizer", "model::dropout",
                                                   "optim::lr", "optim::wd")]
            h.update(vec.numpy().tobytes())
            h.update(repr(props).encode())
            samples += 1
    print("%d samples %s" % (samples, h.hexdigest()))


def check_ctc(export, src):
    a, b = ctc_rows(src), ctc_rows(export)
    if set(a) != set(b):
        fail("rows differ: %s" % sorted(set(a) ^ set(b))[:5])
    la, lb = ctc_layout(src), ctc_layout(export)
    if la != lb:
        fail("layout.csv differs: %s vs %s" % (la, lb))
    for k in a:
        wa, ma = a[k]
        wb, mb = b[k]
        if np.asarray(wa, np.float32).tobytes() != np.asarray(wb, np.float32).tobytes():
            fail("%s: weights differ" % (k,))
        for c in ("test_accuracy", "test_loss", "train_accuracy", "train_loss") + tuple(CTC_CONFIG):
            x, y = ma[c], mb[c]
            if x.lower() == "nan":  # the zoo keeps no NaN metrics: exported as missing
                same = y == ""
            else:
                try:
                    same = float(x) == float(y)
                except ValueError:
                    same = x == y
            if not same:
                fail("%s: %s is %r in the source, %r exported" % (k, c, x, y))
    print("%d rows equal the source" % len(a))


def eval_fmnist(export, zoo, data):
    def idx(name):
        with gzip.open(os.path.join(data, name)) as f:
            raw = f.read()
        if raw[2] == 8 and raw[3] == 3:
            return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
        return np.frombuffer(raw, np.uint8, offset=8)
    x = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    x = ((x - 0.5) / 0.5).unsqueeze(1)
    y = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    index = json.load(open(os.path.join(export, "index.json")))
    db = sqlite3.connect("file:%s?mode=ro" % zoo, uri=True)
    n = 0
    for m in index["models"]:
        for e in [e for e in m["epochs"] if e.get("file")][-1:]:  # the last: 10000 images each
            sd = torch.load(os.path.join(export, e["file"]), weights_only=True)
            net = CNN(1, m["activation"], m["dropout"])
            if m["variant"].endswith("/ard"):  # a twin: its pruned (clipped) network
                net = ard_of(net)
            net.load_state_dict(sd, strict=True)
            net.eval()
            with torch.no_grad():
                acc = (net(x).argmax(1) == y).float().mean().item()
            rec = db.execute("SELECT test_acc FROM epochs WHERE model_id=? AND epoch=?",
                             (m["id"], e["epoch"])).fetchone()[0]
            # float sums differ between torch and mzoo in the last bits: a handful of the 10000
            # images may fall on the other side of a near-tie
            if abs(acc - rec) > 5e-4:
                fail("model %d epoch %d: torch test accuracy %.4f, the zoo says %.4f"
                     % (m["id"], e["epoch"], acc, rec))
            n += 1
    print("%d checkpoints reproduce their recorded test accuracy" % n)


def check_ard(zoo, exp):
    """An imported twin zoo against its source, as torch reads it: every checkpoint's blob is its
    state_dict bit for bit (the linear layers' garbage log_sigma2_bias too), epochs.sparsity is
    result.json's sparsity_ratio, epochs.metrics' per-layer sparsity is what torch computes from
    the checkpoint, hparams keep training::init_checkpoint_path, and only a NaN in the parameters
    the network reads makes a model diverged."""
    trials, ckpts = source_checkpoints(exp)
    db = sqlite3.connect("file:%s?mode=ro" % zoo, uri=True)
    rows = db.execute("SELECT id, variant, status, hparams FROM models ORDER BY id").fetchall()
    if len(rows) != len(trials):
        fail("%d models, %d trials" % (len(rows), len(trials)))
    n = 0
    for (mid, variant, status, hparams), t in zip(rows, trials):
        params = json.load(open(os.path.join(exp, t, "params.json")))
        if not variant.endswith("/ard"):
            fail("model %d: variant %s" % (mid, variant))
        hp = json.loads(hparams)
        for k in ("training::init_checkpoint_path", "model::type", "training::sample_epoch"):
            if hp.get(k) != params[k]:
                fail("model %d: hparams %s is %r, params.json %r" % (mid, k, hp.get(k), params[k]))
        ratio = {}
        for line in open(os.path.join(exp, t, "result.json")):
            r = json.loads(line)
            ratio[r["training_iteration"]] = r["sparsity_ratio"]
        diverged = False
        for epoch, sp, metrics, blob in db.execute(
                "SELECT epoch, sparsity, metrics, weights FROM epochs WHERE model_id=? "
                "ORDER BY epoch", (mid,)):
            sd = ckpts[(mid, epoch)]
            want = b"".join(v.contiguous().numpy().tobytes() for v in sd.values())
            if blob != want:
                fail("model %d epoch %d: the weights differ from the checkpoint" % (mid, epoch))
            if sp != ratio[epoch]:
                fail("model %d epoch %d: sparsity %r, sparsity_ratio %r" % (mid, epoch, sp,
                                                                          ratio[epoch]))
            # what the network never reads: the linear layers' log_sigma2_bias
            unused = [k for k in sd if k.endswith(".log_sigma2_bias") and
                      sd[k[:-len("log_sigma2_bias")] + "weight"].dim() == 2]
            finite = all(bool(torch.isfinite(v).all()) for k, v in sd.items() if k not in unused)
            diverged |= not finite
            net = module_for(params)
            net.load_state_dict(sd, strict=True)
            per = ard_sparsity(net)[1]
            got = json.loads(metrics)["sparsity"]
            if finite and got != per:
                fail("model %d epoch %d: per-layer sparsity %r, torch %r" % (mid, epoch, got, per))
            n += 1
        if (status == "diverged") != diverged:
            fail("model %d: status %s, but NaN in its used parameters: %s" % (mid, status, diverged))
    print("%d twin checkpoints as torch reads them" % n)


def check_ard_pruned(zoo, exp):
    """mzoo's Python package (PYTHONPATH and MZOO_LIBRARY set by the caller) on an imported twin
    zoo: Zoo.state_dict(pruned=True) is torch's clipped ARD network (weights, and conv biases,
    zeroed where log alpha >= 3), and Zoo.module() computes what torch's ARD module computes."""
    import mzoo
    trials, ckpts = source_checkpoints(exp)
    z = mzoo.Zoo(zoo)
    n = 0
    x = torch.randn(7, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    for (mid, epoch), sd in sorted(ckpts.items()):
        if z.model(mid)["status"] != "done":
            continue
        params = json.load(open(os.path.join(exp, trials[mid], "params.json")))
        net = module_for(params)
        net.load_state_dict(sd, strict=True)
        net.eval()
        want = collections.OrderedDict()
        with torch.no_grad():
            for m_i, m in enumerate(net.module_list):
                if isinstance(m, (Conv2dARD, LinearARD)):
                    keep = (m.log_alpha() < 3).float()
                    want["module_list.%d.weight" % m_i] = m.weight * keep
                    b = m.bias
                    if isinstance(m, Conv2dARD):
                        la_b = torch.clamp(m.log_sigma2_bias - 2 * torch.log(torch.abs(b) + 1e-15),
                                           -8, 8)
                        b = b * (la_b < 3).float()
                    want["module_list.%d.bias" % m_i] = b
        got = z.state_dict(mid, epoch, pruned=True, torch=True)
        if list(got) != list(want):
            fail("model %d: pruned keys %s" % (mid, list(got)))
        for k in want:
            if not torch.equal(got[k], want[k]):
                fail("model %d epoch %d: pruned %s differs from torch's" % (mid, epoch, k))
        mod = z.module(mid, epoch)
        c = params["model::i_dim"]
        xi = x[:, :c, :28, :28] if params["model::type"] == "CNN_ARD" else x[:, :c]
        with torch.no_grad():
            a, b = mod(xi), net(xi)
        if not torch.allclose(a, b, rtol=1e-4, atol=1e-5):
            fail("model %d epoch %d: Zoo.module() and torch's ARD module disagree" % (mid, epoch))
        n += 1
    print("%d pruned twin checkpoints equal torch's" % n)


def check_disagreement(page, exp, data):
    """The prediction disagreement of `mzoo report` on a zoo imported from EXP (a Fashion-MNIST
    Model Zoos experiment): torch classifies the page's first test images with each of the
    page's models (its checkpoint at the page's epoch); the subset accuracies and the
    disagreement matrix must be torch's (an image whose two largest logits are within 1e-4 is
    allowed to go either way)."""
    import re
    d = json.loads(re.search(r'<script type="application/json" id="mzoo-data">(.*?)</script>',
                             open(page, encoding="utf-8").read(), re.S).group(1))
    g = d["zoos"][0].get("disagreement")
    if not g:
        fail("%s: no disagreement data" % page)
    n = g["images"]
    with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[:n * 784].reshape(n, 1, 28, 28)
    with gzip.open(os.path.join(data, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
    x = torch.from_numpy(x.copy()).float().div(255).sub(0.5).div(0.5)
    trials, ckpts = source_checkpoints(exp)
    cls, ties = [], []
    for m in g["models"]:
        params = json.load(open(os.path.join(exp, trials[m], "params.json")))
        net = module_for(params)
        net.load_state_dict(ckpts[(m, g["epoch"])], strict=True)
        with torch.no_grad():
            z = net.eval()(x)
        top = torch.topk(z, 2, dim=1).values
        cls.append(z.argmax(dim=1).numpy())
        ties.append((top[:, 0] - top[:, 1] <= 1e-4).numpy())
    k = len(cls)
    M = np.array(g["matrix"]).reshape(k, k)
    slack = [t.sum() / n for t in ties]
    for a in range(k):
        acc = (cls[a] == y).mean()
        if abs(g["subset_accuracy"][a] - acc) > slack[a] + 1e-12:
            fail("model %d: subset accuracy %r, torch %r" % (g["models"][a],
                                                             g["subset_accuracy"][a], acc))
        for b in range(k):
            want = (cls[a] != cls[b]).mean()
            if abs(M[a, b] - want) > slack[a] + slack[b] + 1e-12:
                fail("models %d, %d: disagreement %r, torch %r" % (g["models"][a],
                                                                 g["models"][b], M[a, b], want))
    print("disagreement of %d models on %d images as torch predicts them" % (k, n))


COMMANDS = {
    "modelzoos": (1, lambda a: make_modelzoos(a[0])),
    "ard": (1, lambda a: make_ard(a[0])),
    "ctc": (1, lambda a: make_ctc(a[0])),
    "tiny": (1, lambda a: make_tiny(a[0])),
    "compare-zoos": (2, lambda a: compare_zoos(a[0], a[1], "--ignore-hparams" in a[2:])),
    "check-pt": (2, lambda a: check_pt(a[0], a[1])),
    "check-ard": (2, lambda a: check_ard(a[0], a[1])),
    "check-disagreement": (3, lambda a: check_disagreement(a[0], a[1], a[2])),
    "check-ard-pruned": (2, lambda a: check_ard_pruned(a[0], a[1])),
    "check-safetensors": (2, lambda a: check_safetensors(a[0], a[1])),
    "reference-load": (1, lambda a: reference_load(a[0])),
    "check-ctc": (2, lambda a: check_ctc(a[0], a[1])),
    "eval-fmnist": (3, lambda a: eval_fmnist(a[0], a[1], a[2])),
}


def main():
    """One command, or several separated by '::' (torch is imported once for all of them);
    every command runs, and the exit status is the number that failed."""
    groups, cur = [], []
    for a in sys.argv[1:]:
        if a == "::":
            groups.append(cur)
            cur = []
        else:
            cur.append(a)
    groups.append(cur)
    if not any(groups) or any(not g or g[0] not in COMMANDS or len(g) - 1 < COMMANDS[g[0]][0]
                              for g in groups):
        print(__doc__)
        sys.exit(2)
    failed = 0
    for g in groups:
        try:
            COMMANDS[g[0]][1](g[1:])
        except SystemExit as e:
            failed += 1 if e.code else 0
        except Exception as e:  # a check that cannot even run is a failure, not a crash
            print("FAIL: %s %s: %r" % (g[0], " ".join(g[1:]), e), file=sys.stderr)
            failed += 1
    sys.exit(failed)


if __name__ == "__main__":
    main()
