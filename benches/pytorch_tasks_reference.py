#!/usr/bin/env python3
"""PyTorch accuracy reference for lrcast's shipped tasks (a check only).

Purpose
    Trains, in plain PyTorch (nn.Module + torch.optim + a per-step LR
    scheduler), the task x architecture x optimizer combinations lrcast
    trains, with lrcast's exact preprocessing, so lrcast's final test top-1 /
    loss can be compared with a well-known implementation. One JSON line per
    run is printed:
      {"task", "arch", "optimizer", "seed", "epochs", "top1", "test_loss",
       "train_loss", "ms_per_step", "torch"}
    train_loss is lrcast's: the unweighted mean of the batch losses of the
    last epoch (train mode). top1 / test_loss: whole test split, eval mode,
    at the end. ms_per_step: wall time of all training steps (batch gather,
    zero_grad, forward, loss, backward, optimizer and scheduler step) divided
    by their number; evaluation excluded.

    Data (read from --datasets DIR, the files lrcast ships):
      digits.csv.gz                    no header; 64 pixels (0-16), label. TABLE, 64 features.
      wine.csv.gz, breast_cancer.csv.gz header "n_samples,n_features,<class names>", then
                                       n_features floats and an integer label. TABLE.
      {mnist10k,fashion10k}-{images-idx3,labels-idx1}-ubyte.gz   IDX, u8 images n x 28 x 28.
    Preprocessing (identical to lrcast):
      split: example i (0-based, file order) is TEST if i % 5 == 4, else TRAIN;
      tables: per-feature standardisation with the TRAIN mean and population
              std (std 0 -> 1);
      images: x/255, then standardised with the scalar mean and population std
              of all TRAIN pixels; shape [1, 28, 28].
    Architectures (PyTorch default init everywhere):
      mlp:hidden=100;100              Flatten, Linear(in,100), ReLU, Linear(100,100), ReLU,
                                      Linear(100,classes)
      cnn2d:channels=32;32;64,hidden=64  3 x [Conv2d(c_in,c,5,pad 2), ReLU, MaxPool2d(2,2)],
                                      Flatten, Linear(64*3*3,64), ReLU, Linear(64,classes)
      resnet:depth=8,width=16         CIFAR ResNet-8 (n=1 BasicBlock per stage, widths
                                      16/32/64, stride 2 at stages 2 and 3, 1x1 conv+BN
                                      shortcut on shape change), AdaptiveAvgPool2d(1),
                                      Linear(64,classes)
    Optimizers: sgd = SGD(lr 0.05, momentum 0.9, weight_decay 5e-4);
                adamw = AdamW(lr 0.002, weight_decay 0.01, betas (0.9, 0.999)).
    LR policy: CosineAnnealingLR(T_max = total steps), stepped after every
    batch (step 0 uses the full lr). Batch 128, reshuffled every epoch,
    last partial batch kept, mean cross-entropy. Seed s: torch.manual_seed(s)
    before building the model; the shuffle uses its own Generator seeded s.

    Default runs: digits x mlp and mnist10k x mlp (10 epochs), fashion10k x
    cnn2d and fashion10k x resnet (5 epochs); each with sgd and adamw, seeds
    0 and 1 (16 runs).

How to run (from the repository root)
    python3 -m venv /work/torchenv && /work/torchenv/bin/pip install torch numpy
    /work/torchenv/bin/python benches/pytorch_tasks_reference.py --threads 2 \
        --datasets datasets --json-out /tmp/tasks_ref.jsonl
    Filter with --only (comma-separated substrings of "task/arch/optimizer",
    e.g. --only fashion10k/resnet,digits/mlp/sgd); pick seeds with --seeds 0,1;
    replace the run list with --combos "wine/mlp/20,breast_cancer/mlp/20"
    (task/arch/epochs, arch one of mlp, cnn2d, resnet).

This is a check only: Python/PyTorch is never a runtime or build dependency of
lrcast. Timings depend on machine load (check uptime).
"""

import argparse
import gzip
import json
import math
import os
import struct
import time

import numpy as np
import torch
from torch import nn

BATCH = 128
IMAGE_TASKS = ("mnist10k", "fashion10k")
TABLE_TASKS = ("digits", "wine", "breast_cancer")
ARCH_SPECS = {
    "mlp": "mlp:hidden=100;100",
    "cnn2d": "cnn2d:channels=32;32;64,hidden=64",
    "resnet": "resnet:depth=8,width=16",
}
DEFAULT_COMBOS = "digits/mlp/10,mnist10k/mlp/10,fashion10k/cnn2d/5,fashion10k/resnet/5"


# ----------------------------------------------------------------------------- data

def read_table(path, has_header):
    """Rows of floats followed by an integer label -> (x float64 [n, f], y int64 [n])."""
    with gzip.open(path, "rt") as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    if has_header:
        n_samples, n_features = (int(v) for v in lines[0].split(",")[:2])
        lines = lines[1:]
        assert len(lines) == n_samples, f"{path}: {len(lines)} rows, header says {n_samples}"
    rows = np.array([[float(v) for v in ln.split(",")] for ln in lines], dtype=np.float64)
    if has_header:
        assert rows.shape[1] == n_features + 1, f"{path}: {rows.shape[1]} columns"
    return rows[:, :-1], rows[:, -1].astype(np.int64)


