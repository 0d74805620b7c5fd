"""The PyTorch models and optimizers that lrcast's architectures and optimizer settings correspond to.

Shared by the reference scripts in this folder (checks only, never a dependency of lrcast):
`mlp:hidden=100;100`, the MNIST-1D `cnn1d:channels=25`, `cnn2d:channels=32;32;64,hidden=64` and
`resnet:depth=8,width=16` (CIFAR-style ResNet-(6n+2)), with PyTorch's default initialisation.
"""

import math

import torch
from torch import nn


def make_cnn1d(seq_len=40, classes=10, channels=25):
    """The MNIST-1D paper's ConvBase: 40 -> 19 -> 10 -> 5 along the sequence axis."""
    length = seq_len
    for k, s, p in ((5, 2, 1), (3, 2, 1), (3, 2, 1)):
        length = (length + 2 * p - k) // s + 1
    return nn.Sequential(
        nn.Unflatten(1, (1, seq_len)),
        nn.Conv1d(1, channels, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(channels * length, classes),
    )


def make_mlp(input_shape, classes):
    n_in = math.prod(input_shape)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(n_in, 100), nn.ReLU(),
        nn.Linear(100, 100), nn.ReLU(),
        nn.Linear(100, classes),
    )


def make_cnn2d(input_shape, classes, channels=(32, 32, 64), hidden=64):
    c_in, h, w = input_shape
    layers = []
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2)]
        c_in, h, w = c, h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(c_in * h * w, hidden), nn.ReLU(), nn.Linear(hidden, classes)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def make_resnet(input_shape, classes, depth=8, width=16):
    assert (depth - 2) % 6 == 0, "CIFAR ResNet depth must be 6n+2"
    n = (depth - 2) // 6
    layers = [nn.Conv2d(input_shape[0], width, 3, padding=1, bias=False),
              nn.BatchNorm2d(width), nn.ReLU()]
    c_in = width
    for stage, c in enumerate((width, 2 * width, 4 * width)):
        for block in range(n):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(BasicBlock(c_in, c, stride))
            c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, classes)]
    return nn.Sequential(*layers)


MODELS = {"mlp": make_mlp, "cnn2d": make_cnn2d, "resnet": make_resnet}


def make_optimizer(name, params):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=0.002, weight_decay=0.01, betas=(0.9, 0.999))
    raise ValueError(f"unknown optimizer {name!r}")
