#!/usr/bin/python3
"""Golden files for tests/test_readers.c: tiny USPS, SVHN and STL-10 files in the official formats,
and what torchvision's own dataset code plus the reference's transforms make of them.

Run with Debian's python3 (python3-torchvision, python3-pil, python3-scipy, python3-numpy):
    /usr/bin/python3 tools/make_reader_golden.py tests/data/readers

Writes into <dir>:
  usps/usps.bz2, usps/usps.t.bz2          LIBSVM text, bzip2'd (9 and 4 digits)
  usps_train.u8, usps_test.u8             torchvision USPS -> Resize((28, 28)): [n][28][28] bytes
  svhn/train_32x32.mat, svhn/test_32x32.mat   MATLAB v5 (scipy.io.savemat), 5 and 3 digits
  svhn_train.u8, svhn_test.u8             SVHN's array order -> Grayscale(1) -> CenterCrop(28)
  stl10/stl10_binary.tar.gz               stl10_binary/{train,test}_{X,y}.bin, 3 and 2 images
  stl10_train28.u8, stl10_test28.u8       torchvision STL10 loading -> Resize((28, 28)): [n][3][28][28]
  *_labels.u8                             the labels torchvision returns, one byte each
"""
import bz2
import io
import os
import sys
import tarfile

import numpy as np
import scipy.io
import torchvision.transforms as T
from PIL import Image
from torchvision.datasets import STL10, USPS


def planar(img):
    a = np.asarray(img, dtype=np.uint8)
    return np.ascontiguousarray(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))


def smooth(rng, shape, noise):
    """Photo-like values (so the files compress and resampling sees realistic content)."""
    c, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty(shape)
    for k in range(c):
        a, b, p = rng.uniform(0.03, 0.2, 3)
        out[k] = 128 + 90 * np.sin(a * xx + 7 * p) * np.cos(b * yy) + rng.normal(0, noise, (h, w))
    return np.clip(out, 0, 255).astype(np.uint8)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def usps(out, rng):
    d = os.path.join(out, "usps")
    os.makedirs(d, exist_ok=True)
    resize = T.Resize((28, 28))
    for fname, n, tag in [("usps.bz2", 9, "train"), ("usps.t.bz2", 4, "test")]:
        lines = []
        for i in range(n):
            v = rng.uniform(-1, 1, 256)
            v[rng.integers(0, 256, 40)] = -1.0  # background, as in the real digits
            v[rng.integers(0, 256, 5)] = 1.0
            vals = " ".join(f"{k + 1}:{x:.6g}" for k, x in enumerate(v))
            lines.append(f"{(i % 10) + 1} {vals}")
        write(os.path.join(d, fname), bz2.compress(("\n".join(lines) + "\n").encode()))
    for train, tag in [(True, "train"), (False, "test")]:
        ds = USPS(d, train=train)
        imgs = [planar(resize(Image.fromarray(ds.data[i], mode="L"))) for i in range(len(ds))]
        write(os.path.join(out, f"usps_{tag}.u8"), np.stack(imgs).tobytes())
        write(os.path.join(out, f"usps_{tag}_labels.u8"), np.array(ds.targets, np.uint8).tobytes())


def svhn(out, rng):
    d = os.path.join(out, "svhn")
    os.makedirs(d, exist_ok=True)
    tf = T.Compose([T.Grayscale(1), T.CenterCrop(28)])
    for fname, n, tag, ydtype, compress in [("train_32x32.mat", 5, "train", np.float64, True),
                                            ("test_32x32.mat", 3, "test", np.uint8, False)]:
        x = np.stack([smooth(rng, (32, 32, 3), 10) for _ in range(n)], axis=3)  # [32][32][3][n]
        y = np.array([[10, 3, 1, 10, 7, 2, 5, 9][i % 8] for i in range(n)], ydtype).reshape(n, 1)
        scipy.io.savemat(os.path.join(d, fname), {"X": x, "y": y}, do_compression=compress)
        # torchvision SVHN: data = loadmat()["X"] transposed (3, 2, 0, 1), labels 10 -> 0, then
        # Image.fromarray(np.transpose(img, (1, 2, 0))) and the reference's transforms.
        m = scipy.io.loadmat(os.path.join(d, fname))
        data = np.transpose(m["X"], (3, 2, 0, 1))
        labels = m["y"].astype(np.int64).squeeze()
        np.place(labels, labels == 10, 0)
        imgs = [planar(tf(Image.fromarray(np.transpose(data[i], (1, 2, 0))))) for i in range(n)]
        write(os.path.join(out, f"svhn_{tag}.u8"), np.stack(imgs).tobytes())
        write(os.path.join(out, f"svhn_{tag}_labels.u8"), labels.astype(np.uint8).tobytes())


def stl10(out, rng):
    d = os.path.join(out, "stl10")
    raw = os.path.join(d, "raw", "stl10_binary")
    os.makedirs(raw, exist_ok=True)
    members = {}
    for tag, n in [("train", 3), ("test", 2)]:
        x = np.stack([smooth(rng, (3, 96, 96), 0) for _ in range(n)])
        members[f"{tag}_X.bin"] = x.tobytes()  # the file's own byte order, whatever it means
        members[f"{tag}_y.bin"] = np.array([(i * 3) % 10 + 1 for i in range(n)], np.uint8).tobytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ["test_X.bin", "test_y.bin", "train_X.bin", "train_y.bin"]:
            info = tarfile.TarInfo("stl10_binary/" + name)
            info.size = len(members[name])
            info.mtime = 0
            tar.addfile(info, io.BytesIO(members[name]))
            write(os.path.join(raw, name), members[name])
    write(os.path.join(d, "stl10_binary.tar.gz"), buf.getvalue())
    # torchvision's own loader (private, so no md5 check of the full-size files), then the
    # reference's Resize((28, 28)) of Image.fromarray(np.transpose(img, (1, 2, 0))).
    ds = STL10.__new__(STL10)
    ds.root = os.path.join(d, "raw")
    resize = T.Resize((28, 28))
    for tag in ["train", "test"]:
        imgs, labels = ds._STL10__loadfile(f"{tag}_X.bin", f"{tag}_y.bin")
        res = [planar(resize(Image.fromarray(np.transpose(im, (1, 2, 0))))) for im in imgs]
        write(os.path.join(out, f"stl10_{tag}28.u8"), np.stack(res).tobytes())
        write(os.path.join(out, f"stl10_{tag}_labels.u8"), labels.astype(np.uint8).tobytes())
    for name in members:
        os.remove(os.path.join(raw, name))
    os.rmdir(raw)
    os.rmdir(os.path.join(d, "raw"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/readers"
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(4242)
    usps(out, rng)
    svhn(out, rng)
    stl10(out, rng)
    print(f"wrote goldens to {out}")


if __name__ == "__main__":
    main()
