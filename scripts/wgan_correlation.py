#!/usr/bin/env python3
"""WGAN's claim, from a run record: does the critic's Wasserstein estimate track sample quality?

    python3 scripts/wgan_correlation.py docs/runs/wgan-fmnist-s0

For each snapshot (every --sample-every iterations) it pairs the FCD of 500 samples (`fcd500`)
with the mean Wasserstein estimate (`wasserstein`, logged every --log-every iterations) over the
iterations since the previous snapshot, prints the pairs as a Markdown table and Spearman's rank
correlation between them (Arjovsky et al.: the estimate falls as the samples improve, so the
correlation should be positive).
"""
import json
import sys


def ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1  # average rank of ties
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb)


def main():
    run = sys.argv[1] if len(sys.argv) > 1 else "docs/runs/wgan-fmnist-s0"
    lines = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if l.strip()]
    w = [(r["step"], r["wasserstein"]) for r in lines if "wasserstein" in r]
    f = [(r["step"], r["fcd500"]) for r in lines if "fcd500" in r]
    rows, prev = [], 0
    for step, fcd in f:
        window = [v for s, v in w if prev < s <= step]
        if window:
            rows.append((step, sum(window) / len(window), fcd))
        prev = step
    print("| iteration | Wasserstein estimate (mean since the previous snapshot) | FCD (500 samples) |")
    print("|---|---|---|")
    for step, est, fcd in rows:
        print(f"| {step} | {est:.4f} | {fcd:.1f} |")
    if len(rows) >= 3:
        rho = spearman([r[1] for r in rows], [r[2] for r in rows])
        print(f"\nSpearman rank correlation between the estimate and FCD over {len(rows)} snapshots: {rho:.3f}")


if __name__ == "__main__":
    main()
