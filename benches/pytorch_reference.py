#!/usr/bin/env python3
"""PyTorch CPU reference for lrcast's per-step training time.

Purpose
    Measures milliseconds per SGD training step (zero_grad + forward +
    cross-entropy + backward + optimizer.step()) for the two small models
    lrcast trains, on random input with the MNIST-1D shape (sequence length
    40, 10 classes), so the Rust/burn benchmark has a point of comparison.

    Models:
      mlp   : Linear(40,100) -> ReLU -> Linear(100,100) -> ReLU -> Linear(100,10)
      cnn1d : MNIST-1D paper's ConvBase, input [B,1,40]:
              Conv1d(1,25,5,s=2,p=1) -> ReLU -> Conv1d(25,25,3,s=2,p=1) -> ReLU
              -> Conv1d(25,25,3,s=2,p=1) -> ReLU -> flatten(25*5=125) -> Linear(125,10)
    Optimizer: SGD lr=0.05, momentum=0.9, weight_decay=5e-4. float32, batch 128.
    Timing: 20 warm-up steps, then 5 repeats of 200 timed steps; reports the
    median and the min of the per-repeat ms/step.

How to run
    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch
    /tmp/torchenv/bin/python benches/pytorch_reference.py --threads 2
    /tmp/torchenv/bin/python benches/pytorch_reference.py --threads 1 --json-out /tmp/ref.jsonl

    Prints one JSON line per model to stdout, e.g.
    {"model": "mlp", "batch": 128, "threads": 2, "ms_per_step_median": ..., "ms_per_step_min": ..., "torch": "x.y.z"}

This is a check only: Python/PyTorch is never a runtime or build dependency
of lrcast. Check machine load (uptime) before trusting the numbers.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn

SEQ_LEN = 40
NUM_CLASSES = 10


def make_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(SEQ_LEN, 100),
        nn.ReLU(),
        nn.Linear(100, 100),
        nn.ReLU(),
        nn.Linear(100, NUM_CLASSES),
    )


def make_cnn1d() -> nn.Module:
    # 40 -> 19 -> 10 -> 5 along the sequence axis.
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(25 * 5, NUM_CLASSES),
    )


MODELS = {
    "mlp": (make_mlp, lambda b: (b, SEQ_LEN)),
    "cnn1d": (make_cnn1d, lambda b: (b, 1, SEQ_LEN)),
}


def bench(name: str, batch: int, warmup: int, steps: int, repeats: int) -> dict:
    make, shape = MODELS[name]
    model = make().float().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(*shape(batch), dtype=torch.float32)
    y = torch.randint(0, NUM_CLASSES, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()

    per_step_ms = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        loss.item()  # synchronise (no-op on CPU, but keeps the loss live)
        per_step_ms.append((time.perf_counter() - t0) * 1000.0 / steps)

    return {
        "model": name,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "ms_per_step_median": round(statistics.median(per_step_ms), 4),
        "ms_per_step_min": round(min(per_step_ms), 4),
        "torch": torch.__version__,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--models", default="mlp,cnn1d", help="comma-separated: mlp,cnn1d")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-out", help="also write the JSON lines to this file")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    lines = []
    for name in args.models.split(","):
        line = json.dumps(bench(name.strip(), args.batch, args.warmup, args.steps, args.repeats))
        print(line, flush=True)
        lines.append(line)

    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
