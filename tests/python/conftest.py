"""Fixtures for the Python package's tests: small zoos of every architecture and kind.

Grid zoos are trained by the `mzoo` command (MZ_BIN, else build/mzoo) on Fashion-MNIST subsets.
The other zoos are derived from that file through sqlite3, as docs/FORMAT.md describes them, with
layouts written out from the reference's description (not from mzoo's code): CNN-l and ResNet-18
zoos with random weights (training them here would cost minutes), a twin zoo (ARD layouts with
log_sigma2, kind 'twin') and an imported zoo (NULL hyperparameters, hparams JSON, an epoch
without weights)."""
import json
import os
import shutil
import sqlite3
import subprocess
import zlib

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MZ_BIN") or os.path.join(ROOT, "build", "mzoo")
FMNIST = "/usr/share/datasets/fashion-mnist"


def train(tmp, name, spec):
    path = os.path.join(tmp, name + ".db")
    sp = os.path.join(tmp, name + ".json")
    with open(sp, "w") as f:
        json.dump(spec, f)
    subprocess.run([BIN, "train", sp, "-o", path, "-q", "-j", "2"], check=True)
    return path


def put_weights(db, model, epoch, w):
    blob = np.asarray(w, dtype="<f4").tobytes()
    db.execute("UPDATE epochs SET weights = ?, weights_crc32 = ? WHERE model_id = ? AND epoch = ?",
               (blob, zlib.crc32(blob), model, epoch))


