#!/usr/bin/env bash
# Installs mzoo's build and test dependencies from Debian 12 packages (run as root).
# docs/DEPENDENCIES.md says why each one is here.
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libsqlite3-dev libjansson-dev zlib1g-dev libdeflate-dev libbz2-dev libarchive-dev libjpeg-dev libmatio-dev
      libxgboost-dev libopenblas-dev libopenmpi-dev openmpi-bin
      dataset-fashion-mnist sqlite3 python3-numpy python3-pytest
      libplplot-dev chromium python3-pil)
if [ "${MZOO_WITH_TORCH:-0}" = 1 ]; then
    # the Python package's PyTorch side (mzoo.torch, Zoo.module) and its tests: about 220 MB to
    # download, 930 MB installed on a new machine (python3-torch and its dependencies)
    pkgs+=(python3-torch)
fi
if [ "${MZOO_WITH_PYTHON:-0}" = 1 ]; then
    # only for regenerating golden files (tools/) and for the PyTorch side of bench/
    pkgs+=(python3-torch python3-torchvision python3-pil python3-scipy python3-sklearn)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "mzoo: missing Debian packages: ${missing[*]}; run this as root (or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
