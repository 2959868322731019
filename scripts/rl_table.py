#!/usr/bin/env python3
"""Summarise `duel train dqn` runs as the markdown tables in docs/rl.md.

Usage: scripts/rl_table.py RUN_DIR [RUN_DIR ...] [--q-from FRAME] [--at FRAME]

Each RUN_DIR is what `duel train dqn --out RUN_DIR` wrote (config.txt, metrics.jsonl). If
RUN_DIR/eval.txt exists it is taken to be the output of `duel eval RUN_DIR --n 100` and its
"last network" line gives the greedy score and the 100-episode Q(s0,a0) vs discounted return.

Printed: one row per run, then one row per (game, variant) with the mean and the sample
standard deviation over seeds. Measures:
  avg100   mean training return of the last 100 episodes at the final frame (the MinAtar
           protocol: epsilon 0.1, sticky actions)
  greedy   `duel eval --n 100`, last network (epsilon 0 unless the run's eval epsilon says otherwise)
  eval     mean return of the periodic greedy evaluations (10 episodes each) at frames
           >= --q-from (default 500000)
  Q / G    predicted Q(s0, a0) against the realised discounted return from s0, averaged over the
           same periodic evaluations, and their ratio
--at FRAME reads every run as it stood at that frame (avg100 then; evaluations up to it), to
compare runs of different lengths at the same frame; greedy and the 100-episode Q / G
(which need the final checkpoint) are shown only for runs that ended there.
Only the standard library is used.
"""
import json
import math
import os
import re
import sys


def read_config(d):
    cfg = {}
    with open(os.path.join(d, "config.txt")) as f:
        for line in f:
            if "=" in line:
                k, v = line.split("=", 1)
                cfg[k.strip()] = v.strip()
    return cfg


def read_run(d, q_from, at=None):
    cfg = read_config(d)
    frame, avg100, qs, gs, evs = 0, None, [], [], []
    with open(os.path.join(d, "metrics.jsonl")) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            m = json.loads(line)
            if at is not None and m.get("step", 0) > at:
                continue
            frame = max(frame, int(m.get("step", 0)))
            if "return_avg100" in m:
                avg100 = m["return_avg100"]
            if "eval_q_s0" in m and m["step"] >= q_from:
                qs.append(m["eval_q_s0"])
                gs.append(m["eval_g_s0"])
                evs.append(m["eval_return"])
    run = {
        "dir": d,
        "env": cfg.get("env", "?"),
        "variant": cfg.get("variant", "?"),
        "seed": int(cfg.get("seed", "0")),
        "frame": frame,
        "avg100": avg100,
        "q": sum(qs) / len(qs) if qs else None,
        "g": sum(gs) / len(gs) if gs else None,
        "eval": sum(evs) / len(evs) if evs else None,
        "greedy": None,
        "greedy_std": None,
        "q100": None,
        "g100": None,
    }
    ev = os.path.join(d, "eval.txt")
    final = frame == int(cfg.get("steps", "0") or 0) or at is None
    if os.path.exists(ev) and final:
        with open(ev) as f:
            for line in f:
                m = re.match(r"last network: return ([-\d.]+) \+- ([-\d.]+) .*Q\(s0,a0\) ([-\d.]+) vs discounted return ([-\d.]+)",
                             line.strip())
                if m:
                    run["greedy"], run["greedy_std"], run["q100"], run["g100"] = map(float, m.groups())
    return run


def mean_std(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, s


def fmt(x, nd=1):
    return "–" if x is None else f"{x:.{nd}f}"


def main(argv):
    q_from = 500000
    at = None
    dirs = []
    i = 0
    while i < len(argv):
        if argv[i] == "--q-from":
            q_from = int(argv[i + 1])
            i += 2
        elif argv[i] == "--at":
            at = int(argv[i + 1])
            i += 2
        else:
            dirs.append(argv[i])
            i += 1
    if not dirs:
        print(__doc__)
        return 2
    runs = sorted((read_run(d, q_from, at) for d in dirs), key=lambda r: (r["env"], r["variant"], r["seed"]))

    w = f"evals {q_from // 1000}k–{(at if at is not None else max(r['frame'] for r in runs)) // 1000}k"
    print(f"| game | variant | seed | frames | avg100 | greedy (100 ep.) | eval ({w}) | Q / G ({w}) | Q / G (100 ep.) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        greedy = "–" if r["greedy"] is None else f"{r['greedy']:.1f} ± {r['greedy_std']:.1f}"
        qg = "–" if r["q"] is None else f"{r['q']:.2f} / {r['g']:.2f}"
        qg100 = "–" if r["q100"] is None else f"{r['q100']:.2f} / {r['g100']:.2f}"
        print(f"| {r['env']} | {r['variant']} | {r['seed']} | {r['frame']:,} | {fmt(r['avg100'], 2)} | {greedy} | {fmt(r['eval'])} | {qg} | {qg100} |")

    print()
    print("| game | variant | seeds | avg100: mean ± sd (min–max) | greedy: mean ± sd | eval: mean ± sd | Q / G: mean ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    groups = {}
    for r in runs:
        groups.setdefault((r["env"], r["variant"]), []).append(r)
    for (env, variant), rs in groups.items():
        a_m, a_s = mean_std([r["avg100"] for r in rs])
        g_m, g_s = mean_std([r["greedy"] for r in rs])
        e_m, e_s = mean_std([r["eval"] for r in rs])
        ratios = [r["q"] / r["g"] for r in rs if r["q"] is not None and r["g"]]
        r_m, _ = mean_std(ratios)
        avgs = [r["avg100"] for r in rs if r["avg100"] is not None]
        rng = f" ({min(avgs):.1f}–{max(avgs):.1f})" if len(avgs) > 1 else ""
        greedy = "–" if g_m is None else f"{g_m:.1f} ± {g_s:.1f}"
        ev = "–" if e_m is None else f"{e_m:.1f} ± {e_s:.1f}"
        print(f"| {env} | {variant} | {len(rs)} | {fmt(a_m, 2)} ± {fmt(a_s, 2)}{rng} | {greedy} | {ev} | {fmt(r_m, 2)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
