#!/bin/bash
# ResNet-18 epoch cost on this machine, mzoo and PyTorch in the same run (docs/PERFORMANCE.md,
# "ResNet-18"). CIFAR-10 scale: 32x32x3, 10 classes, batch 256; one epoch = 40,000 training images
# + 20,000 val/test images, extrapolated from a few hundred images per configuration.
#
# usage: bench/resnet_epoch.sh [BUILD_DIR]   (default build-bench; configured and built if needed)
# Environment: PYTHON (an interpreter with torch and torchvision, default /usr/bin/python3),
#   IMAGES (timed training images per configuration, default 512), EVAL_IMAGES (default 512),
#   MZ_BENCH_CORETYPE (OPENBLAS_CORETYPE for both sides, default SkylakeX).
# Configurations: mzoo 1 model x 1 BLAS thread; 1 model x 2 BLAS threads; 2 models in parallel x
# 1 thread each (the trainer's choice); PyTorch 1 model with torch.set_num_threads(2).
# Output: one JSON line per configuration on stdout. Takes about 3 minutes on 2 cores; run it on an
# otherwise idle machine.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-bench}
python=${PYTHON:-/usr/bin/python3}
images=${IMAGES:-512}
eval_images=${EVAL_IMAGES:-512}
export OPENBLAS_CORETYPE=${MZ_BENCH_CORETYPE:-SkylakeX}

if [ ! -x "$build/bench/bench_resnet" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    make -C "$build" bench_resnet >/dev/null
fi
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "$(nproc) CPUs, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
common=(--batch 256 --images "$images" --eval-images "$eval_images" --hw 32 --classes 10)
"$build/bench/bench_resnet" "${common[@]}" --models 1 --blas-threads 1
"$build/bench/bench_resnet" "${common[@]}" --models 1 --blas-threads 2
"$build/bench/bench_resnet" "${common[@]}" --models 2 --blas-threads 1
"$python" "$src/bench/resnet_epoch.py" "${common[@]}" --threads 2
