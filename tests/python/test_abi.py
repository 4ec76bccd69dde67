"""The ctypes mirrors of libmzoo's structures (mzoo/_lib.py) against the C headers: a C program
prints sizeof and offsetof of every mirrored field, compiled with the system's cc."""
import ctypes
import os
import shutil
import subprocess

import pytest

from mzoo import _lib
from conftest import ROOT


def test_structures_match_the_headers(tmp_path):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (apt-get install build-essential)")
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "mzoo/data.h"',
             '#include "mzoo/eval.h"', '#include "mzoo/loader.h"', "int main(void) {"]
    want = []
    for cname, py in _lib.STRUCTS.items():
        lines.append(f'printf("%zu\\n", sizeof({cname}));')
        want.append((cname, "sizeof", ctypes.sizeof(py)))
        for field, _ in py._fields_:
            lines.append(f'printf("%zu\\n", offsetof({cname}, {field}));')
            want.append((cname, field, getattr(py, field).offset))
    lines += ["return 0;", "}"]
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "abi"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), str(src), "-o",
                    str(exe)], check=True)
    got = [int(v) for v in subprocess.run([str(exe)], check=True, capture_output=True,
                                          text=True).stdout.split()]
    assert len(got) == len(want)
    bad = [f"{c}.{f}: C {g}, mzoo/_lib.py {w}" for (c, f, w), g in zip(want, got) if g != w]
    assert not bad, "\n".join(bad)


def test_the_library_is_the_one_asked_for():
    lib = os.environ.get("MZOO_LIBRARY")
    assert os.path.basename(_lib.LIBRARY_PATH).startswith("libmzoo.so.0")
    if lib:
        assert _lib.LIBRARY_PATH == os.path.realpath(lib)
    assert _lib.mz_strerror(_lib.MZ_ENOTFOUND) is not None
