"""Every snippet and command of docs/PYTHON.md runs, in order, in a directory where the names it
uses exist (fmnist-demo.db, twins.db, imported.db: the test zoos; build, examples, python: the
source tree's); `cmake --install` installs under DESTDIR there. docs/FORMAT.md's reference
architectures in PyTorch load zoo checkpoints and compute what mzoo.torch computes."""
import os
import re
import subprocess

import numpy as np
import pytest

from conftest import ROOT

torch = pytest.importorskip("torch", reason="the documents' snippets use PyTorch")
import mzoo  # noqa: E402
import mzoo.torch as mt  # noqa: E402


def blocks(doc):
    """The fenced code blocks of a document: [(language, text)] in order."""
    text = open(os.path.join(ROOT, "docs", doc)).read()
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)


def test_python_md(tmp_path, grid_zoo, twin_zoo, imported_zoo):
    build = os.environ.get("MZ_BUILD_DIR") or os.path.join(ROOT, "build")
    links = {"fmnist-demo.db": grid_zoo, "twins.db": twin_zoo, "imported.db": imported_zoo,
             "build": build, "examples": os.path.join(ROOT, "examples"),
             "python": os.path.join(ROOT, "python")}
    for name, target in links.items():
        os.symlink(target, tmp_path / name)
    # the package under test, whatever the caller's PYTHONPATH was relative to
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(mzoo.__file__)))
    env = dict(os.environ, DESTDIR=str(tmp_path / "stage"),
               PYTHONPATH=os.pathsep.join([pkg] + [os.path.abspath(p) for p in
                                                   os.environ.get("PYTHONPATH", "").split(
                                                       os.pathsep) if p]))
    found = [b for b in blocks("PYTHON.md") if b[0] in ("python", "sh")]
    assert len(found) >= 8 and not [b for b in blocks("PYTHON.md") if b[0] not in ("python", "sh")]
    ns = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for i, (lang, code) in enumerate(found):
            if lang == "python":
                exec(compile(code, f"docs/PYTHON.md, block {i + 1}", "exec"), ns)
            else:
                p = subprocess.run(["bash", "-euo", "pipefail", "-c", code], env=env,
                                   capture_output=True, text=True, timeout=600)
                assert p.returncode == 0, f"docs/PYTHON.md, block {i + 1}:\n{code}\n{p.stderr}"
    finally:
        os.chdir(cwd)
    # the install went under DESTDIR, nowhere else
    assert list((tmp_path / "stage").rglob("libmzoo.so.0"))


def test_format_md_architectures(grid_zoo):
    code = [c for lang, c in blocks("FORMAT.md") if lang == "python" and "def cnn_s" in c]
    assert len(code) == 1
    ns = {}
    exec(compile(code[0], "docs/FORMAT.md", "exec"), ns)
    for c in (1, 3):
        for act in ("tanh", "gelu"):
            for p in (0.0, 0.5):
                for doc, mine in ((ns["cnn_s"](c, act, p), mt.cnn_s(c, act, p)),
                                  (ns["cnn_l"](c, act, p), mt.cnn_l(c, act, p))):
                    assert [(k, v.shape) for k, v in doc.state_dict().items()] == \
                        [(k, v.shape) for k, v in mine.state_dict().items()]
                    assert [type(m) for m in doc.module_list] == \
                        [type(m) for m in mine.module_list]
    with mzoo.open(grid_zoo) as zoo:
        x, _ = zoo.images("test", max_images=200)
        for mid in (0, 9):
            sd = zoo.state_dict(mid, 1, torch=True)
            net = ns["cnn_s"](1, "tanh", float(zoo.model(mid)["dropout"]))
            net.load_state_dict(sd, strict=True)
            net.eval()
            with torch.no_grad():
                assert np.array_equal(net(torch.from_numpy(x)).numpy(),
                                      zoo.module(mid, 1)(torch.from_numpy(x)).numpy())
