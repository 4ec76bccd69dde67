"""mzoo's Python API without PyTorch: every function on zoos of every architecture, layout
variant and kind, against the zoo file itself, the `mzoo` command and the recorded metrics."""
import json
import os
import shutil
import sqlite3
import subprocess
import zlib

import numpy as np
import pytest

import mzoo
from conftest import BIN


# ---- opening ----
def test_open_refuses_what_is_not_a_zoo(tmp_path, grid_zoo):
    text = tmp_path / "notes.db"
    text.write_text("not a database\n")
    with pytest.raises(mzoo.FormatError, match="notes.db"):
        mzoo.open(text)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(a)")
    con.commit()
    con.close()
    with pytest.raises(mzoo.FormatError, match="another program"):
        mzoo.open(other)
    newer = tmp_path / "newer.db"
    shutil.copy(grid_zoo, newer)
    con = sqlite3.connect(newer)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(mzoo.FormatError, match="schema version 99 is newer"):
        mzoo.open(newer)
    with pytest.raises(mzoo.NotFoundError):
        mzoo.open(tmp_path / "missing.db")
    # nothing was created or changed beside the refused files
    assert sorted(os.listdir(tmp_path)) == ["newer.db", "notes.db", "other.db"]
    assert text.read_text() == "not a database\n"


def test_metadata_models_metrics(grid_zoo):
    with mzoo.open(grid_zoo) as zoo:
        assert zoo.kind == "grid" and zoo.schema_version == 3
        assert zoo.recipe["architecture"] == "cnn-s" and zoo.recipe["epochs"] == 1
        assert zoo.meta["dataset"] == "fashion-mnist"
        m = zoo.models
        assert list(m["id"]) == list(range(16))
        assert list(m["activation"]) == ["tanh"] * 16 and list(m["seed"]) == [*range(1, 9)] * 2
        assert list(m["dropout"]) == [0] * 8 + [0.5] * 8
        assert set(m["status"]) == {"done"} and set(m["epochs_done"]) == {1}
        assert list(m["source_id"]) == [-1] * 16 and list(m["hparams"]) == [None] * 16
        assert zoo.variants == ["cnn-s/c1/nodropout", "cnn-s/c1/dropout"]
        assert zoo.model(9)["dropout"] == 0.5 and zoo.model(9)["seed"] == 2
        met = zoo.metrics()
        assert len(met) == 32 and met["has_weights"].all()
        assert list(zip(met["model_id"], met["epoch"]))[:3] == [(0, 0), (0, 1), (1, 0)]
        assert np.isnan(met["sparsity"]).all()
        one = zoo.metrics(models=[3, 1], epochs=1)
        assert list(one["model_id"]) == [1, 3] and set(one["epoch"]) == {1}
        # the values are SQLite's, unchanged
        con = sqlite3.connect(grid_zoo)
        ref = con.execute("SELECT test_acc, val_loss FROM epochs ORDER BY model_id, epoch")
        assert [tuple(r) for r in ref] == list(zip(met["test_acc"], met["val_loss"]))
        con.close()
        assert "16 models" in repr(zoo)
        try:
            import pandas  # noqa: F401
        except ImportError:  # optional: the message says how to get it
            with pytest.raises(ImportError, match="python3-pandas"):
                zoo.metrics(frame=True)
        else:
            df = zoo.metrics(frame=True)
            assert list(df["test_acc"]) == list(met["test_acc"])
            assert list(mzoo.to_frame(zoo.models)["variant"]) == list(m["variant"])


def test_weights_and_state_dicts(grid_zoo):
    con = sqlite3.connect(grid_zoo)
    with mzoo.open(grid_zoo) as zoo:
        for mid in range(16):
            for epoch in range(2):
                w = zoo.weights(mid, epoch)
                blob = con.execute("SELECT weights FROM epochs WHERE model_id=? AND epoch=?",
                                   (mid, epoch)).fetchone()[0]
                assert w.dtype == np.float32 and w.tobytes() == blob
            sd = zoo.state_dict(mid)  # the last epoch
            assert np.array_equal(np.concatenate([v.ravel() for v in sd.values()]),
                                  zoo.weights(mid, 1))
            # the reference's names: CNN-s with dropout > 0 has its indices shifted
            layers = [0, 4, 8, 11, 14] if zoo.model(mid)["dropout"] > 0 else [0, 3, 6, 9, 11]
            assert list(sd) == [f"module_list.{i}.{k}" for i in layers for k in ("weight", "bias")]
            assert sd["module_list.0.weight"].shape == (8, 1, 5, 5)
            assert sum(v.size for v in sd.values()) == 2464
            assert [t.name for t in zoo.layout(mid)] == list(sd)
        assert zoo.layout("cnn-s/c1/dropout")[2] == ("module_list.4.weight", (6, 8, 5, 5), 208,
                                                     1200)
    con.close()


