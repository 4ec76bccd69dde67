"""A zoo file, read-only: metadata, models, metrics, checkpoints, datasets and evaluation."""
import ctypes
import io
import json
import os
import sqlite3
import urllib.parse
from collections import OrderedDict, namedtuple

import numpy as np

from . import _lib
from ._lib import check, enc

Tensor = namedtuple("Tensor", "name shape offset count")
Tensor.__doc__ = "One tensor of a layout: state_dict name, shape, first float and float count."

EvalResult = namedtuple("EvalResult", "loss acc n sparsity")
EvalResult.__doc__ = ("A checkpoint evaluated on a split: mean loss, accuracy, number of images, "
                      "and for twins the fraction of weights pruned (else nan).")

_PARTS = {"train": 0, "val": 1, "test": 2}

# the columns of table models, with the dtype each has in Zoo.models (NULL: None, nan or -1)
_MODEL_COLUMNS = [("id", "i8"), ("variant", "O"), ("activation", "O"), ("init", "O"),
                  ("optimizer", "O"), ("lr", "f8"), ("weight_decay", "f8"), ("dropout", "f8"),
                  ("momentum", "f8"), ("nesterov", "i8"), ("seed", "i8"), ("status", "O"),
                  ("epochs_done", "i8"), ("message", "O"), ("source_id", "i8"),
                  ("source_epoch", "i8"), ("hparams", "O")]
_METRIC_COLUMNS = [("model_id", "i8"), ("epoch", "i8"), ("train_loss", "f8"), ("train_acc", "f8"),
                   ("val_loss", "f8"), ("val_acc", "f8"), ("test_loss", "f8"), ("test_acc", "f8"),
                   ("sparsity", "f8"), ("has_weights", "?"), ("metrics", "O")]


def _null(dtype, v):
    if v is not None:
        return v
    return None if dtype == "O" else np.nan if dtype == "f8" else -1


def _records(rows, columns):
    """Rows of a query as a numpy structured array with the given columns."""
    dt = np.dtype(columns)
    out = np.empty(len(rows), dtype=dt)
    for j, (name, t) in enumerate(columns):
        col = [_null(t, r[j]) for r in rows]
        if t == "O":
            out[name] = np.array(col + [None], dtype=object)[:-1]  # keeps lists intact
        else:
            out[name] = col
    return out


def to_frame(records):
    """A pandas DataFrame of a structured array (Zoo.models, Zoo.metrics()); needs pandas."""
    try:
        import pandas
    except ImportError as e:
        raise ImportError("mzoo.to_frame needs pandas (apt-get install python3-pandas); the "
                          "structured arrays work without it") from e
    return pandas.DataFrame.from_records(records)


