"""examples/python/*.py run on the grid zoo (16 CNN-s models, epochs 0 and 1), as a user runs
them: /usr/bin/python3 examples/python/NAME.py ZOO.db."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

pytest.importorskip("torch", reason="the examples use PyTorch (python3-torch)")


def run(name, *args):
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", name), *args],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_reproduce_accuracy(grid_zoo):
    for model, epoch in (("0", "1"), ("12", "0")):  # both layout variants
        out = run("reproduce_accuracy.py", grid_zoo, model, epoch)
        acc = re.search(r"test accuracy (\d\.\d+) in PyTorch, (\d\.\d+) recorded", out)
        assert acc and abs(float(acc.group(1)) - float(acc.group(2))) <= 2e-4, out


def test_predict_accuracy(grid_zoo):
    out = run("predict_accuracy.py", grid_zoo)
    m = re.search(r"(\d+) training samples \((\d+) models\), (\d+) test samples: R2 = (-?\d+\.\d+)",
                  out)
    assert m, out
    assert int(m.group(1)) == 2 * int(m.group(2))  # two epochs per model
    assert float(m.group(4)) > 0.3, out  # untrained (epoch 0) and trained checkpoints differ


def test_hyper_representation(grid_zoo):
    out = run("hyper_representation.py", grid_zoo)
    m = re.search(r"R2 = (-?\d+\.\d+) on the hyper-representation, (-?\d+\.\d+) on s\(W\)", out)
    assert m and "reconstruction MSE" in out, out
    # on 16 models the embedding mostly tells the models (their seeds) apart: its R2 is reported,
    # not judged; s(W) predicts well
    assert np.isfinite(float(m.group(1))) and float(m.group(2)) > 0.5, out