def test_missing_model_epoch_and_damage(tmp_path, grid_zoo):
    with mzoo.open(grid_zoo) as zoo:
        with pytest.raises(mzoo.NotFoundError, match="no model 99"):
            zoo.weights(99, 0)
        with pytest.raises(mzoo.NotFoundError, match="no epoch 5 of model 1"):
            zoo.weights(1, 5)
        with pytest.raises(mzoo.NotFoundError, match="no model 99"):
            zoo.state_dict(99)
        with pytest.raises(mzoo.NotFoundError, match="no epoch 5 of model 1"):
            zoo.evaluate(1, 5)
        with pytest.raises(mzoo.NotFoundError, match="no model 99"):
            zoo.evaluate(99, 0)
        with pytest.raises(ValueError, match="split 'dev'"):
            zoo.evaluate(1, 0, "dev")
    damaged = tmp_path / "damaged.db"
    shutil.copy(grid_zoo, damaged)
    con = sqlite3.connect(damaged)
    blob = bytearray(con.execute("SELECT weights FROM epochs WHERE model_id=1 AND epoch=1")
                     .fetchone()[0])
    blob[100] ^= 0x40
    con.execute("UPDATE epochs SET weights=? WHERE model_id=1 AND epoch=1", (bytes(blob),))
    con.commit()
    con.close()
    with mzoo.open(damaged) as zoo:
        zoo.weights(1, 0)
        with pytest.raises(mzoo.FormatError, match="crc32"):
            zoo.weights(1, 1)
    zoo = mzoo.open(grid_zoo)
    zoo.close()
    with pytest.raises(ValueError, match="closed"):
        zoo.weights(0, 0)


# ---- datasets: the same as `mzoo dataset` ----
CLI_CASES = [
    ({}, []),
    ({"epochs": "last", "seed": 7}, ["--epochs", "last", "--seed", "7"]),
    ({"epochs": [0, 1], "layers": ["conv1", "fc2"], "bias": False, "split": (0.5, 0.5)},
     ["--epochs", "0,1", "--layers", "conv1,fc2", "--no-bias", "--split", "0.5,0.5"]),
    ({"epochs": range(1, 2), "where": "dropout > 0 OR m.id = 0", "max_abs": 0.9},
     ["--epochs", "1-1", "--where", "dropout > 0 OR m.id = 0", "--max-abs", "0.9"]),
    ({"keep_nonfinite": True, "where": "test_acc > 0.3"},
     ["--keep-nonfinite", "--where", "test_acc > 0.3"]),
    ({"max_models": 3, "split": (0.34, 0.33, 0.33), "seed": 3},
     ["--max-models", "3", "--split", "0.34,0.33,0.33", "--seed", "3"]),
]


@pytest.mark.parametrize("kw,args", CLI_CASES)
def test_dataset_equals_cli(tmp_path, grid_zoo, kw, args):
    out = tmp_path / "ds"
    subprocess.run([BIN, "dataset", grid_zoo, "-o", str(out), "-q"] + args, check=True)
    with mzoo.open(grid_zoo) as zoo:
        ds = zoo.dataset(**kw)
    npz = np.load(out / "dataset.npz")
    mine = ds.arrays()
    assert sorted(mine) == sorted(npz.files)
    for k in npz.files:
        assert mine[k].dtype == npz[k].dtype and np.array_equal(mine[k], npz[k]), k
    props = json.load(open(out / "properties.json"))
    for part in ("train", "val", "test"):
        i = ds.indices(part)
        for c in props["columns"]:
            want = props[part][c["name"]]
            got = ds.y(c["name"], part)
            if c["kind"] == "categorical":
                assert list(got) == want, c["name"]
            else:
                assert np.allclose(got, np.array(want, dtype=float), rtol=1e-15, atol=0,
                                   equal_nan=True), c["name"]
        assert list(ds.model_id[i]) == props[part]["model_id"]
    assert ds.index_dict() == json.load(open(out / "index_dict.json"))
    manifest = json.load(open(out / "dataset.json"))
    assert ds.dim == mine["x_train"].shape[1]
    assert json.dumps(manifest).count(str(ds.counts["samples"])) >= 1