def read_idx(path):
    """IDX file (big-endian header) -> numpy u8 array of the stored shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: not a u8 IDX file"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == math.prod(dims), f"{path}: truncated"
    return arr.reshape(dims)


def split_mask(n):
    """True for TEST examples: i % 5 == 4 in file order."""
    return np.arange(n) % 5 == 4


def standardise_table(x, test):
    mean = x[~test].mean(axis=0)
    std = x[~test].std(axis=0)  # population std (ddof 0)
    std[std == 0] = 1.0
    return (x - mean) / std


def standardise_images(x, test):
    x = x.astype(np.float64) / 255.0
    mean, std = x[~test].mean(), x[~test].std()
    return ((x - mean) / (std if std > 0 else 1.0))[:, None, :, :]


def load_task(task, folder):
    """-> dict(train=(x, y), test=(x, y), input_shape, classes) as float32 / int64 tensors."""
    if task in TABLE_TASKS:
        x, y = read_table(os.path.join(folder, f"{task}.csv.gz"), has_header=task != "digits")
        test = split_mask(len(y))
        x = standardise_table(x, test)
    elif task in IMAGE_TASKS:
        x = read_idx(os.path.join(folder, f"{task}-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(folder, f"{task}-labels-idx1-ubyte.gz")).astype(np.int64)
        assert len(x) == len(y), f"{task}: {len(x)} images, {len(y)} labels"
        test = split_mask(len(y))
        x = standardise_images(x, test)
    else:
        raise ValueError(f"unknown task {task!r}")
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y)
    mask = torch.from_numpy(test)
    return {
        "train": (xt[~mask], yt[~mask]),
        "test": (xt[mask], yt[mask]),
        "input_shape": tuple(xt.shape[1:]),
        "classes": int(y.max()) + 1,
    }


# ----------------------------------------------------------------------------- models

from torch_models import MODELS, make_optimizer  # noqa: E402  (benches/ is on sys.path)


# ----------------------------------------------------------------------------- training

def train(model, opt, data, epochs, seed):
    """Train; return (mean batch loss of the last epoch, ms per training step)."""
    x, y = data["train"]
    n = len(y)
    steps_per_epoch = math.ceil(n / BATCH)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    model.train()
    elapsed, steps, last_epoch_loss = 0.0, 0, float("nan")
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        loss_sum = 0.0
        t0 = time.perf_counter()
        for start in range(0, n, BATCH):
            idx = perm[start:start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item()
            steps += 1
        elapsed += time.perf_counter() - t0
        last_epoch_loss = loss_sum / steps_per_epoch
    return last_epoch_loss, 1000.0 * elapsed / max(steps, 1)


@torch.no_grad()
def evaluate(model, data):
    """Test top-1 (argmax, ties to the lower index) and mean cross-entropy, eval mode."""
    model.eval()
    x, y = data["test"]
    logits = torch.cat([model(x[i:i + 1000]) for i in range(0, len(y), 1000)])
    top1 = (logits.argmax(dim=1) == y).double().mean().item()
    loss = nn.functional.cross_entropy(logits.double(), y).item()
    return top1, loss


def run_one(task, arch, optimizer, seed, epochs, data):
    torch.manual_seed(seed)
    model = MODELS[arch](data["input_shape"], data["classes"])
    opt = make_optimizer(optimizer, model.parameters())
    train_loss, ms = train(model, opt, data, epochs, seed)
    top1, test_loss = evaluate(model, data)
    return {
        "task": task, "arch": ARCH_SPECS[arch], "optimizer": optimizer, "seed": seed,
        "epochs": epochs, "top1": round(top1, 6), "test_loss": round(test_loss, 6),
        "train_loss": round(train_loss, 6), "ms_per_step": round(ms, 3),
        "torch": torch.__version__,
    }


# ----------------------------------------------------------------------------- CLI

def planned_runs(combos, optimizers, seeds, only):
    runs = []
    for combo in combos.split(","):
        task, arch, epochs = combo.strip().split("/")
        assert arch in MODELS, f"unknown arch {arch!r}"
        for optimizer in optimizers:
            key = f"{task}/{arch}/{optimizer}"
            if only and not any(pat in key for pat in only):
                continue
            runs += [(task, arch, optimizer, seed, int(epochs)) for seed in seeds]
    return runs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="datasets", help="folder with the shipped data files")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--combos", default=DEFAULT_COMBOS, help="comma-separated task/arch/epochs")
    p.add_argument("--optimizers", default="sgd,adamw")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--only", default="", help="keep runs whose task/arch/optimizer contains one of these")
    p.add_argument("--json-out", help="also write the JSON lines to this file")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    only = [s for s in args.only.split(",") if s]
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = planned_runs(args.combos, args.optimizers.split(","), seeds, only)
    cache, lines = {}, []
    for task, arch, optimizer, seed, epochs in runs:
        if task not in cache:
            cache[task] = load_task(task, args.datasets)
        line = json.dumps(run_one(task, arch, optimizer, seed, epochs, cache[task]))
        print(line, flush=True)
        lines.append(line)
        if args.json_out:  # rewritten after every run, so a partial run keeps its results
            with open(args.json_out, "w") as f:
                f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