def put_layout(db, variant, tensors):
    """tensors: [(name, shape)] in state_dict order."""
    off = 0
    for i, (name, shape) in enumerate(tensors):
        n = int(np.prod(shape, dtype=np.int64))
        db.execute("INSERT INTO layout VALUES (?, ?, ?, ?, ?, ?)",
                   (variant, i, name, json.dumps(list(shape)), off, n))
        off += n
    return off


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory):
    if not os.path.exists(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")):
        pytest.fail("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    return str(tmp_path_factory.mktemp("zoos"))


@pytest.fixture(scope="session")
def grid_zoo(zoo_dir):
    """CNN-s: 16 models in two layout variants (dropout 0: models 0-7; 0.5: models 8-15; seeds
    1-8 in each), epochs 0 and 1. One population per variant: evaluating the 20,000 val and test
    images every epoch costs the same for 8 models as for 1."""
    return train(zoo_dir, "cnns", {
        "dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 1, "batch_size": 10,
        "train_subset": 300,
        "grid": {"activation": "tanh", "init": "kaiming_uniform", "lr": 0.003,
                 "dropout": [0, 0.5], "seed": {"range": [1, 8]}}})


def handmade(zoo_dir, grid_zoo, name, variant, tensors, fill, architecture, meta_variant="",
             epochs=(0, 1)):
    """A zoo derived from the grid zoo's file: models 0 and 1 with layout `tensors` (the
    reference's names and shapes, [(name, shape)]) and weights fill(rng, name, shape) at
    `epochs`; the other models and epochs removed."""
    path = os.path.join(zoo_dir, name + ".db")
    shutil.copy(grid_zoo, path)
    db = sqlite3.connect(path)
    keep = ",".join(map(str, epochs))
    db.execute(f"DELETE FROM epochs WHERE model_id > 1 OR epoch NOT IN ({keep})")
    db.execute("DELETE FROM models WHERE id > 1")
    db.execute("UPDATE meta SET value = ? WHERE key = 'architecture'", (architecture,))
    db.execute("INSERT OR REPLACE INTO meta VALUES ('variant', ?)", (meta_variant,))
    db.execute("UPDATE models SET variant = ?, activation = 'relu'", (variant,))
    n = put_layout(db, variant, tensors)
    rng = np.random.default_rng(len(name))
    for m in (0, 1):
        for epoch in epochs:
            w = np.concatenate([np.asarray(fill(rng, k, shape), np.float32).ravel()
                                for k, shape in tensors])
            assert w.size == n
            put_weights(db, m, epoch, w)
    db.commit()
    db.close()
    return path


def default_init(rng, name, shape):
    """PyTorch's default U(+-1/sqrt(fan_in)) for weights and biases."""
    return rng.uniform(-1, 1, shape) / np.sqrt(shape[1] * int(np.prod(shape[2:])) if
                                               len(shape) > 1 else shape[0])


@pytest.fixture(scope="session")
def cnnl_zoo(zoo_dir, grid_zoo):
    """CNN-l for 32x32 Fashion-MNIST (dataset variant 32px), layout from the reference's table
    (module indices 0, 4, 8, 13, 16), random weights."""
    shapes = [(0, (16, 1, 3, 3)), (4, (32, 16, 3, 3)), (8, (15, 32, 3, 3)), (13, (20, 60)),
              (16, (10, 20))]
    tensors = [t for i, w in shapes
               for t in ((f"module_list.{i}.weight", w), (f"module_list.{i}.bias", (w[0],)))]
    return handmade(zoo_dir, grid_zoo, "cnnl", "cnn-l/c1", tensors, default_init, "cnn-l",
                    "32px")


def resnet18_tensors(c, k):
    """ResNet-18's state_dict names and shapes, written out from the reference's description:
    conv1, bn1, layer1..4 x 2 BasicBlocks (conv1, bn1, conv2, bn2, downsample in layer2..4's
    first block), fc."""
    def bn(prefix, n):
        return [(f"{prefix}.{s}", (n,)) for s in
                ("weight", "bias", "running_mean", "running_var")] + \
            [(f"{prefix}.num_batches_tracked", ())]
    t = [("conv1.weight", (64, c, 3, 3))] + bn("bn1", 64)
    cin = 64
    for layer, w in enumerate((64, 128, 256, 512), 1):
        for b in range(2):
            p = f"layer{layer}.{b}"
            t += [(f"{p}.conv1.weight", (w, cin if b == 0 else w, 3, 3))] + bn(f"{p}.bn1", w)
            t += [(f"{p}.conv2.weight", (w, w, 3, 3))] + bn(f"{p}.bn2", w)
            if b == 0 and layer > 1:
                t += [(f"{p}.downsample.0.weight", (w, cin, 1, 1))] + bn(f"{p}.downsample.1", w)
        cin = w
    return t + [("fc.weight", (k, 512)), ("fc.bias", (k,))]


def resnet_init(rng, name, shape):
    last = name.rsplit(".", 1)[1]
    if last == "num_batches_tracked":
        return np.float32(7)
    if last == "running_mean":
        return rng.uniform(-0.2, 0.2, shape)
    if last == "running_var":
        return rng.uniform(0.5, 2.0, shape)
    if name.endswith("weight") and len(shape) == 1:  # BatchNorm's gamma
        return rng.uniform(0.5, 1.5, shape)
    if len(shape) == 4:
        return rng.normal(0, np.sqrt(2.0 / (shape[0] * shape[2] * shape[3])), shape)
    return default_init(rng, name, shape) if len(shape) == 2 else rng.uniform(-0.1, 0.1, shape)


@pytest.fixture(scope="session")
def resnet_zoo(zoo_dir, grid_zoo):
    """ResNet-18 for 1x28x28 Fashion-MNIST, 10 classes: 122 tensors, random weights and running
    statistics; epoch 1 only (45 MB a checkpoint)."""
    tensors = resnet18_tensors(1, 10)
    assert len(tensors) == 122
    return handmade(zoo_dir, grid_zoo, "resnet", "resnet18/c1/k10", tensors, resnet_init,
                    "resnet18", epochs=(1,))


def ard_log_sigma2(theta, rng):
    """log_sigma2 putting log alpha = log_sigma2 - 2 log(|theta| + 1e-15) in [1, 5]: about half
    the weights pruned."""
    la = rng.uniform(1.0, 5.0, theta.shape).astype(np.float32)
    return (la + 2.0 * np.log(np.abs(theta) + np.float32(1e-15))).astype(np.float32)


@pytest.fixture(scope="session")
def twin_zoo(zoo_dir, grid_zoo):
    """The twins of the grid zoo's dropout-0 models 0 and 1 (kind 'twin', variant .../ard): per
    layer weight, bias, log_sigma2, log_sigma2_bias; epoch 0 = the source's epoch 1 with
    log_sigma2 = -10, epoch 1 = log_sigma2 with about half the weights pruned."""
    import mzoo
    path = os.path.join(zoo_dir, "twin.db")
    shutil.copy(grid_zoo, path)
    src = mzoo.open(grid_zoo)
    plain = [m for m in src.models if m["dropout"] == 0][:2]
    variant = plain[0]["variant"]
    db = sqlite3.connect(path)
    rng = np.random.default_rng(5)
    layout = src.layout(variant)
    ard = []
    for t in layout:
        if t.name.endswith(".weight"):
            prefix = t.name[:-len(".weight")]
            bias = next(b for b in layout if b.name == prefix + ".bias")
            ard += [(t.name, t.shape), (bias.name, bias.shape),
                    (prefix + ".log_sigma2", t.shape), (prefix + ".log_sigma2_bias", bias.shape)]
    n = put_layout(db, variant + "/ard", ard)
    db.execute("UPDATE meta SET value = 'twin' WHERE key = 'kind'")
    keep = [int(m["id"]) for m in plain]
    ids = ",".join(map(str, keep))
    db.execute(f"DELETE FROM epochs WHERE model_id NOT IN ({ids}) OR epoch > 1")
    db.execute(f"DELETE FROM models WHERE id NOT IN ({','.join(map(str, keep))})")
    db.execute("UPDATE models SET variant = ?, source_id = id, source_epoch = 1, epochs_done = 1",
               (variant + "/ard",))
    for m in keep:
        sd = src.state_dict(m, 1)
        for epoch in (0, 1):
            w = []
            for name, shape in ard:
                if name.endswith(".log_sigma2"):
                    theta = sd[name[:-len(".log_sigma2")] + ".weight"]
                    w.append(np.full(shape, -10, np.float32) if epoch == 0 else
                             ard_log_sigma2(theta, rng))
                elif name.endswith(".log_sigma2_bias"):
                    theta = sd[name[:-len(".log_sigma2_bias")] + ".bias"]
                    w.append(np.full(shape, -10, np.float32) if epoch == 0 else
                             ard_log_sigma2(theta, rng))
                else:
                    w.append(sd[name])
            # epochs.sparsity: the fraction of weights with log alpha >= 3 (numpy's float32 log)
            dropped = total = 0
            for (name, _), theta, ls in zip(ard[0::4], w[0::4], w[2::4]):
                la = ls - np.float32(2) * np.log(np.abs(theta) + np.float32(1e-15))
                dropped, total = dropped + int((la >= 3).sum()), total + theta.size
            w = np.concatenate([a.ravel() for a in w])
            assert w.size == n
            put_weights(db, m, epoch, w)
            db.execute("UPDATE epochs SET sparsity = ? WHERE model_id = ? AND epoch = ?",
                       (dropped / total, m, epoch))
    db.commit()
    db.close()
    src.close()
    return path


@pytest.fixture(scope="session")
def imported_zoo(zoo_dir, grid_zoo):
    """Kind 'imported': model 1's activation and lr NULL, model 0 has hparams JSON, model 0
    epoch 1 has no checkpoint."""
    path = os.path.join(zoo_dir, "imported.db")
    shutil.copy(grid_zoo, path)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = 'imported' WHERE key = 'kind'")
    db.execute("UPDATE models SET activation = NULL, lr = NULL, seed = NULL WHERE id = 1")
    db.execute("""UPDATE models SET hparams = '{"width": 8, "source": "elsewhere"}' WHERE id = 0""")
    db.execute("UPDATE epochs SET weights = NULL, weights_crc32 = NULL, weights_absmax = NULL "
               "WHERE model_id = 0 AND epoch = 1")
    db.commit()
    db.close()
    return path