def test_dataset_layout_streaming_and_limits(grid_zoo):
    with mzoo.open(grid_zoo) as zoo:
        ds = zoo.dataset()
    assert len(ds) == 32 and ds.dim == 2464
    assert [l["name"] for l in ds.layers] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert [l["idx_start"] for l in ds.layers] == [0, 208, 1414, 1514, 2254]
    # models are never in two parts; parts are contiguous, ordered by model id then epoch
    parts = {p: set(ds.model_id[ds.indices(p)]) for p in ("train", "val", "test")}
    assert not (parts["train"] & parts["val"]) and not (parts["train"] & parts["test"])
    assert list(ds.part) == sorted(ds.part)
    streamed = np.concatenate([x for x, _ in ds.batches("train", batch_size=2)])
    assert np.array_equal(streamed, ds.x("train"))
    # a sample is the checkpoint's weights in layer order (CNN-s: the whole state_dict)
    with mzoo.open(grid_zoo) as zoo:
        assert np.array_equal(ds[0], zoo.weights(ds.model_id[0], ds.epoch[0]))
    with pytest.raises(IndexError):
        ds.read(len(ds))
    with pytest.raises(mzoo.InvalidError, match="epochs"):
        mzoo.open(grid_zoo).dataset(epochs="soon")
    with pytest.raises(mzoo.InvalidError):
        mzoo.open(grid_zoo).dataset(where="1; DROP TABLE models")
    assert "32 samples" in repr(ds)
    ds.close()


# ---- evaluation through libmzoo ----
def test_evaluate_reproduces_the_recorded_metrics(grid_zoo):
    with mzoo.open(grid_zoo) as zoo:
        met = zoo.metrics()
        for split in ("val", "test", "train"):
            rows = met[met["epoch"] == 0] if split == "train" else met  # e >= 1: running means
            res = zoo.evaluate_many(rows["model_id"], rows["epoch"], split)
            assert list(res["model_id"]) == list(rows["model_id"])
            assert list(res["epoch"]) == list(rows["epoch"])
            assert np.array_equal(res["acc"], rows[f"{split}_acc"]), split
            assert np.allclose(res["loss"], rows[f"{split}_loss"], rtol=1e-12, atol=0), split
            assert np.isnan(res["sparsity"]).all()
        one = zoo.evaluate(2, 1, "val")
        assert one.acc == met[5]["val_acc"] and one.loss == pytest.approx(met[5]["val_loss"],
                                                                          rel=1e-12)
        assert np.isnan(one.sparsity) and one.n == 10000
        assert zoo.evaluate(0, split="train").n == 300  # the recipe's train_subset
        quick = zoo.evaluate(0, 1, max_images=100)
        assert quick.n == 100
        x, y = zoo.images("test", max_images=100)
        assert x.shape == (100, 1, 28, 28) and x.dtype == np.float32 and y.shape == (100,)
        assert x.min() == -1 and x.max() == 1  # (x/255 - 0.5) / 0.5
        w = zoo.weights(3, 1)
        assert zoo.evaluate(3, weights=w)[:3] == zoo.evaluate(3, 1)[:3]
        assert zoo.evaluate(3, weights=np.zeros_like(w)).acc == pytest.approx(0.1, abs=0.05)
        with pytest.raises(mzoo.InvalidError, match="10 weights given"):
            zoo.evaluate(3, weights=w[:10])


# ---- CNN-l and ResNet-18 (hand-made zoos, random weights) ----
def test_cnnl(cnnl_zoo):
    with mzoo.open(cnnl_zoo) as zoo:
        sd = zoo.state_dict(1, 1)
        assert list(sd)[::2] == [f"module_list.{i}.weight" for i in (0, 4, 8, 13, 16)]
        assert sd["module_list.13.weight"].shape == (20, 60)
        assert sum(v.size for v in sd.values()) == 10565
        res = zoo.evaluate_many([0, 1], 1, max_images=500)
        assert list(res["n"]) == [500, 500] and (res["acc"] < 0.5).all()
        assert zoo.images(max_images=3)[0].shape == (3, 1, 32, 32)  # the zoo's 32px variant
        ds = zoo.dataset(epochs="last", layers=["fc1", "fc2"])
        assert ds.dim == 1220 + 210 and len(ds) == 2
        assert [l["module_index"] for l in ds.layers] == [13, 16]


