"""A zoo as a weight-space dataset, through libmzoo's loader (include/mzoo/loader.h): the same
selection, filters, split by model, sample order, vectors and properties as `mzoo dataset`."""
import ctypes
import json
import math
import os
import tempfile

import numpy as np

from . import _lib
from ._lib import check, enc

PARTS = ("train", "val", "test")


def _epochs_arg(epochs):
    if epochs is None:
        return "all"
    if isinstance(epochs, str):
        return epochs
    if isinstance(epochs, (int, np.integer)):
        return str(int(epochs))
    if isinstance(epochs, range) and epochs.step == 1 and len(epochs):
        return f"{epochs.start}-{epochs.stop - 1}"
    return ",".join(str(int(e)) for e in epochs)


def _layers_arg(layers):
    if layers is None or isinstance(layers, str):
        return layers or "all"
    return ",".join(layers)


class Dataset:
    """Samples = (model, epoch) checkpoints of a zoo, each the selected layers' weights (and
    biases) as one float32 vector; models split into train/val/test so that no model is in two
    parts. Made by Zoo.dataset(); the options are those of `mzoo dataset` (docs/DATASET.md):

      epochs   'all', 'last', a number, a list or range of numbers, or a string '0,5,10-20'
      layers   'all' or positional names ['conv1', 'fc2'] (matched by position, so dropout>0
               and dropout=0 CNN-s models vectorise alike)
      bias     include biases (--no-bias is bias=False)
      where    an SQL expression over the columns of models (m) and epochs (e)
      max_abs  drop samples with any |w| > max_abs;  keep_nonfinite: keep NaN/Inf samples
      max_models  keep the first N models of the split permutation
      split    (train, val, test) or (train, test) fractions;  seed: the split's seed
      dense    twin zoos: the dense parameters as trained rather than the pruned network's
               weights (pruned weights, log alpha >= 3, read as 0 by default)

    Only the samples' metadata is held in memory: vectors are read from the zoo when asked for
    (read, batches), so zoos larger than memory stream. x(part) and arrays() materialise.
    Not thread-safe; in a forked process (DataLoader workers) the loader is reopened."""

    def __init__(self, path, epochs="all", layers="all", bias=True, where=None, max_abs=None,
                 keep_nonfinite=False, max_models=None, split=(0.7, 0.15, 0.15), seed=42,
                 dense=False):
        self.path = os.fspath(path)
        split = tuple(float(f) for f in split)
        if len(split) == 2:
            split = (split[0], 0.0, split[1])
        if len(split) != 3:
            raise ValueError(f"split {split}: expected two or three fractions")
        self.options = dict(epochs=_epochs_arg(epochs), layers=_layers_arg(layers),
                            bias=bool(bias), where=where,
                            max_abs=math.inf if max_abs is None else float(max_abs),
                            keep_nonfinite=bool(keep_nonfinite),
                            max_models=int(max_models or 0), split=split, seed=int(seed),
                            dense=bool(dense))
        self._h = None
        self._pid = None
        self._open()
        h = self._h
        n = _lib.mz_loader_n_samples(h)
        s = _lib.mz_loader_samples(h)
        raw = np.ctypeslib.as_array(ctypes.cast(s, ctypes.POINTER(ctypes.c_uint8)),
                                    shape=(n * ctypes.sizeof(_lib.SampleInfo),))
        info = raw.view(np.dtype({"names": ["model_id", "epoch", "part"],
                                  "formats": ["<i8", "<i4", "<i4"],
                                  "offsets": [_lib.SampleInfo.model_id.offset,
                                              _lib.SampleInfo.epoch.offset,
                                              _lib.SampleInfo.part.offset],
                                  "itemsize": ctypes.sizeof(_lib.SampleInfo)})) if n else None
        self.model_id = np.array(info["model_id"], dtype=np.int64) if n else np.zeros(0, np.int64)
        self.epoch = np.array(info["epoch"], dtype=np.int64) if n else np.zeros(0, np.int64)
        self.part = np.array(info["part"], dtype=np.int8) if n else np.zeros(0, np.int8)
        c = _lib.mz_loader_get_counts(h).contents
        self.counts = {f: getattr(c, f) for f, _ in _lib.LoaderCounts._fields_
                       if f not in ("models", "part_samples")}
        self.counts["models"] = dict(zip(PARTS, c.models))
        self.counts["part_samples"] = dict(zip(PARTS, c.part_samples))
        lay = _lib.mz_loader_layout(h).contents
        self.dim = int(lay.dim)
        self.layers = [dict(name=l.name.decode(), type=l.type.decode(),
                            module_index=l.module_index, idx_start=l.idx_start,
                            idx_length=l.idx_length, n_weights=l.n_weights, n_bias=l.n_bias,
                            kernel_no=l.kernel_no, kernel_size=l.kernel_size,
                            channels_in=l.channels_in, shape=tuple(l.shape[:l.ndim]))
                       for l in lay.layers[:lay.n_layers]]
        self.properties, self.levels = self._read_props(h, n)

    # ---- the C loader, per process ----
    def _open(self):
        o = self.options
        opt = _lib.LoaderOptions()
        _lib.mz_loader_options_default(ctypes.byref(opt))
        keep = (enc(o["epochs"]), enc(o["layers"]), enc(o["where"]))
        opt.epochs, opt.layers, opt.where = keep
        opt.with_bias = int(o["bias"])
        opt.drop_nonfinite = int(not o["keep_nonfinite"])
        opt.max_abs = o["max_abs"]
        for i, f in enumerate(o["split"]):
            opt.fractions[i] = f
        opt.seed = o["seed"]
        opt.max_models = o["max_models"]
        opt.dense = int(o["dense"])
        err = _lib.MzError()
        h = ctypes.c_void_p()
        check(_lib.mz_loader_open(ctypes.byref(h), enc(self.path), ctypes.byref(opt),
                                  ctypes.byref(err)), err)
        self._h, self._pid = h, os.getpid()

    def _handle(self):
        if self._h is None or self._pid != os.getpid():
            # never use an SQLite connection inherited through fork(): open our own (the
            # selection is deterministic, so the samples are the same)
            self._h = None
            self._open()
        return self._h

    def close(self):
        if self._h is not None and self._pid == os.getpid():
            _lib.mz_loader_close(self._h)
        self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self):  # pickling (DataLoader with spawn): everything but the handle
        d = dict(self.__dict__)
        d["_h"] = None
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)

    @staticmethod
    def _read_props(h, n):
        k = ctypes.c_int()
        cols = _lib.mz_loader_props(h, ctypes.byref(k))
        props, levels = {}, {}
        for c in cols[:k.value]:
            name = c.name.decode()
            v = np.ctypeslib.as_array(c.v, shape=(n,)).copy() if n else np.zeros(0)
            if c.kind == 1:  # categorical: level names, None where missing
                lv = [c.levels[i].decode() for i in range(c.n_levels)]
                levels[name] = lv
                out = np.empty(n, dtype=object)
                for i, x in enumerate(v):
                    out[i] = None if np.isnan(x) else lv[int(x)]
                props[name] = out
            else:
                props[name] = v
        return props, levels

    # ---- samples ----
    def __len__(self):
        return len(self.model_id)

    def __repr__(self):
        p = self.counts["part_samples"]
        return (f"<mzoo.Dataset {self.path!r}: {len(self)} samples of dim {self.dim} "
                f"(train {p['train']}, val {p['val']}, test {p['test']})>")

    def indices(self, part):
        """The sample indices of a part ('train', 'val', 'test'): a contiguous range, since
        samples are ordered train, val, test, and within a part by model id, then epoch."""
        if part not in PARTS:
            raise ValueError(f"part {part!r}: expected one of {PARTS}")
        return np.flatnonzero(self.part == PARTS.index(part))

    def read(self, i, out=None):
        """The vector of sample i (float32 [dim])."""
        if out is None:
            out = np.empty(self.dim, dtype=np.float32)
        if not (0 <= i < len(self)):
            raise IndexError(f"sample {i} of {len(self)}")
        err = _lib.MzError()
        check(_lib.mz_loader_read(self._handle(), int(i), out.ctypes.data_as(_lib._float_p),
                                  ctypes.byref(err)), err)
        return out

    __getitem__ = read

    def read_many(self, indices, out=None):
        """The vectors of the given samples, float32 [len(indices), dim]."""
        indices = np.asarray(indices, dtype=np.int64)
        if out is None:
            out = np.empty((len(indices), self.dim), dtype=np.float32)
        for k, i in enumerate(indices):
            self.read(i, out[k])
        return out

    def batches(self, part=None, batch_size=256):
        """Streams a part (None: all samples) in sample order: yields (x [b, dim], indices [b]),
        holding one batch in memory."""
        idx = np.arange(len(self)) if part is None else self.indices(part)
        for s in range(0, len(idx), batch_size):
            i = idx[s:s + batch_size]
            yield self.read_many(i), i

    def x(self, part):
        """All vectors of a part in memory, float32 [n, dim]."""
        return self.read_many(self.indices(part))

    def y(self, name, part=None):
        """A property over the samples (of a part): numeric as float64 with nan where missing,
        categorical as an object array of level names with None."""
        v = self.properties[name]
        return v if part is None else v[self.indices(part)]

    def statistics(self, x=None, part=None):
        """s(W), the features of `mzoo bench` (libmzoo's probe): per layer, for the weights and
        then the biases, mean, population variance and the 1/25/50/75/99 percentiles, float64
        [n, 7 per tensor]. x: vectors [n, dim] (default: the samples of `part`, or all, read
        from the zoo). The names are statistics_names()."""
        lay = _lib.mz_loader_layout(self._handle())
        d = _lib.mz_stats_dim(lay)
        if x is None:
            idx = np.arange(len(self)) if part is None else self.indices(part)
            rows = (self.read(i) for i in idx)
            n = len(idx)
        else:
            x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, self.dim)
            rows, n = iter(x), len(x)
        out = np.empty((n, d), dtype=np.float64)
        scratch = np.empty(self.dim, dtype=np.float64)
        dp = ctypes.POINTER(ctypes.c_double)
        for k, row in enumerate(rows):
            row = np.ascontiguousarray(row, dtype=np.float32)
            _lib.mz_stats_features(lay, row.ctypes.data_as(_lib._float_p),
                                   scratch.ctypes.data_as(dp), out[k].ctypes.data_as(dp))
        return out

    def statistics_names(self):
        """The names of the s(W) columns: 'conv1.w.mean', ..., 'fc2.b.p99'."""
        lay = _lib.mz_loader_layout(self._handle())
        buf = ctypes.create_string_buffer(64)
        names = []
        for i in range(_lib.mz_stats_dim(lay)):
            _lib.mz_stats_feature_name(lay, i, buf, 64)
            names.append(buf.value.decode())
        return names

    def arrays(self):
        """The nine arrays of `mzoo dataset`'s dataset.npz: x_<part> float32 [n, dim],
        model_id_<part> and epoch_<part> int64 [n]."""
        out = {}
        for p in PARTS:
            i = self.indices(p)
            out[f"x_{p}"] = self.read_many(i)
            out[f"model_id_{p}"] = self.model_id[i]
            out[f"epoch_{p}"] = self.epoch[i]
        return out

    def index_dict(self):
        """The layout map, as `mzoo dataset` writes it to index_dict.json (the reference's
        fields idx_start, idx_length, kernel_no, ... plus names and keys per variant)."""
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "index_dict.json")
            err = _lib.MzError()
            check(_lib.mz_vec_layout_write_json(_lib.mz_loader_layout(self._handle()), enc(p),
                                                ctypes.byref(err)), err)
            with open(p) as f:
                return json.load(f)
