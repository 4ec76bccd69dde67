"""PyTorch side of mzoo (imports torch; the rest of the package does not).

The reference architectures as plain PyTorch code, with the module order and state_dict names
the zoos' checkpoints have:

  * every block with pooling is conv -> max-pool -> activation -> [dropout]: the pooling comes
    BEFORE the nonlinearity;
  * CNN-s inserts its Dropout modules only when dropout > 0, which shifts the indices of the later
    layers (module_list.3.weight becomes module_list.4.weight, ...); CNN-l always has them;
  * ResNet-18 is torchvision's with a 3x3 stride-1 stem without bias and no max-pool.

A checkpoint loads with load_state_dict(..., strict=True) into the module these functions build.
"""
import re

import numpy as np
import torch
from torch import nn

from . import _lib

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
               "leakyrelu": nn.LeakyReLU, "silu": nn.SiLU}


def _act(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r}: expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class CNN(nn.Module):
    """The reference's CNN classes: the layers in `module_list`, applied in order. Outputs
    logits."""

    def __init__(self, modules):
        super().__init__()
        self.module_list = nn.ModuleList(modules)

    def forward(self, x):
        for m in self.module_list:
            x = m(x)
        return x


def cnn_s(in_channels=1, activation="tanh", dropout=0.0, dropout_modules=None):
    """CNN-s ("CNN"), for C x 28 x 28 images, 10 classes; 2464 parameters for C = 1.

    dropout_modules: whether the Dropout modules exist (None: the reference's rule, dropout > 0).
    module_list, without dropout modules (with them):
      0 Conv2d(C, 8, 5)  1 MaxPool2d(2)  2 act  (3 Dropout)
      3 (4) Conv2d(8, 6, 5)  4 (5) MaxPool2d(2)  5 (6) act  (7 Dropout)
      6 (8) Conv2d(6, 4, 2)  7 (9) act  8 (10) Flatten
      9 (11) Linear(36, 20)  10 (12) act  (13 Dropout)  11 (14) Linear(20, 10)
    """
    if dropout_modules is None:
        dropout_modules = dropout > 0

    def drop():
        return [nn.Dropout(dropout)] if dropout_modules else []

    return CNN([nn.Conv2d(in_channels, 8, 5), nn.MaxPool2d(2, 2), _act(activation), *drop(),
                nn.Conv2d(8, 6, 5), nn.MaxPool2d(2, 2), _act(activation), *drop(),
                nn.Conv2d(6, 4, 2), _act(activation),
                nn.Flatten(),
                nn.Linear(36, 20), _act(activation), *drop(),
                nn.Linear(20, 10)])


def cnn_l(in_channels=3, activation="tanh", dropout=0.0):
    """CNN-l ("CNN3"), for C x 32 x 32 images, 10 classes; 10853 parameters for C = 3. The
    Dropout modules are always there (Dropout(0) when dropout = 0), so the indices are fixed:
      0 Conv2d(C, 16, 3)  1 MaxPool2d(2)  2 act  3 Dropout
      4 Conv2d(16, 32, 3)  5 MaxPool2d(2)  6 act  7 Dropout
      8 Conv2d(32, 15, 3)  9 MaxPool2d(2)  10 act  11 Dropout
      12 Flatten  13 Linear(60, 20)  14 act  15 Dropout  16 Linear(20, 10)
    """
    return CNN([nn.Conv2d(in_channels, 16, 3), nn.MaxPool2d(2, 2), _act(activation),
                nn.Dropout(dropout),
                nn.Conv2d(16, 32, 3), nn.MaxPool2d(2, 2), _act(activation), nn.Dropout(dropout),
                nn.Conv2d(32, 15, 3), nn.MaxPool2d(2, 2), _act(activation), nn.Dropout(dropout),
                nn.Flatten(),
                nn.Linear(60, 20), _act(activation), nn.Dropout(dropout),
                nn.Linear(20, 10)])