class Zoo:
    """A zoo file opened read-only (`mzoo.open(path)`). Use it as a context manager or call
    close(). One Zoo per thread: it holds SQLite connections."""

    def __init__(self, path):
        self.path = os.fspath(path)
        err = _lib.MzError()
        h = ctypes.c_void_p()
        # libmzoo checks that this is a zoo (application_id, schema version, tables) first
        check(_lib.mz_store_open(ctypes.byref(h), enc(self.path), 0, ctypes.byref(err)), err)
        self._store = h
        self._pid = os.getpid()
        self._evals = {}
        self._layouts = {}
        self.schema_version = _lib.mz_store_schema_version(h)
        self._db = sqlite3.connect(self._reader_uri(), uri=True, check_same_thread=False)
        self.meta = dict(self._db.execute("SELECT key, value FROM meta"))
        self._models = None

    def _reader_uri(self):
        """The URI libmzoo's readers use (store/open.c): read-only; immutable for a WAL-mode file
        with no -wal file beside it, so that nothing is created next to the zoo."""
        with io.open(self.path, "rb") as f:
            head = f.read(20)
        wal = len(head) == 20 and head[18] == 2
        q = "?mode=ro" + ("&immutable=1" if wal and not os.path.exists(self.path + "-wal")
                          else "")
        return "file:" + urllib.parse.quote(os.path.abspath(self.path)) + q

    # ---- lifetime ----
    def close(self):
        if getattr(self, "_pid", None) != os.getpid():
            # a copy in a forked process (a DataLoader worker): the handles are the parent's
            self._evals, self._store, self._db = {}, None, None
            return
        # the evaluators that borrow a dataset first, then those that own one
        for key in sorted(self._evals, key=lambda k: k[1:] == (None, None, None)):
            _lib.mz_evaluator_close(self._evals.pop(key))
        if self._store:
            _lib.mz_store_close(self._store)
            self._store = None
        if self._db:
            self._db.close()
            self._db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return (f"<mzoo.Zoo {self.path!r}: {self.kind}, {len(self.models)} models, "
                f"{self.meta.get('architecture', '?')} on {self.meta.get('dataset', '?')}>")

    def _live(self):
        if not self._store:
            raise ValueError("the zoo is closed")

    # ---- metadata ----
    @property
    def kind(self):
        """'grid' (trained from a spec), 'twin' (sparsified twins) or 'imported' (read from
        another format: the Model Zoos' twins too, whose models is_twin() tells)."""
        return self.meta.get("kind", "grid")

    @property
    def recipe(self):
        """The zoo's recipe (the canonical spec) as a dict, or None."""
        r = self.meta.get("recipe")
        return json.loads(r) if r else None

    @property
    def models(self):
        """Every model (table models) as a numpy structured array, one row per model in id
        order: id, variant, activation, init, optimizer, lr, weight_decay, dropout, momentum,
        nesterov, seed, status, epochs_done, message, source_id, source_epoch, hparams (a dict
        or None). Unknown values are None (text), nan (reals) or -1 (integers). Read-only."""
        if self._models is None:
            self._live()
            names = ", ".join(c for c, _ in _MODEL_COLUMNS)
            rows = self._db.execute(f"SELECT {names} FROM models ORDER BY id").fetchall()
            recs = _records(rows, _MODEL_COLUMNS)
            recs["hparams"] = [json.loads(h) if h else None for h in recs["hparams"]]
            recs.flags.writeable = False  # shared by every call: copy() to change it
            self._models = recs
        return self._models

    def model(self, model):
        """One model's row of `models` (a numpy record); NotFoundError if the zoo lacks it."""
        m = self.models
        i = np.searchsorted(m["id"], model)
        if i >= len(m) or m["id"][i] != model:
            raise _lib.NotFoundError(_lib.MZ_ENOTFOUND, f"{self.path}: no model {model} (the "
                                     f"zoo has {len(m)} models)")
        return m[i]

    def metrics(self, models=None, epochs=None, frame=False):
        """Per (model, epoch) rows of table epochs as a numpy structured array in (model,
        epoch) order: model_id, epoch, train/val/test loss and accuracy (nan where NULL),
        sparsity (twins), has_weights (the epoch has a checkpoint), metrics (a dict or None).
        `models`, `epochs`: an id or a list of ids to keep. frame=True: a pandas DataFrame."""
        self._live()
        cols = [c for c, _ in _METRIC_COLUMNS[:-2]] + ["weights IS NOT NULL", "metrics"]
        where, args = [], []
        for col, sel in (("model_id", models), ("epoch", epochs)):
            if sel is not None:
                sel = [int(s) for s in np.atleast_1d(sel)]
                where.append(f"{col} IN ({','.join('?' * len(sel))})")
                args += sel
        sql = (f"SELECT {', '.join(cols)} FROM epochs"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY model_id, epoch")
        recs = _records(self._db.execute(sql, args).fetchall(), _METRIC_COLUMNS)
        recs["metrics"] = [json.loads(x) if x else None for x in recs["metrics"]]
        if frame:
            return to_frame(recs)
        return recs

    # ---- layouts and checkpoints ----
    @property
    def variants(self):
        """The layout variants of the zoo's models, in order of their first model."""
        seen = OrderedDict()
        for v in self.models["variant"]:
            seen.setdefault(v, None)
        return list(seen)

    def layout(self, variant):
        """The tensors of a layout variant (state_dict order) as a list of Tensor, as libmzoo
        checks and reads them. `variant` may also be a model id."""
        if not isinstance(variant, str):
            variant = self.model(variant)["variant"]
        if variant not in self._layouts:
            self._live()
            err = _lib.MzError()
            t = ctypes.POINTER(_lib.TensorDesc)()
            n, total = ctypes.c_int(), ctypes.c_int64()
            check(_lib.mz_store_layout(self._store, enc(variant), ctypes.byref(t), ctypes.byref(n),
                                       ctypes.byref(total), ctypes.byref(err)), err)
            try:
                self._layouts[variant] = [
                    Tensor(t[i].name.decode(), tuple(t[i].shape[:t[i].ndim]), t[i].offset,
                           t[i].count) for i in range(n.value)]
            finally:
                _lib.mz_free(ctypes.cast(t, ctypes.c_void_p))
        return self._layouts[variant]

    def _epoch(self, model, epoch):
        if isinstance(epoch, str):
            if epoch != "last":
                raise ValueError(f"epoch {epoch!r}: expected a number or 'last'")
            e = int(self.model(model)["epochs_done"])
            if e < 0:
                raise _lib.NotFoundError(_lib.MZ_ENOTFOUND,
                                         f"{self.path}: model {model} has no committed epoch")
            return e
        return int(epoch)

    def weights(self, model, epoch="last"):
        """The checkpoint of (model, epoch) as one float32 vector in state_dict order (the
        layout's offsets index it), its crc32 checked. epoch='last': the model's last
        committed epoch. NotFoundError for a missing model, epoch or checkpoint."""
        self._live()
        model = int(model)
        epoch = self._epoch(model, epoch)
        n = sum(t.count for t in self.layout(model))
        w = np.empty(n, dtype=np.float32)
        err = _lib.MzError()
        check(_lib.mz_store_read_weights(self._store, model, epoch,
                                         w.ctypes.data_as(_lib._float_p), n, ctypes.byref(err)),
              err)
        return w

    def is_twin(self, model):
        """True if the model's layout is a variational-dropout twin's (log_sigma2 tensors)."""
        return any(t.name.endswith(".log_sigma2") for t in self.layout(model))

    def state_dict(self, model, epoch="last", pruned=False, torch=False):
        """The checkpoint as an OrderedDict of the reference's state_dict names and shapes
        (numpy float32 views of one vector; torch=True: torch tensors, num_batches_tracked as
        int64 as in PyTorch). A twin's state_dict has weight, bias, log_sigma2 and
        log_sigma2_bias per layer; pruned=True gives instead its pruned network's plain
        state_dict (weights and conv biases zeroed where log alpha >= 3)."""
        w = self.weights(model, epoch)
        layout = self.layout(model)
        if pruned and self.is_twin(model):
            layout, w = self._prune(layout, w)
        sd = OrderedDict((t.name, w[t.offset:t.offset + t.count].reshape(t.shape))
                         for t in layout)
        if torch:
            try:
                import torch as _torch
            except ImportError as e:
                raise ImportError("state_dict(torch=True) needs PyTorch (apt-get install "
                                  f"python3-torch): {e}") from e
            sd = OrderedDict(
                (k, _torch.tensor(int(v), dtype=_torch.int64) if k.endswith("num_batches_tracked")
                 else _torch.from_numpy(v)) for k, v in sd.items())
        return sd

    @staticmethod
    def _prune(layout, w):
        """A twin's pruned plain layout and weights (libmzoo's mz_ard_prune)."""
        plain, off = [], 0
        for t in layout:
            if t.name.endswith(".log_sigma2") or t.name.endswith(".log_sigma2_bias"):
                continue
            plain.append(Tensor(t.name, t.shape, off, t.count))
            off += t.count

        def descs(ts):
            arr = (_lib.TensorDesc * len(ts))()
            for d, t in zip(arr, ts):
                d.name, d.ndim, d.offset, d.count = t.name.encode(), len(t.shape), t.offset, t.count
                for i, s in enumerate(t.shape):
                    d.shape[i] = s
            return arr

        a, p = descs(layout), descs(plain)
        out = np.empty(off, dtype=np.float32)
        err = _lib.MzError()
        w = np.ascontiguousarray(w, dtype=np.float32)
        check(_lib.mz_ard_prune(a, len(layout), w.ctypes.data_as(_lib._float_p), p, len(plain),
                                out.ctypes.data_as(_lib._float_p), None, None, ctypes.byref(err)),
              err)
        return plain, out

    def module(self, model, epoch="last", activation=None):
        """A torch.nn.Module of the reference architecture holding the checkpoint, in eval
        mode (needs PyTorch): CNN-s, CNN-l or ResNet-18, and for twins their pruned network.
        `activation` overrides the model's (needed where the zoo does not record it)."""
        try:
            from . import torch as mt
        except ImportError as e:
            raise ImportError(f"Zoo.module needs PyTorch (apt-get install python3-torch): {e}") \
                from e
        return mt.module_for(self, int(model), epoch, activation)

    # ---- datasets and evaluation ----
    def dataset(self, epochs="all", layers="all", bias=True, where=None, max_abs=None,
                keep_nonfinite=False, max_models=None, split=(0.7, 0.15, 0.15), seed=42,
                dense=False):
        """The zoo as a weight-space dataset: the selection, filters and split by model of
        `mzoo dataset` (libmzoo's loader), see mzoo.Dataset."""
        from .dataset import Dataset
        return Dataset(self.path, epochs=epochs, layers=layers, bias=bias, where=where,
                       max_abs=max_abs, keep_nonfinite=keep_nonfinite, max_models=max_models,
                       split=split, seed=seed, dense=dense)

    def _evaluator(self, data, backend=None, batch=None, max_images=None):
        """libmzoo evaluators, one per set of options; all share the dataset the first one for
        that data directory loaded."""
        key = (data, backend, batch, max_images)
        if key not in self._evals:
            base = None
            if key[1:] != (None, None, None):
                base = self._evaluator(data)
                ds = ctypes.POINTER(_lib.Dataset)()
                err = _lib.MzError()
                check(_lib.mz_evaluator_dataset(base, ctypes.byref(ds), ctypes.byref(err)), err)
            o = _lib.EvalOptions()
            _lib.mz_eval_options_default(ctypes.byref(o))
            keep = (enc(data), enc(backend))  # alive until the evaluator is open
            o.data_dir, o.backend = keep
            if base is not None:
                o.dataset = ctypes.cast(ds, ctypes.c_void_p)  # borrowed from base
            o.batch = int(batch or 0)
            o.max_images = int(max_images or 0)
            err = _lib.MzError()
            h = ctypes.c_void_p()
            check(_lib.mz_evaluator_open(ctypes.byref(h), enc(self.path), ctypes.byref(o),
                                         ctypes.byref(err)), err)
            self._evals[key] = h
        return self._evals[key]

    def images(self, split="test", max_images=None, data=None):
        """The images of a split of the zoo's dataset as its models see them, preprocessed and
        normalised by libmzoo's readers (the reference's): (x float32 [n, C, H, W], y int64
        [n]). `max_images`: the first images only. `data`: the dataset's directory when not in
        its default place."""
        self._live()
        if split not in _PARTS:
            raise ValueError(f"split {split!r}: expected 'train', 'val' or 'test'")
        ev = self._evaluator(None if data is None else os.fspath(data))
        p = ctypes.POINTER(_lib.Dataset)()
        err = _lib.MzError()
        check(_lib.mz_evaluator_dataset(ev, ctypes.byref(p), ctypes.byref(err)), err)
        ds = p.contents
        sp = getattr(ds, split)
        n = sp.n if max_images is None else min(int(max_images), sp.n)
        c, hw = ds.c, ds.h * ds.w
        if n == 0:
            return np.zeros((0, c, ds.h, ds.w), np.float32), np.zeros(0, np.int64)
        raw = np.ctypeslib.as_array(sp.x, shape=(n, c, hw))
        lut = np.ctypeslib.as_array(ds.lut)[:c]  # [c][256]: byte -> normalised value
        x = lut[np.arange(c)[None, :, None], raw].reshape(n, c, ds.h, ds.w)
        y = np.ctypeslib.as_array(sp.y, shape=(n,)).astype(np.int64)
        return x.astype(np.float32), y

    def evaluate(self, model, epoch="last", split="test", weights=None, data=None, backend=None,
                 batch=None, max_images=None):
        """Evaluates a checkpoint on a split ('train', 'val', 'test') of the zoo's dataset with
        libmzoo's engines (no PyTorch needed): EvalResult(loss, acc, n, sparsity). For a grid
        zoo this reproduces the recorded metrics of that epoch (val/test; train at epoch 0).
        `weights`: a vector of the model's layout to evaluate instead (e.g. an edited
        checkpoint). `data`: the dataset's directory when not in its default place.
        `max_images`: only the split's first images (a quick check). `backend`: 'ref' or 'simd'
        (CNNs). The dataset is loaded once per Zoo."""
        self._live()
        if split not in _PARTS:
            raise ValueError(f"split {split!r}: expected 'train', 'val' or 'test'")
        ev = self._evaluator(None if data is None else os.fspath(data), backend, batch,
                             max_images)
        r = _lib.EvalResult()
        err = _lib.MzError()
        if weights is None:
            model = int(model)
            check(_lib.mz_evaluator_checkpoint(ev, model, self._epoch(model, epoch),
                                               _PARTS[split], ctypes.byref(r), ctypes.byref(err)),
                  err)
        else:
            w = np.ascontiguousarray(weights, dtype=np.float32).ravel()
            check(_lib.mz_evaluator_weights(ev, int(model), w.ctypes.data_as(_lib._float_p),
                                            w.size, _PARTS[split], ctypes.byref(r),
                                            ctypes.byref(err)), err)
        return EvalResult(r.loss, r.acc, r.n, r.sparsity)

    def evaluate_many(self, models, epochs, split="test", data=None, backend=None, batch=None,
                      max_images=None):
        """Evaluates many checkpoints, (models[i], epochs[i]) (a single epoch or 'last' for
        all), on one split: a structured array with model_id, epoch, loss, acc, n, sparsity.
        CNN checkpoints of one layout variant and activation share the lanes of libmzoo's
        population engine, up to 16 per pass over the images, so this is much faster than
        evaluate() in a loop."""
        self._live()
        if split not in _PARTS:
            raise ValueError(f"split {split!r}: expected 'train', 'val' or 'test'")
        ids = np.ascontiguousarray(np.atleast_1d(models), dtype=np.int64)
        if isinstance(epochs, str) or np.ndim(epochs) == 0:
            epochs = [epochs] * len(ids)
        if len(epochs) != len(ids):
            raise ValueError(f"{len(ids)} models but {len(epochs)} epochs")
        eps = np.array([self._epoch(int(m), e) for m, e in zip(ids, epochs)], dtype=np.intc)
        ev = self._evaluator(None if data is None else os.fspath(data), backend, batch,
                             max_images)
        res = (_lib.EvalResult * max(len(ids), 1))()
        err = _lib.MzError()
        check(_lib.mz_evaluator_checkpoints(
            ev, len(ids), ids.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
            eps.ctypes.data_as(ctypes.POINTER(ctypes.c_int)), _PARTS[split], res,
            ctypes.byref(err)), err)
        out = np.zeros(len(ids), dtype=[("model_id", "i8"), ("epoch", "i8"), ("loss", "f8"),
                                        ("acc", "f8"), ("n", "i8"), ("sparsity", "f8")])
        out["model_id"], out["epoch"] = ids, eps
        for f in ("loss", "acc", "n", "sparsity"):
            out[f] = [getattr(r, f) for r in res[:len(ids)]]
        return out


def open(path):  # noqa: A001 (mzoo.open: shadows the builtin in this module only)
    """Opens a zoo file read-only. Raises NotFoundError for a missing file, FormatError for a
    file that is not a zoo or has a newer schema than this mzoo reads."""
    return Zoo(path)
