#!/usr/bin/env python3
"""PyTorch CPU references for lrcast's stacked training throughput (model-steps per second).

Purpose
    lrcast trains K models of one shape as one stacked model. This script measures what PyTorch
    does for the same work, on the same machine, so `lrcast bench --arch mlp --stack ...` has two
    points of comparison:

      loop        K separate nn.Module MLPs, each with its own torch.optim.SGD, trained one after
                  another (forward, cross-entropy, backward, step): what a plain PyTorch corpus
                  script does.
      vectorized  the same K MLPs as stacked weights [K, d_in, d_out], trained by hand with
                  torch.baddbmm (forward) and autograd (backward), one cross-entropy per member
                  summed, and an SGD-with-momentum update on the stacked tensors with a per-member
                  learning rate [K, 1, 1]: the scheme lrcast uses.

    It also measures the machine's sgemm peak (torch.mm of 1024 x 1024 float32), to express both
    as a fraction of it.

    Model: MNIST-1D MLP 40-100-100-10 (ReLU), batch 128, random inputs and labels (10 classes),
    SGD lr 0.05, momentum 0.9, weight decay 5e-4. float32.

Usage
    python benches/pytorch_stacked_reference.py [--threads 2] [--ks 1,2,4,...] [--steps 50]
        [--device cpu|cuda]

Output: one JSON object per line: {"scheme", "members", "ms_per_step", "model_steps_per_second",
"gflops"} and one {"scheme": "sgemm_peak", "gflops"}.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = [40, 100, 100, 10]
BATCH = 128
LR, MOMENTUM, WD = 0.05, 0.9, 5e-4


def flops_per_model_step():
    """Forward + backward (3x the forward's multiply-adds, 2 flops each)."""
    macs = sum(a * b for a, b in zip(WIDTHS[:-1], WIDTHS[1:])) * BATCH
    return 3 * 2 * macs


DEVICE = torch.device("cpu")


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def time_it(step, steps, repeats=3, warmup=10):
    for _ in range(warmup):
        step()
    best = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        best.append((time.perf_counter() - start) * 1e3 / steps)
    best.sort()
    return best[len(best) // 2]


def loop_scheme(k, x, y, steps):
    models = [
        nn.Sequential(
            nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
        ).to(DEVICE)
        for _ in range(k)
    ]
    opts = [torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD) for m in models]

    def step():
        for m, o in zip(models, opts):
            o.zero_grad()
            F.cross_entropy(m(x), y).backward()
            o.step()

    return time_it(step, max(1, steps // k))


def vectorized_scheme(k, x, y, steps):
    params = []
    for d_in, d_out in zip(WIDTHS[:-1], WIDTHS[1:]):
        bound = 1 / d_in**0.5
        w = (torch.rand(k, d_in, d_out, device=DEVICE) * 2 - 1) * bound
        b = (torch.rand(k, 1, d_out, device=DEVICE) * 2 - 1) * bound
        params += [w.requires_grad_(), b.requires_grad_()]
    velocity = [torch.zeros_like(p) for p in params]
    lr = torch.full((k, 1, 1), LR, device=DEVICE)
    xs = x.unsqueeze(0).expand(k, -1, -1)

    def step():
        h = xs
        for i in range(0, len(params), 2):
            h = torch.baddbmm(params[i + 1], h, params[i])
            if i + 2 < len(params):
                h = torch.relu(h)
        # One mean cross-entropy per member, summed: each member's gradient is its own.
        loss = F.cross_entropy(h.reshape(k * BATCH, 10), y.repeat(k), reduction="sum") / BATCH
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g, v in zip(params, grads, velocity):
                g = g.add(p, alpha=WD)
                v.mul_(MOMENTUM).add_(g)
                p.sub_(lr * v)

    return time_it(step, max(5, steps // max(1, k // 8)))


def sgemm_peak():
    a, b = torch.randn(1024, 1024, device=DEVICE), torch.randn(1024, 1024, device=DEVICE)
    ms = time_it(lambda: torch.mm(a, b), 20)
    return 2 * 1024**3 / (ms * 1e-3) / 1e9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ks", default="1,2,4,8,16,32,64,128,256")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--schemes", default="loop,vectorized")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(BATCH, 40, device=DEVICE)
    y = torch.randint(0, 10, (BATCH,), device=DEVICE)
    print(json.dumps({"scheme": "sgemm_peak", "gflops": sgemm_peak(), "torch": torch.__version__}))
    for scheme in args.schemes.split(","):
        run = {"loop": loop_scheme, "vectorized": vectorized_scheme}[scheme]
        for k in [int(v) for v in args.ks.split(",")]:
            ms = run(k, x, y, args.steps)
            # The loop's ms covers one step of every model.
            rate = k * 1e3 / ms
            print(json.dumps({
                "scheme": scheme,
                "members": k,
                "ms_per_step": ms,
                "model_steps_per_second": rate,
                "gflops": rate * flops_per_model_step() / 1e9,
            }), flush=True)


if __name__ == "__main__":
    main()
