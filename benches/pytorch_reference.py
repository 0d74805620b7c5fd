#!/usr/bin/env python3
"""PyTorch CPU reference for lrcast's per-step training time.

Purpose
    Measures milliseconds per training step (zero_grad + forward +
    cross-entropy + backward + optimizer.step()) for the small models lrcast
    trains, on random input (10 classes), so the Rust/burn benchmark has a
    point of comparison.

    Models (--models, comma-separated; default mlp,cnn1d):
      mlp     : MNIST-1D shape [B,40]:
                Linear(40,100) -> ReLU -> Linear(100,100) -> ReLU -> Linear(100,10)
      cnn1d   : MNIST-1D paper's ConvBase, input [B,1,40]:
                Conv1d(1,25,5,s=2,p=1) -> ReLU -> Conv1d(25,25,3,s=2,p=1) -> ReLU
                -> Conv1d(25,25,3,s=2,p=1) -> ReLU -> flatten(25*5=125) -> Linear(125,10)
      mlp784  : input [B,1,28,28] flattened: Linear(784,100) -> ReLU
                -> Linear(100,100) -> ReLU -> Linear(100,10)   (lrcast mlp:hidden=100;100)
      cnn2d28 : input [B,1,28,28]: 3 x [Conv2d(c_in,c,5,p=2) -> ReLU -> MaxPool2d(2,2)]
                for c in 32,32,64 -> flatten(64*3*3) -> Linear(576,64) -> ReLU
                -> Linear(64,10)   (lrcast cnn2d:channels=32;32;64,hidden=64)
      cnn2d32 : the same cnn2d on [B,3,32,32]: flatten(64*4*4=1024)
      resnet8 : input [B,1,28,28]: CIFAR ResNet-8 (conv3x3 1->16 + BN + ReLU, one
                BasicBlock per stage, widths 16/32/64, stride 2 at stages 2-3,
                1x1 conv+BN shortcut on shape change) -> AdaptiveAvgPool2d(1)
                -> Linear(64,10)   (lrcast resnet:depth=8,width=16)
    Optimizer (--optimizer): sgd (default) = SGD lr=0.05, momentum=0.9,
    weight_decay=5e-4; adamw = AdamW lr=0.002, weight_decay=0.01,
    betas (0.9, 0.999). float32, batch 128, train mode, default init.
    Timing: 20 warm-up steps, then 5 repeats of 200 timed steps; reports the
    median and the min of the per-repeat ms/step.

How to run
    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch
    /tmp/torchenv/bin/python benches/pytorch_reference.py --threads 2
    /tmp/torchenv/bin/python benches/pytorch_reference.py --threads 1 --json-out /tmp/ref.jsonl
    /tmp/torchenv/bin/python benches/pytorch_reference.py --threads 2 \
        --models mlp,cnn1d,mlp784,cnn2d28,cnn2d32,resnet8 --optimizer adamw

    Prints one JSON line per model to stdout, e.g.
    {"model": "mlp", "optimizer": "sgd", "batch": 128, "threads": 2,
     "ms_per_step_median": ..., "ms_per_step_min": ..., "torch": "x.y.z"}

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


from torch_models import make_cnn1d, make_cnn2d, make_mlp, make_optimizer, make_resnet  # noqa: E402


MODELS = {
    "mlp": (lambda: make_mlp((SEQ_LEN,), NUM_CLASSES), lambda b: (b, SEQ_LEN)),
    "cnn1d": (lambda: make_cnn1d(SEQ_LEN, NUM_CLASSES), lambda b: (b, SEQ_LEN)),
    "mlp784": (lambda: make_mlp((1, 28, 28), NUM_CLASSES), lambda b: (b, 1, 28, 28)),
    "cnn2d28": (lambda: make_cnn2d((1, 28, 28), NUM_CLASSES), lambda b: (b, 1, 28, 28)),
    "cnn2d32": (lambda: make_cnn2d((3, 32, 32), NUM_CLASSES), lambda b: (b, 3, 32, 32)),
    "resnet8": (lambda: make_resnet((1, 28, 28), NUM_CLASSES), lambda b: (b, 1, 28, 28)),
}


def bench(name: str, optimizer: str, batch: int, warmup: int, steps: int, repeats: int) -> dict:
    make, shape = MODELS[name]
    model = make().float().train()
    opt = make_optimizer(optimizer, model.parameters())
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
        "optimizer": optimizer,
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
    p.add_argument("--models", default="mlp,cnn1d",
                   help="comma-separated subset of: " + ",".join(MODELS))
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-out", help="also write the JSON lines to this file")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    names = [name.strip() for name in args.models.split(",")]
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")

    lines = []
    for name in names:
        line = json.dumps(bench(name, args.optimizer, args.batch, args.warmup, args.steps, args.repeats))
        print(line, flush=True)
        lines.append(line)

    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
