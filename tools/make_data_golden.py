#!/usr/bin/python3
"""Golden values for tests/test_data.c, computed with torch / torchvision themselves.

Run with Debian's interpreter (python3-torch, python3-torchvision, python3-numpy):

    /usr/bin/python3 tools/make_data_golden.py [--fashion-mnist DIR] [--large]

Writes, under tests/data/datasets/:
  randperm.txt       torch.randperm(n, generator=torch.Generator().manual_seed(seed)) for a few
                     (n, seed): the whole permutation for small n, else its first/last 50 entries
                     and a checksum. --large adds n = 2^32/20 - 1 and 2^32/20, the two sides of the
                     threshold where torch 2.x's randperm_cpu switches to another algorithm (torch
                     1.11 and 1.13 do not; needs ~2 GB and a minute; the C test checks them only
                     when MZ_TEST_LARGE=1).
  lut.txt            ToTensor + Normalize(mean, std) of the 256 byte values, run through
                     torchvision.transforms on a PIL image, as float32 bit patterns.
  fashion_mnist.txt  (if the Fashion-MNIST files exist) the reference pipeline on the real files:
                     torchvision.datasets.FashionMNIST + random_split([50000, 10000], seed 42):
                     checksums of every split, the test label histogram, and a few samples'
                     labels and normalised pixels. Cross-checked against a plain numpy+gzip decode.

Text format, one record per line, whitespace-separated tokens; '#' starts a comment line.
Checksum: sum over i of splitmix64((i << s) | v_i) mod 2^64 (s = 32 for permutations, 8 for
bytes), which depends on every value and its position.
"""
import argparse
import gzip
import os
import shutil
import struct
import sys
import tempfile

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "datasets")
M64 = (1 << 64) - 1


