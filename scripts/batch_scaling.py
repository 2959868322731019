#!/usr/bin/env python3
"""How the DCGAN training step's cost grows with the batch (16 to 256), duel and libtorch side
by side: docs/performance.md's "How cost grows with the batch" table and
docs/images/dcgan-batch-scaling.png, built from the record docs/runs/bench-batch-scaling/.

  python3 scripts/batch_scaling.py --run      # run duel_bench's DCGAN step rows, keep the output
                                              # as the record, then build the table and plot
  python3 scripts/batch_scaling.py            # rebuild the table and plot from the record

--run times `build/bench/duel_bench --filter "step dcgan" --threads 1 --clock cpu --stat min`
(one thread, CPU time, fastest of --reps), with libtorch in the same process; BENCH overrides
the binary, and the environment (OPENBLAS_CORETYPE, ...) is passed through and recorded.
The plot needs matplotlib (pip install matplotlib).
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORD = os.path.join(ROOT, "docs", "runs", "bench-batch-scaling")
DOC = os.path.join(ROOT, "docs", "performance.md")
PNG = os.path.join(ROOT, "docs", "images", "dcgan-batch-scaling.png")
BEGIN = "<!-- batch-scaling-table: begin (scripts/batch_scaling.py) -->"
END = "<!-- batch-scaling-table: end -->"


def run(reps):
    bench = os.environ.get("BENCH", os.path.join(ROOT, "build", "bench", "duel_bench"))
    cmd = [bench, "--filter", "step dcgan", "--threads", "1", "--clock", "cpu", "--stat", "min", "--reps", str(reps),
           "--markdown"]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    os.makedirs(RECORD, exist_ok=True)
    shown = " ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "DUEL_GEMM") if k in os.environ)
    with open(os.path.join(RECORD, "command.txt"), "w") as f:
        f.write(f"{shown + ' ' if shown else ''}OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 " +
                " ".join(c if " " not in c else f'"{c}"' for c in cmd).replace(bench, "build/bench/duel_bench") + "\n")
    with open(os.path.join(RECORD, "output.txt"), "w") as f:
        f.write(out)


def parse():
    rows = {}
    text = open(os.path.join(RECORD, "output.txt")).read()
    for line in text.splitlines():
        c = [x.strip() for x in line.split("|")]
        if len(c) > 9 and c[1].startswith("step dcgan"):
            b = int(re.search(r"batch (\d+)", c[2]).group(1))
            rows[b] = (float(c[3]), float(c[7]))  # duel ms, torch ms
    if not rows:
        sys.exit(f"batch_scaling.py: no 'step dcgan' rows in {RECORD}/output.txt")
    machine = next((l for l in text.splitlines() if l.startswith("CPU:")), "")
    return dict(sorted(rows.items())), machine


def table(rows, machine):
    out = [f"Record `docs/runs/bench-batch-scaling` ({machine[5:].split(',')[0].strip()}; command in its "
           "`command.txt`). One thread, CPU time, fastest of the repetitions:", "",
           "| batch | duel ms | libtorch ms | duel / libtorch | duel ms per sample | libtorch ms per sample |",
           "|--:|--:|--:|--:|--:|--:|"]
    for b, (d, t) in rows.items():
        out.append(f"| {b} | {d:.1f} | {t:.1f} | {d / t:.2f} | {d / b:.2f} | {t / b:.2f} |")
    out += ["", "![DCGAN step time against batch size](images/dcgan-batch-scaling.png)", ""]
    return "\n".join(out)


def plot(rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("batch_scaling.py: no matplotlib (pip install matplotlib); the plot is not redrawn", file=sys.stderr)
        return
    b = list(rows)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
    ax[0].plot(b, [rows[k][0] for k in b], "o-", label="duel")
    ax[0].plot(b, [rows[k][1] for k in b], "s--", label="libtorch")
    ax[0].set(xscale="log", yscale="log", xlabel="batch", ylabel="ms per step", title="DCGAN step, 1 thread")
    ax[0].set_xticks(b, [str(k) for k in b])
    ax[1].plot(b, [rows[k][0] / k for k in b], "o-", label="duel")
    ax[1].plot(b, [rows[k][1] / k for k in b], "s--", label="libtorch")
    ax[1].set(xscale="log", xlabel="batch", ylabel="ms per sample", title="per sample")
    ax[1].set_xticks(b, [str(k) for k in b])
    for a in ax:
        a.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        a.grid(True, alpha=0.3)
        a.legend()
    fig.tight_layout()
    fig.savefig(PNG, dpi=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="store_true", help="run the bench first (replaces the record)")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    if args.run:
        run(args.reps)
    rows, machine = parse()
    doc = open(DOC).read()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"batch_scaling.py: {DOC} has no {BEGIN} ... {END} markers")
    i, j = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    with open(DOC, "w") as f:
        f.write(doc[:i] + "\n" + table(rows, machine) + doc[j:])
    plot(rows)
    print(f"updated {DOC} and {PNG}")


if __name__ == "__main__":
    main()
