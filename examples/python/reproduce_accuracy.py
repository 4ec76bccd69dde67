#!/usr/bin/env python3
"""Loads a checkpoint of a zoo into PyTorch and checks that its test accuracy is the one the
zoo recorded for it.

    /usr/bin/python3 examples/python/reproduce_accuracy.py ZOO.db [MODEL [EPOCH]]

The module is the reference architecture (mzoo.torch) with the checkpoint's state_dict loaded
strictly; the images are the zoo's dataset as its models saw it (mzoo's readers and
normalisation). Exits 1 if the two accuracies differ by more than 2 images in 10,000 (argmax
flips of near-ties, from float rounding).
"""
import sys

import torch

import mzoo

path = sys.argv[1]
zoo = mzoo.open(path)
model = int(sys.argv[2]) if len(sys.argv) > 2 else int(zoo.models["id"][0])
epoch = int(sys.argv[3]) if len(sys.argv) > 3 else int(zoo.model(model)["epochs_done"])

net = zoo.module(model, epoch)  # a torch.nn.Module in eval mode
x, y = zoo.images("test")  # float32 [n, C, H, W], int64 [n]
with torch.no_grad():
    logits = torch.cat([net(torch.from_numpy(x[i:i + 1000])) for i in range(0, len(x), 1000)])
acc = (logits.argmax(1) == torch.from_numpy(y)).double().mean().item()
recorded = zoo.metrics(models=model, epochs=epoch)[0]["test_acc"]
print(f"{path}: model {model} epoch {epoch}: test accuracy {acc:.4f} in PyTorch, "
      f"{recorded:.4f} recorded in the zoo")
sys.exit(0 if abs(acc - recorded) <= 2e-4 else 1)
