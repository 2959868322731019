#!/usr/bin/env python3
"""The first iterations of two runs side by side: duel's metrics.jsonl against the PyTorch
reference's (scripts/reference/wgan_gp_torch.py), at the iterations both logged.

    python3 scripts/reference/compare_first_iterations.py DUEL_METRICS TORCH_METRICS [KEY ...]

Prints a Markdown table of each KEY (default: wasserstein, gp, loss_G) at iterations 1, 5, 10,
25, 50, 75, 100 (those present in both) and the mean over iterations 1-100.
"""
import json
import sys


def load(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line:
            r = json.loads(line)
            out.setdefault(int(r["step"]), {}).update(r)
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    keys = sys.argv[3:] or ["wasserstein", "gp", "loss_G"]
    steps = [s for s in (1, 5, 10, 25, 50, 75, 100) if s in a and s in b]
    print("| iteration | " + " | ".join(f"{k} duel | {k} PyTorch" for k in keys) + " |")
    print("|---|" + "---|---|" * len(keys))
    for s in steps:
        print(f"| {s} | " + " | ".join(f"{a[s].get(k, float('nan')):.3g} | {b[s].get(k, float('nan')):.3g}" for k in keys) + " |")
    common = [s for s in range(1, 101) if s in a and s in b]
    if common:
        means = []
        for k in keys:
            va = [a[s][k] for s in common if k in a[s]]
            vb = [b[s][k] for s in common if k in b[s]]
            means.append(f"{sum(va) / len(va):.3g} | {sum(vb) / len(vb):.3g}" if va and vb else "- | -")
        print(f"| mean 1-{common[-1]} | " + " | ".join(means) + " |")


if __name__ == "__main__":
    main()
