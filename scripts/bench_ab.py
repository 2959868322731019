#!/usr/bin/env python3
"""Before/after tables from a benchmark record that ran duel_bench several times with different
settings (docs/runs/bench-*/output.txt, written by the record's run.sh).

Each run in the file starts with a `$ ...` command line and prints its rows as Markdown
(`duel_bench --markdown`). Runs are grouped by their setting (the VAR=value words of the
command line, e.g. DUEL_IMPL=cpu:conv2d=im2col, plus the thread count); for each row the
median over a group's runs is taken, of duel's time and of the ratio duel / libtorch measured
in the same run. Prints one Markdown table per thread count: the row, each setting's median
time and ratio, and the time of the last setting against the first.

  python3 scripts/bench_ab.py docs/runs/bench-implicit-conv/output.txt [--label DUEL_IMPL]
"""
import argparse
import re
import statistics
from collections import OrderedDict


def parse(path, label_var):
    runs = []  # (label, threads, {row: (ms, ratio)})
    cur = None
    for line in open(path):
        if line.startswith("$ "):
            words = line[2:].split()
            env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
            label = env.get(label_var, "default")
            m = re.search(r"--threads (\d+)", line)
            cur = (label.split("=")[-1], int(m.group(1)) if m else 1, OrderedDict())
            runs.append(cur)
            continue
        if cur is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 9 or cells[0] in ("op", "") or set(cells[0]) <= set("-:"):
            continue
        try:
            ms, ratio = float(cells[2]), float(cells[8])
        except ValueError:
            continue
        cur[2][f"{cells[0]} {cells[1]}"] = (ms, ratio)
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output")
    ap.add_argument("--label", default="DUEL_IMPL", help="the variable whose value names a setting")
    args = ap.parse_args()
    runs = parse(args.output, args.label)
    for threads in sorted({t for _, t, _ in runs}):
        group = OrderedDict()
        for label, t, rows in runs:
            if t == threads:
                group.setdefault(label, []).append(rows)
        labels = list(group)
        names = list(OrderedDict.fromkeys(r for label in labels for rows in group[label] for r in rows))
        print(f"\n{threads} thread(s); median of {', '.join(f'{len(group[l])} {l}' for l in labels)} run(s)\n")
        head = " | ".join(f"{l} ms | {l} / torch" for l in labels)
        print(f"| row | {head} | {labels[-1]} / {labels[0]} |")
        print("|---" * (2 + 2 * len(labels)) + "|")
        for name in names:
            cells, med = [], {}
            for l in labels:
                vals = [rows[name] for rows in group[l] if name in rows]
                if not vals:
                    cells += ["", ""]
                    continue
                med[l] = statistics.median(v[0] for v in vals)
                cells += [f"{med[l]:.3g}", f"{statistics.median(v[1] for v in vals):.2f}"]
            change = f"{med[labels[-1]] / med[labels[0]]:.2f}" if len(med) == len(labels) and len(labels) > 1 else ""
            print(f"| {name} | {' | '.join(cells)} | {change} |")


if __name__ == "__main__":
    main()
