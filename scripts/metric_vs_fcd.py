#!/usr/bin/env python3
"""Does a training statistic track sample quality? From a run record:

    python3 scripts/metric_vs_fcd.py docs/runs/wgan-fmnist-s0 [--metric wasserstein] [--svg FILE.svg]
    python3 scripts/metric_vs_fcd.py docs/runs/began-... --metric m_global

WGAN's claim (Arjovsky et al.) is that the critic's Wasserstein estimate falls as the samples
improve; BEGAN's (Berthelot et al.) that its convergence measure M_global does. For each
snapshot (every --sample-every iterations) the script pairs the FCD of 500 samples (`fcd500`)
with the mean of the statistic (logged every --log-every iterations, or every step) over the
iterations since the previous snapshot, prints the pairs as a Markdown table and Spearman's rank
correlation between them (positive when the statistic falls with FCD). With --svg it also
draws the pairs: the statistic (x) against FCD (y), each point labelled with its iteration.
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


LABELS = {"wasserstein": ("WGAN", "critic's Wasserstein estimate"), "m_global": ("BEGAN", "convergence measure M_global")}


def svg_scatter(rows, rho, path, metric):
    """A self-contained SVG: the statistic (x) against FCD (y), points labelled by iteration."""
    model, label = LABELS.get(metric, ("", metric))
    W, H, L, R, T, B = 560, 400, 70, 20, 30, 50
    xs, ys = [r[1] for r in rows], [r[2] for r in rows]
    x0, x1 = min(xs), max(xs)
    y0, y1 = 0.0, max(ys) * 1.05
    pad = (x1 - x0) * 0.08 or 0.01
    x0, x1 = x0 - pad, x1 + pad
    X = lambda v: L + (v - x0) / (x1 - x0) * (W - L - R)
    Y = lambda v: H - B - (v - y0) / (y1 - y0) * (H - T - B)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for k in range(5):
        xv, yv = x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4
        out.append(f'<text x="{X(xv):.1f}" y="{H - B + 16}" text-anchor="middle">{xv:.3f}</text>')
        out.append(f'<text x="{L - 6}" y="{Y(yv) + 4:.1f}" text-anchor="end">{yv:.0f}</text>')
        out.append(f'<line x1="{L}" y1="{Y(yv):.1f}" x2="{W - R}" y2="{Y(yv):.1f}" stroke="#ddd"/>')
    pts = " ".join(f"{X(r[1]):.1f},{Y(r[2]):.1f}" for r in rows)
    out.append(f'<polyline points="{pts}" fill="none" stroke="#999" stroke-dasharray="4 3"/>')
    for step, est, fcd in rows:
        out.append(f'<circle cx="{X(est):.1f}" cy="{Y(fcd):.1f}" r="4" fill="#c0392b"/>')
        out.append(f'<text x="{X(est) + 6:.1f}" y="{Y(fcd) - 6:.1f}" fill="#555">{step}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">{label} '
               '(mean since the previous snapshot)</text>')
    out.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">'
               'FCD of 500 samples</text>')
    out.append(f'<text x="{L + 8}" y="{T - 10}">{model + ": " if model else ""}iterations labelled; '
               f'Spearman rank correlation {rho:.2f}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    args = sys.argv[1:]
    opts = {"--svg": None, "--metric": "wasserstein"}
    for flag in opts:
        if flag in args:
            i = args.index(flag)
            opts[flag] = args[i + 1]
            del args[i:i + 2]
    svg, metric = opts["--svg"], opts["--metric"]
    run = args[0] if args else "docs/runs/wgan-fmnist-s0"
    lines = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if l.strip()]
    w = [(r["step"], r[metric]) for r in lines if metric in r]
    f = [(r["step"], r["fcd500"]) for r in lines if "fcd500" in r]
    rows, prev = [], 0
    for step, fcd in sorted(dict(f).items()):  # a snapshot logged twice counts once
        window = [v for s, v in w if prev < s <= step]
        if window:
            rows.append((step, sum(window) / len(window), fcd))
        prev = step
    name = LABELS.get(metric, ("", metric))[1]
    print(f"| iteration | {name} (mean since the previous snapshot) | FCD (500 samples) |")
    print("|---|---|---|")
    for step, est, fcd in rows:
        print(f"| {step} | {est:.4f} | {fcd:.1f} |")
    if len(rows) >= 3:
        rho = spearman([r[1] for r in rows], [r[2] for r in rows])
        print(f"\nSpearman rank correlation between the statistic and FCD over {len(rows)} snapshots: {rho:.3f}")
        if svg:
            svg_scatter(rows, rho, svg, metric)
            print(f"plot: {svg}")


if __name__ == "__main__":
    main()