class BasicBlock(nn.Module):
    """out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); 3x3 convs, padding 1, no
    bias; the shortcut is `downsample` (1x1 conv, stride 2, + BN) where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """ResNet-18 as the reference's ResNet zoos have it: torchvision's ResNet(BasicBlock,
    [2, 2, 2, 2]) with conv1 = Conv2d(C, 64, 3, stride 1, padding 1, no bias) and no max-pool.
    conv1 -> bn1 -> relu -> layer1..4 (64, 128, 256, 512 channels; layer2..4 start with stride
    2) -> global average pool -> fc(512, K). 122 state_dict entries (BatchNorm's running
    statistics and num_batches_tracked included)."""

    def __init__(self, in_channels=3, n_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        widths, cin = (64, 128, 256, 512), 64
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}",
                    nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, n_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(in_channels=3, n_classes=10):
    """ResNet18 (see the class)."""
    return ResNet18(in_channels, n_classes)


# ---- checkpoints into modules ----
def _module_index(name):
    m = re.match(r"module_list\.(\d+)\.", name)
    return int(m.group(1)) if m else None


def architecture_for(state_dict, activation, dropout=0.0):
    """The reference module (untrained) that a plain state_dict of a zoo fits: ResNet-18 when it
    has fc.weight, else CNN-s or CNN-l from the kernels of module_list, with CNN-s's dropout
    modules where its module indices say so."""
    if "fc.weight" in state_dict:
        return resnet18(state_dict["conv1.weight"].shape[1], state_dict["fc.weight"].shape[0])
    convs = [k for k, v in state_dict.items() if k.endswith(".weight") and v.dim() == 4]
    if not convs or _module_index(convs[0]) is None:
        raise _lib.UnsupportedError(_lib.MZ_EUNSUPPORTED,
                                    "the checkpoint is none of CNN-s, CNN-l, ResNet-18")
    first = state_dict[convs[0]]
    if activation is None:
        raise ValueError("the zoo does not record this model's activation; pass activation=")
    if first.shape[0] == 8 and first.shape[-1] == 5:
        return cnn_s(first.shape[1], activation, dropout,
                     dropout_modules=_module_index(convs[1]) != 3)
    if first.shape[0] == 16 and first.shape[-1] == 3:
        return cnn_l(first.shape[1], activation, dropout)
    raise _lib.UnsupportedError(_lib.MZ_EUNSUPPORTED,
                                f"a first convolution of shape {tuple(first.shape)} is neither "
                                "CNN-s's [8,C,5,5] nor CNN-l's [16,C,3,3]")


def module_for(zoo, model, epoch="last", activation=None):
    """Zoo.module(): the checkpoint in its reference module, eval mode; twins pruned."""
    sd = zoo.state_dict(model, epoch, pruned=True, torch=True)
    row = zoo.model(model)
    act = activation if activation is not None else row["activation"]
    p = float(row["dropout"]) if np.isfinite(row["dropout"]) else 0.0
    net = architecture_for(sd, act, p)
    net.load_state_dict(sd, strict=True)
    return net.eval()


# ---- datasets ----
class WeightDataset(torch.utils.data.Dataset):
    """A part of an mzoo.Dataset for torch.utils.data.DataLoader: item i is (x, y), x the
    sample's float32 vector [dim], y its properties `targets` (a name: a scalar, a list of names:
    a vector) as float32, a single categorical target as its level index (int64). Vectors are
    read from the zoo per item, so the zoo need not fit in memory; each DataLoader worker process
    opens its own reader."""

    def __init__(self, dataset, part="train", targets="test_acc", transform=None):
        self.dataset = dataset
        self.index = np.arange(len(dataset)) if part is None else dataset.indices(part)
        self.targets = targets
        self.transform = transform
        names = [targets] if isinstance(targets, str) else list(targets)
        cols = []
        for n in names:
            if n not in dataset.properties:
                raise KeyError(f"property {n!r}: the dataset has {', '.join(dataset.properties)}")
            v = dataset.properties[n][self.index]
            if n in dataset.levels:
                lv = {s: i for i, s in enumerate(dataset.levels[n])}
                v = np.array([lv[s] if s is not None else -1 for s in v])
            cols.append(v)
        if isinstance(targets, str) and targets in dataset.levels:
            self.y = torch.as_tensor(cols[0], dtype=torch.int64)
        elif isinstance(targets, str):
            self.y = torch.as_tensor(cols[0], dtype=torch.float32)
        else:
            self.y = torch.as_tensor(np.stack(cols, axis=1) if cols else
                                     np.zeros((len(self.index), 0)), dtype=torch.float32)

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        x = torch.from_numpy(self.dataset.read(int(self.index[i])))
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y[i]
