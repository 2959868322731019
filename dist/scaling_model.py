#!/usr/bin/env python3
"""The scaling estimate of docs/distributed.md, from dist/measure.sh's table.

    bash dist/measure.sh > m.tsv && python3 dist/scaling_model.py m.tsv

Model (weak scaling: every rank keeps its batch, N ranks train a global batch N times larger):

    T(N)    = T_c + T_comm(N)                       no overlap of communication with compute
    T_comm  = C * 2 * ceil(log2 N) * alpha          latency: C collectives per step, each a tree or
                                                    recursive doubling of depth log2 N, both ways
            + 2 (N - 1) / N * S / B                 bandwidth: a ring all-reduce of S bytes sends
                                                    and receives 2 (N - 1) / N * S per rank
    E(N)    = T_c / T(N)                            scaling efficiency
    T_c,90  = 9 * T_comm(N)                         the compute time per step that keeps E >= 90%

S (bytes all-reduced per step) and C (collectives per step) are measured (2 ranks); T_c is the
measured 1-rank step time on the CPU of docs/distributed.md, so E is what that CPU step would
get; T_c,90 says how slow a GPU step may be at most for 90%.
"""
import math
import sys

LINKS = {
    "25 Gb/s Ethernet": (25e9 / 8, 25e-6),   # bytes/s, alpha (TCP latency per message)
    "400 Gb/s InfiniBand": (400e9 / 8, 3e-6),
}
RANKS = [8, 64, 512]


def t_comm(n, s_bytes, collectives, bandwidth, alpha):
    return collectives * 2 * math.ceil(math.log2(n)) * alpha + 2 * (n - 1) / n * s_bytes / bandwidth


def main(path):
    rows = {}
    for line in open(path):
        f = line.split()
        if not f or f[0] == "model" or "?" in f:
            continue
        model, ranks, mb, coll, ms = f[0], int(f[1]), float(f[2]), float(f[3]), float(f[4])
        rows.setdefault(model, {})[ranks] = (mb * 1e6, coll, ms / 1e3)
    print("Measured (this machine, rank 0):\n")
    print("| model | S: MB all-reduced per step | C: collectives per step | T 1 rank (ms) | T 2 ranks (ms) | T1 / T2 |")
    print("|---|---:|---:|---:|---:|---:|")
    for model, r in rows.items():
        if 1 in r and 2 in r:
            s_bytes, coll, t2 = r[2]
            t1 = r[1][2]
            print(f"| {model} | {s_bytes / 1e6:.3f} | {coll:.2f} | {1e3 * t1:.1f} | {1e3 * t2:.1f} | {t1 / t2:.2f} |")
    print("\nEstimated T_comm(N) in ms (E = T_c / (T_c + T_comm); E >= 90% needs T_c >= 9 T_comm), and E(512) "
          "if a step computed as fast as T 1 rank above:\n")
    short = {name: ("Eth 25G" if "Ethernet" in name else "IB 400G") for name in LINKS}
    head = [f"{short[name]}, N={n}" for name in LINKS for n in RANKS]
    print("| model | " + " | ".join(head) + " | " + " | ".join(f"E(512), {short[n]}" for n in LINKS) + " |")
    print("|---|" + "---:|" * (len(head) + len(LINKS)))
    for model, r in rows.items():
        if 1 not in r or 2 not in r:
            continue
        s_bytes, coll, _ = r[2]
        t_c = r[1][2]
        cells = [f"{1e3 * t_comm(n, s_bytes, coll, b, a):.2f}" for b, a in LINKS.values() for n in RANKS]
        eff = [f"{100 * t_c / (t_c + t_comm(512, s_bytes, coll, b, a)):.0f}%" for b, a in LINKS.values()]
        print(f"| {model} | " + " | ".join(cells) + " | " + " | ".join(eff) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdin")
