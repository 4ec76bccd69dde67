#!/usr/bin/env bash
# docs/FORMAT.md's promise: Python's sqlite3 + numpy read a zoo without mzoo. Runs the Python
# example of docs/FORMAT.md itself (extracted from the document, so the two cannot drift apart) on
# a zoo `mzoo train` wrote, checks every tensor against the layout, and, when PyTorch is installed,
# loads each model into the reference's CNN-s (load_state_dict strict: names and shapes) and checks
# that PyTorch's test accuracy on Fashion-MNIST equals the one mzoo recorded.
set -u
BIN=${MZ_BIN:?}
SRC=${MZ_SOURCE_DIR:?}
PY=/usr/bin/python3
DATA=/usr/share/datasets/fashion-mnist
[ -f "$DATA/t10k-images-idx3-ubyte.gz" ] || { echo "cli_format_python: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
$PY -c 'import numpy' 2>/dev/null || { echo "cli_format_python: needs numpy for /usr/bin/python3 (apt-get install python3-numpy)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

cat > "$T/spec.json" <<'JSON'
{"dataset": "fashion-mnist", "architecture": "cnn-s", "epochs": 1, "batch_size": 10,
 "train_subset": 500,
 "grid": {"activation": ["tanh", "gelu"], "init": "kaiming_uniform", "optimizer": "adam",
          "lr": 0.003, "dropout": [0, 0.25], "seed": [3]}}
JSON
"$BIN" train "$T/spec.json" -o "$T/zoo.db" -q -j 2 || { echo "cli_format_python: training failed" >&2; exit 1; }

# the example, verbatim from the document (its first python block; the second, the reference
# architectures in PyTorch, is checked by tests/python/test_docs.py)
awk '/^```python$/{on=1; next} /^```$/{if (on) exit} on' "$SRC/docs/FORMAT.md" > "$T/example.py"
[ -s "$T/example.py" ] || { echo "cli_format_python: no python example in docs/FORMAT.md" >&2; exit 1; }

cat > "$T/check.py" <<'PY'
import gzip, os, runpy, sys
import numpy as np
os.chdir(sys.argv[1])
os.symlink("zoo.db", "fmnist-demo.db")          # the name the example uses
g = runpy.run_path("example.py")
rows, layout, recipe = g["rows"], g["layout"], g["recipe"]
assert len(rows) == 4, len(rows)
assert recipe["architecture"] == "cnn-s" and recipe["epochs"] == 1, recipe
names = {v: [t[0] for t in ts] for v, ts in layout.items()}
assert any(".4.weight" in n for n in sum(names.values(), [])), names   # dropout index shift
failures = 0
models = []
for mid, variant, act, lr, seed, epoch, acc, blob, crc in rows:
    w = np.frombuffer(blob, dtype="<f4")
    total = sum(cnt for _, _, cnt, _ in layout[variant])
    assert total == w.size == 2464, (total, w.size)
    sd = {name: w[off:off + cnt].reshape(shape) for name, off, cnt, shape in layout[variant]}
    assert sd["module_list.0.weight"].shape == (8, 1, 5, 5)
    assert np.isfinite(w).all()
    models.append((mid, variant, act, acc, sd))
try:
    import torch
except ImportError:
    print("cli_format_python: numpy checks passed; PyTorch not installed, skipping the torch check")
    sys.exit(0)

def images(path):
    with gzip.open(path) as f:
        b = f.read()
    return np.frombuffer(b, np.uint8, offset=16).reshape(-1, 1, 28, 28)
def labels(path):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)
d = "/usr/share/datasets/fashion-mnist/"
x = torch.from_numpy((images(d + "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255 - 0.5) / 0.5)
y = torch.from_numpy(labels(d + "t10k-labels-idx1-ubyte.gz").astype(np.int64))
acts = {"tanh": torch.nn.Tanh, "gelu": torch.nn.GELU, "relu": torch.nn.ReLU}
for mid, variant, act, acc, sd in models:
    A = acts[act]
    drop = variant.endswith("/dropout")
    mods = [torch.nn.Conv2d(1, 8, 5), torch.nn.MaxPool2d(2, 2), A()]
    mods += [torch.nn.Dropout(0.25)] if drop else []
    mods += [torch.nn.Conv2d(8, 6, 5), torch.nn.MaxPool2d(2, 2), A()]
    mods += [torch.nn.Dropout(0.25)] if drop else []
    mods += [torch.nn.Conv2d(6, 4, 2), A(), torch.nn.Flatten(), torch.nn.Linear(36, 20), A()]
    mods += [torch.nn.Dropout(0.25)] if drop else []
    mods += [torch.nn.Linear(20, 10)]
    net = torch.nn.Module()
    net.module_list = torch.nn.ModuleList(mods)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()}, strict=True)
    net.eval()
    with torch.no_grad():
        h = x
        for m in net.module_list:
            h = m(h)
    torch_acc = (h.argmax(1) == y).double().mean().item()
    # identical up to argmax flips from float rounding on near-ties (at most 2 of 10,000 images)
    if abs(torch_acc - acc) > 2e-4:
        print(f"model {mid}: PyTorch test accuracy {torch_acc} but the zoo says {acc}")
        failures += 1
    else:
        print(f"model {mid} ({variant}, {act}): test accuracy zoo {acc:.4f} torch {torch_acc:.4f}")
sys.exit(1 if failures else 0)
PY
$PY "$T/check.py" "$T"