def splitmix64(x):
    """splitmix64 finaliser on a uint64 numpy array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def pair_hash(values, shift, chunk=1 << 22):
    """sum_i splitmix64((i << shift) | values[i]) mod 2^64."""
    values = np.asarray(values).reshape(-1)
    total = 0
    for start in range(0, values.size, chunk):
        v = values[start:start + chunk].astype(np.uint64)
        i = np.arange(start, start + v.size, dtype=np.uint64)
        with np.errstate(over="ignore"):
            h = splitmix64((i << np.uint64(shift)) | v)
        total = (total + int(h.sum(dtype=np.uint64))) & M64
    return total


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", float(x)))[0]


def randperm_golden(large):
    lines = ["# torch.randperm(n, generator=torch.Generator().manual_seed(seed)), torch "
             + torch.__version__,
             "# randperm N SEED full V0 .. V(N-1)",
             "# randperm N SEED head 50 V.. tail 50 V.. hash H  (H = sum splitmix64(i << 32 | v_i))",
             "# randperm-large: the same, checked only with MZ_TEST_LARGE=1"]
    cases = [(10, 42), (7, 0), (1, 3), (2, 5), (1000, 123456789), (10, 2**32 + 5), (60000, 42)]
    if large:
        t = (2**32 - 1) // 20
        cases += [(t - 1, 42), (t, 42)]
    for n, seed in cases:
        g = torch.Generator().manual_seed(seed)
        # The algorithm does not depend on the dtype; int32 halves the memory for the large n.
        p = torch.randperm(n, generator=g, dtype=torch.int64 if n < 10**6 else torch.int32).numpy()
        assert np.array_equal(np.sort(p), np.arange(n))
        tag = "randperm-large" if n > 10**6 else "randperm"
        if n <= 1000:
            lines.append("%s %d %d full %s" % (tag, n, seed, " ".join(map(str, p.tolist()))))
        else:
            lines.append("%s %d %d head 50 %s tail 50 %s hash %d" % (
                tag, n, seed, " ".join(map(str, p[:50].tolist())),
                " ".join(map(str, p[-50:].tolist())), pair_hash(p, 32)))
        del p
    return lines


def lut_golden():
    lines = ["# torchvision %s: ToTensor() + Normalize((mean,), (std,)) of a PIL 'L' image holding"
             % torchvision.__version__,
             "# the bytes 0..255; lut MEAN STD MEANBITS STDBITS then 256 float32 bit patterns (hex)"]
    img = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16), mode="L")
    for mean, std in [(0.5, 0.5), (0.1307, 0.3081)]:
        t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])(img)
        v = t.reshape(-1).numpy().astype(np.float32)
        bits = v.view(np.uint32)
        lines.append("lut %r %r %08x %08x %s" % (mean, std, f32_bits(np.float32(mean)),
                                                 f32_bits(np.float32(std)),
                                                 " ".join("%08x" % b for b in bits)))
    return lines


def read_idx_numpy(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    assert raw[:3] == b"\0\0\x08"
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist_golden(src):
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    tmp = tempfile.mkdtemp()
    try:
        raw = os.path.join(tmp, "FashionMNIST", "raw")
        os.makedirs(raw)
        for n in names:
            with gzip.open(os.path.join(src, n + ".gz"), "rb") as fi, \
                    open(os.path.join(raw, n), "wb") as fo:
                shutil.copyfileobj(fi, fo)
        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
        full = torchvision.datasets.FashionMNIST(tmp, train=True, download=False, transform=tf)
        test = torchvision.datasets.FashionMNIST(tmp, train=False, download=False, transform=tf)
        train, val = torch.utils.data.random_split(
            full, [50000, 10000], generator=torch.Generator().manual_seed(42))

        # Cross-check torchvision against a plain decode and torch.randperm.
        x_np = read_idx_numpy(os.path.join(src, names[0] + ".gz"))
        y_np = read_idx_numpy(os.path.join(src, names[1] + ".gz"))
        xt_np = read_idx_numpy(os.path.join(src, names[2] + ".gz"))
        yt_np = read_idx_numpy(os.path.join(src, names[3] + ".gz"))
        assert np.array_equal(full.data.numpy(), x_np) and np.array_equal(full.targets.numpy(), y_np)
        assert np.array_equal(test.data.numpy(), xt_np) and np.array_equal(test.targets.numpy(), yt_np)
        perm = torch.randperm(60000, generator=torch.Generator().manual_seed(42)).numpy()
        assert list(train.indices) == perm[:50000].tolist()
        assert list(val.indices) == perm[50000:].tolist()

        lines = ["# Fashion-MNIST through torchvision %s FashionMNIST + random_split([50000, 10000],"
                 " manual_seed(42)) + ToTensor + Normalize(0.5, 0.5)" % torchvision.__version__,
                 "# split NAME n N xhash H yhash H   (x: uint8 [n][28][28] in split order, hash with"
                 " shift 8; y: labels, shift 8)",
                 "# hist test C0 .. C9",
                 "# sample SPLIT K src S label L xhash H px P1 BITS1 P2 BITS2 ...  (normalised"
                 " float32 at pixel index P of sample K)"]
        for name, idx, x, y in [("train", perm[:50000], x_np, y_np), ("val", perm[50000:], x_np, y_np),
                                ("test", np.arange(10000), xt_np, yt_np)]:
            lines.append("split %s n %d xhash %d yhash %d" % (
                name, idx.size, pair_hash(x[idx], 8), pair_hash(y[idx], 8)))
        lines.append("hist test " + " ".join(str(c) for c in np.bincount(yt_np, minlength=10)))
        for split, ds, ks in [("train", train, [0, 1, 2, 12345, 49999]), ("val", val, [0, 9999]),
                              ("test", test, [0, 9999])]:
            for k in ks:
                img, label = ds[k]
                src_idx = ds.indices[k] if split != "test" else k
                raw_img = (x_np if split != "test" else xt_np)[src_idx]
                flat = img.reshape(-1).numpy()
                # A few pixels: the corners, the centre, the brightest and some mid-grey ones.
                px = [0, 783, 14 * 28 + 14, int(np.argmax(raw_img))]
                mids = np.nonzero((raw_img.reshape(-1) > 40) & (raw_img.reshape(-1) < 200))[0]
                px += [int(p) for p in mids[:4]]
                lines.append("sample %s %d src %d label %d xhash %d px %s" % (
                    split, k, src_idx, label, pair_hash(raw_img, 8),
                    " ".join("%d %08x" % (p, f32_bits(flat[p])) for p in px)))
        return lines
    finally:
        shutil.rmtree(tmp)


def write(name, lines):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist",
                    help="directory with the four Fashion-MNIST .gz files")
    ap.add_argument("--large", action="store_true",
                    help="also the randperm cases at the algorithm threshold (slow, ~2 GB)")
    args = ap.parse_args()
    write("randperm.txt", randperm_golden(args.large))
    write("lut.txt", lut_golden())
    if os.path.exists(os.path.join(args.fashion_mnist, "train-images-idx3-ubyte.gz")):
        write("fashion_mnist.txt", fashion_mnist_golden(args.fashion_mnist))
    else:
        print("no Fashion-MNIST in %s: fashion_mnist.txt not written" % args.fashion_mnist,
              file=sys.stderr)


if __name__ == "__main__":
    main()
