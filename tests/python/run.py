"""Runs one group of the Python package's tests with pytest (ctest's python_api and python_torch).
The torch group exits 77, which ctest reports as skipped, when PyTorch is not installed."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GROUPS = {"api": ["test_abi.py", "test_api.py"],
          "torch": ["test_torch.py", "test_examples.py", "test_docs.py"]}

group = sys.argv[1] if len(sys.argv) > 1 else ""
if group not in GROUPS:
    sys.exit(f"usage: run.py {{{','.join(GROUPS)}}} [pytest options]")
if group == "torch":
    try:
        import torch  # noqa: F401
    except ImportError:
        print("python_torch: SKIPPED: PyTorch is not installed for this Python (apt-get install "
              "python3-torch; scripts/test.sh installs it unless MZOO_WITH_TORCH=0)")
        sys.exit(77)
import pytest  # noqa: E402

# the zoos of a run (a ResNet-18 zoo is 90 MB) go to one directory per group under the build
# tree, emptied by pytest when the next run starts
build = os.environ.get("MZ_BUILD_DIR")
temp = ["--basetemp", os.path.join(build, f"pytest-{group}")] if build else []
sys.exit(pytest.main(["-q", "-rs", "-p", "no:cacheprovider", "--rootdir", HERE] + temp
                     + [os.path.join(HERE, f) for f in GROUPS[group]] + sys.argv[2:]))