def test_resnet(resnet_zoo):
    with mzoo.open(resnet_zoo) as zoo:
        sd = zoo.state_dict(0, 1)
        assert len(sd) == 122 and sd["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
        assert sd["bn1.num_batches_tracked"].shape == () and sd["bn1.num_batches_tracked"] == 7
        # the reference's 11,183,582 floats for C = 3, less conv1's 64 x 2 x 3 x 3
        assert zoo.weights(0, 1).size == 11183582 - 2 * 64 * 9
        r = zoo.evaluate(1, 1, max_images=32)
        assert r.n == 32 and np.isfinite(r.loss)
        ds = zoo.dataset(epochs=[1], layers=["fc1"])  # positional: the one linear layer
        assert ds.dim == 5130 and len(ds) == 2


# ---- twins ----
def prune(sd):
    """The pruned plain state_dict of an ARD state_dict, written out with numpy."""
    out = {}
    for k, v in sd.items():
        if "log_sigma2" in k:
            continue
        ls = sd[k[:-len("weight")] + "log_sigma2"] if k.endswith(".weight") else \
            sd[k[:-len("bias")] + "log_sigma2_bias"]
        la = ls - np.float32(2) * np.log(np.abs(v) + np.float32(1e-15))
        conv = sd[k.rsplit(".", 1)[0] + ".weight"].ndim == 4
        drop = (la >= 3) & (k.endswith(".weight") or conv)
        out[k] = np.where(drop, np.float32(0), v)
    return out


def test_twins(twin_zoo, grid_zoo):
    with mzoo.open(twin_zoo) as zoo, mzoo.open(grid_zoo) as src:
        assert zoo.kind == "twin"
        m = zoo.models
        assert list(m["id"]) == [0, 1] and list(m["source_id"]) == [0, 1]
        assert list(m["source_epoch"]) == [1, 1]
        assert zoo.variants == ["cnn-s/c1/nodropout/ard"] and zoo.is_twin(0)
        sd = zoo.state_dict(1, 1)
        assert len(sd) == 20 and sum(v.size for v in sd.values()) == 4928
        assert list(sd)[:4] == ["module_list.0.weight", "module_list.0.bias",
                                "module_list.0.log_sigma2", "module_list.0.log_sigma2_bias"]
        pruned = zoo.state_dict(1, 1, pruned=True)
        assert list(pruned) == list(src.state_dict(1))
        expect = prune(sd)
        n_pruned = sum(int((pruned[k] == 0).sum() - (sd[k] == 0).sum())
                       for k in pruned if k.endswith(".weight"))
        for k in pruned:
            assert np.array_equal(pruned[k], expect[k]), k
        # epoch 0 (log_sigma2 = -10) prunes only the tiny weights (|w| < 0.0015)
        sd0 = zoo.state_dict(1, 0)
        small = sum(int((np.abs(sd0[k]) < 0.0015).sum()) for k in sd0 if k.endswith(".weight"))
        res0, res = zoo.evaluate_many([1, 1], [0, 1])
        assert res0["sparsity"] == pytest.approx(small / 2416, abs=1e-9) and small < 0.02 * 2416
        assert res0["acc"] == pytest.approx(src.metrics(models=1, epochs=1)[0]["test_acc"],
                                            abs=0.002)
        assert res["sparsity"] == pytest.approx(n_pruned / 2416, abs=0)
        assert 0.3 < res["sparsity"] < 0.7
        # the zoo's recorded sparsity (written with numpy's log) agrees
        rec = zoo.metrics(models=1)["sparsity"]
        assert rec == pytest.approx([res0["sparsity"], res["sparsity"]], abs=1.5 / 2416)
        w = np.concatenate([v.ravel() for v in pruned.values()])
        plain = src.evaluate(1, weights=w)
        assert (plain.loss, plain.acc, plain.n) == (res["loss"], res["acc"], res["n"])
        # as a dataset: the pruned network's weights and biases, matched by position (the
        # dense parameters as trained with dense=True)
        ds = zoo.dataset(epochs=[1])
        assert ds.dim == 2464 and len(ds) == 2
        i = int(np.flatnonzero((ds.model_id == 1))[0])
        assert np.array_equal(ds[i], np.concatenate([v.ravel() for v in pruned.values()]))
        dense = zoo.dataset(epochs=[1], dense=True)
        assert np.array_equal(dense[i], np.concatenate(
            [sd[k].ravel() for k in sd if "log_sigma2" not in k]))
        assert not np.array_equal(ds[i], dense[i])


# ---- imported zoos ----
def test_imported(imported_zoo):
    with mzoo.open(imported_zoo) as zoo:
        assert zoo.kind == "imported"
        m = zoo.models
        assert m["activation"][1] is None and np.isnan(m["lr"][1]) and m["seed"][1] == -1
        assert m["hparams"][0] == {"width": 8, "source": "elsewhere"}
        met = zoo.metrics(models=0)
        assert list(met["has_weights"]) == [True, False]
        with pytest.raises(mzoo.NotFoundError, match="model 0 epoch 1 has no weights"):
            zoo.weights(0, 1)
        with pytest.raises(mzoo.NotFoundError, match="has no weights"):
            zoo.evaluate(0, 1)
        with pytest.raises(mzoo.InvalidError, match="activation is not recorded"):
            zoo.evaluate(1, 1)
        assert zoo.evaluate(0, 0).acc == met["test_acc"][0]
        assert zoo.state_dict(1, 1)["module_list.0.weight"].shape == (8, 1, 5, 5)
        # the loader refuses an epoch without a checkpoint, naming it; a where clause skips it
        with pytest.raises(mzoo.NotFoundError, match="model 0 epoch 1 has no weights"):
            zoo.dataset()
        ds = zoo.dataset(where="e.weights IS NOT NULL")
        assert (0, 1) not in set(zip(ds.model_id, ds.epoch)) and len(ds) == 31
