#!/usr/bin/env python3
"""Side by side: lrcast's and PyTorch's final test top-1 on experiments/peer_check.toml.

Purpose
    A check only (never a dependency of lrcast). Reads the lrcast corpus written by
    `lrcast generate experiments/peer_check.toml --root ROOT` and the JSON lines written by
    `benches/pytorch_tasks_reference.py --json-out FILE`, matches runs by task, architecture,
    optimizer and seed, and prints the mean top-1 of each combination over the seeds for both,
    their difference, and the mean absolute difference (the bar is 2 points).

How to run
    cargo run --release -- generate experiments/peer_check.toml --root /tmp/peer
    /work/torchenv/bin/python benches/pytorch_tasks_reference.py --json-out /tmp/torch.jsonl
    /work/torchenv/bin/python benches/compare_peer_check.py /tmp/peer /tmp/torch.jsonl
    (needs pyarrow: pip install pyarrow)
"""

import glob
import json
import sys
from collections import defaultdict

import pyarrow.parquet as pq


def main() -> None:
    root, torch_jsonl = sys.argv[1], sys.argv[2]
    ours = defaultdict(list)
    for path in glob.glob(f"{root}/datasets/corpus/peer_check/runs/*.parquet"):
        row = pq.read_table(path).to_pylist()[0]
        ours[(row["task"], row["arch"], row["optimizer"])].append(row["top1"])
    theirs = defaultdict(list)
    with open(torch_jsonl) as f:
        for line in f:
            run = json.loads(line)
            theirs[(run["task"], run["arch"], run["optimizer"])].append(run["top1"])
    diffs = []
    print(f"{'task':<11} {'arch':<36} {'opt':<6} {'lrcast':>7} {'torch':>7} {'diff':>7}")
    for key in sorted(set(ours) & set(theirs)):
        a = sum(ours[key]) / len(ours[key])
        b = sum(theirs[key]) / len(theirs[key])
        diffs.append(a - b)
        print(f"{key[0]:<11} {key[1]:<36} {key[2]:<6} {a:7.4f} {b:7.4f} {a - b:+7.4f}")
    mean_abs = sum(abs(d) for d in diffs) / max(len(diffs), 1)
    print(f"mean |diff| over {len(diffs)} combinations: {mean_abs:.4f}")


if __name__ == "__main__":
    main()
