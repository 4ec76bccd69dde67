#!/usr/bin/python3
"""PyTorch side of the ResNet-18 epoch-cost benchmark (bench/resnet_epoch.sh).

The reference's ResNet-18 (original-system.md section 1.4: torchvision's ResNet(BasicBlock,
[2,2,2,2]) with a 3x3/s1 stem and no maxpool) trained as its ResNet zoos do (section 4.4): NLL of
log_softmax, SGD(lr 0.05, momentum 0.9, weight_decay 5e-4) stepped by OneCycleLR, batches of 256
CIFAR-sized images, on the CPU with torch.set_num_threads(THREADS). Times `--images` training
images after one warm-up step, then `--eval-images` eval-mode images (no_grad), and prints one JSON
line in the format of bench_resnet, with the same extrapolation: one epoch = 40,000 training
images + 20,000 val and test images. Random data: the cost does not depend on the values.

usage: resnet_epoch.py [--batch 256] [--images 512] [--eval-images 512] [--hw 32] [--classes 10]
                       [--threads 2]
"""
import argparse
import json
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, ResNet


class ResNet18(ResNet):
    def __init__(self, channels_in, n_classes):
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=n_classes)
        self.conv1 = nn.Conv2d(channels_in, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.maxpool = nn.Identity()


def forward_flops(model, hw):
    flops = 0
    x = torch.zeros(1, 3, hw, hw)
    hooks = []

    def conv_hook(mod, inp, out):
        nonlocal flops
        flops += 2 * out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return flops + 2 * 512 * model.fc.out_features


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--eval-images", type=int, default=512)
    ap.add_argument("--hw", type=int, default=32)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = ResNet18(3, a.classes)
    ff = forward_flops(model, a.hw)
    steps = (a.images + a.batch - 1) // a.batch
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, epochs=50, steps_per_epoch=157)
    model.train()
    t0 = None
    for step in range(steps + 1):
        if step == 1:
            t0 = time.perf_counter()
        x = torch.randn(a.batch, 3, a.hw, a.hw)
        y = torch.randint(0, a.classes, (a.batch,))
        opt.zero_grad()
        loss = F.nll_loss(F.log_softmax(model(x), dim=1), y)
        loss.backward()
        opt.step()
        sched.step()
    t_train = time.perf_counter() - t0
    model.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        done = 0
        while done < a.eval_images:
            nb = min(a.batch, a.eval_images - done)
            model(torch.randn(nb, 3, a.hw, a.hw))
            done += nb
    t_eval = time.perf_counter() - t0
    per_train = t_train / (steps * a.batch)
    per_eval = t_eval / a.eval_images if a.eval_images else 0.0
    print(json.dumps({
        "side": "torch", "torch": torch.__version__, "batch": a.batch, "hw": a.hw, "classes": a.classes,
        "threads": a.threads, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "mkldnn": torch.backends.mkldnn.is_available(), "train_images": steps * a.batch,
        "eval_images": a.eval_images, "s_per_step": round(t_train / steps, 4),
        "s_per_train_image": round(per_train, 6), "s_per_eval_image": round(per_eval, 6),
        "train_gflops": round(3 * ff / per_train / 1e9, 1),
        "eval_gflops": round(ff / per_eval / 1e9, 1) if per_eval else 0.0,
        "epoch_s": round(40000 * per_train + 20000 * per_eval, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
