#!/usr/bin/python3
"""Golden files for tests/test_pil.c: PIL / torchvision image operations on a few random images.

Run with Debian's python3 (python3-pil, python3-torchvision, python3-numpy):
    /usr/bin/python3 tools/make_pil_golden.py tests/data/pil

Writes <dir>/cases.txt, one case a line:
    <name> <op> <c> <h> <w> <oh> <ow> <param>
and for each case <name>.in (input bytes) and <name>.out (the expected output bytes), both planar
uint8 [c][h][w] (for op "jpeg", .in is the JPEG file and .out the decoded RGB image).
Ops:
    resize   Image.resize((ow, oh), Image.BILINEAR) of an 'L' or 'RGB' image (param unused)
    gray     Image.convert('L') of an RGB image (oc = 1)
    crop     torchvision.transforms.CenterCrop((oh, ow)) of a PIL image
    rotate   torchvision.transforms.functional.rotate(float tensor, param degrees, NEAREST,
             fill=[0.0]*c), the tensor path RandomRotation takes on Tiny-ImageNet's 0-255 tensors
    jpeg     Image.open(file).convert('RGB') of a JPEG that PIL wrote (quality param)
"""
import io
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image


def planar(img):
    a = np.asarray(img, dtype=np.uint8)
    if a.ndim == 2:
        a = a[None]
    else:
        a = a.transpose(2, 0, 1)
    return np.ascontiguousarray(a)


def to_pil(a):
    """a: uint8 [c][h][w] -> PIL image ('L' or 'RGB')."""
    if a.shape[0] == 1:
        return Image.fromarray(a[0], mode="L")
    return Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)), mode="RGB")


def smooth_image(rng, c, h, w):
    """Random but photo-like (smooth plus noise), so JPEG and resampling see realistic content."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((c, h, w))
    for k in range(c):
        a, b, p = rng.uniform(0.05, 0.3, 3)
        out[k] = 128 + 80 * np.sin(a * xx + p * 7) * np.cos(b * yy) + rng.normal(0, 20, (h, w))
    return np.clip(out, 0, 255).astype(np.uint8)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/data/pil"
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20220601)
    cases = []

    def add(name, op, inp, out, param=0):
        c, h, w = inp.shape if op != "jpeg" else out.shape
        oc, oh, ow = out.shape
        with open(os.path.join(out_dir, name + ".in"), "wb") as f:
            f.write(inp.tobytes() if op != "jpeg" else inp)
        with open(os.path.join(out_dir, name + ".out"), "wb") as f:
            f.write(out.tobytes())
        cases.append(f"{name} {op} {c} {h} {w} {oh} {ow} {param}")

    # Bilinear resizes of the readers (CIFAR 32->28, STL 96->28/32, USPS 16->28, EuroSAT 64->28/32)
    # and odd shapes that mix down- and upscaling with non-integer factors.
    # kinds: r = uniformly random pixels (stress the rounding), s = smooth, photo-like image.
    resizes = [
        ("cifar", 3, 32, 32, 28, 28, "rs"),
        ("stl28", 3, 96, 96, 28, 28, "rs"),
        ("stl32", 3, 96, 96, 32, 32, "s"),
        ("usps", 1, 16, 16, 28, 28, "rs"),
        ("eurosat28", 3, 64, 64, 28, 28, "s"),
        ("eurosat32", 3, 64, 64, 32, 32, "r"),
        ("odd1", 1, 37, 23, 11, 50, "rs"),
        ("odd2", 3, 13, 41, 40, 7, "rs"),
        ("same_w", 1, 20, 17, 9, 17, "r"),
        ("same_h", 1, 20, 17, 20, 5, "r"),
    ]
    for name, c, h, w, oh, ow, kinds in resizes:
        for k, kind in enumerate(kinds):
            if kind == "r":
                a = rng.integers(0, 256, (c, h, w), dtype=np.uint8)
            else:
                a = smooth_image(rng, c, h, w)
            b = planar(to_pil(a).resize((ow, oh), Image.BILINEAR))
            add(f"resize_{name}_{k}", "resize", a, b)

    # RGB -> L on random pixels (and the SVHN shape).
    for k, (h, w) in enumerate([(32, 32), (7, 19)]):
        a = rng.integers(0, 256, (3, h, w), dtype=np.uint8)
        add(f"gray_{k}", "gray", a, planar(to_pil(a).convert("L")))

    # CenterCrop: SVHN's 32 -> 28 and odd differences where torchvision rounds half to even.
    for k, (c, h, w, oh, ow) in enumerate([(1, 32, 32, 28, 28), (3, 31, 30, 28, 27), (1, 29, 33, 28, 28)]):
        a = rng.integers(0, 256, (c, h, w), dtype=np.uint8)
        add(f"crop_{k}", "crop", a, planar(T.CenterCrop((oh, ow))(to_pil(a))))

    # Tensor rotation (nearest, zero fill) as RandomRotation does on float tensors.
    for k, (c, h, w, angle) in enumerate([(3, 64, 64, 13.7), (3, 32, 32, -19.25), (1, 20, 30, 7.5),
                                          (3, 32, 32, 0.3), (1, 33, 17, -4.0)]):
        a = rng.integers(0, 256, (c, h, w), dtype=np.uint8)
        t = torch.from_numpy(a.astype(np.float32))
        r = F.rotate(t, float(np.float32(angle)), interpolation=T.InterpolationMode.NEAREST,
                     fill=[0.0] * c)
        add(f"rotate_{k}", "rotate", a, r.numpy().round().astype(np.uint8), float(np.float32(angle)))

    # JPEG decoding: an RGB and a grayscale JPEG written by PIL, decoded by PIL to RGB.
    for k, (mode, q) in enumerate([("RGB", 90), ("L", 75), ("RGB", 50)]):
        a = smooth_image(rng, 3 if mode == "RGB" else 1, 64, 64)
        buf = io.BytesIO()
        to_pil(a).save(buf, format="JPEG", quality=q)
        data = buf.getvalue()
        dec = planar(Image.open(io.BytesIO(data)).convert("RGB"))
        add(f"jpeg_{k}", "jpeg", data, dec, q)

    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")
    print(f"wrote {len(cases)} cases to {out_dir}")


if __name__ == "__main__":
    main()
