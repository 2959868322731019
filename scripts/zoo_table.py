#!/usr/bin/env python3
"""The zoo's results table, built from the committed run records in docs/runs/<name>/
(command.txt, config.txt, metrics.jsonl, eval.txt; written by scripts/record_run.sh).

    python3 scripts/zoo_table.py            # prints the Markdown table
    python3 scripts/zoo_table.py --update   # rewrites the tables between the markers in docs/results.md

Tables: the zoo's runs (every record but the comparison's), and the same-budget comparison
(records named cmp-<steps>-<model>-s<seed>, written by scripts/compare.sh) with Lucic et al.'s values.
Runs of one model and configuration that differ only in --seed are grouped: the table shows
the mean and, with several seeds, the spread (sample standard deviation) and the seed count.
"""
import json
import os
import re
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = os.path.join(ROOT, "docs", "runs")
RESULTS = os.path.join(ROOT, "docs", "results.md")
BEGIN, END = "<!-- zoo-table: begin (scripts/zoo_table.py --update) -->", "<!-- zoo-table: end -->"
BD_BEGIN, BD_END = "<!-- birthday-table: begin (scripts/zoo_table.py --update) -->", "<!-- birthday-table: end -->"
CLS_BEGIN, CLS_END = "<!-- class-table: begin (scripts/zoo_table.py --update) -->", "<!-- class-table: end -->"
SSL_BEGIN, SSL_END = "<!-- ssl-table: begin (scripts/zoo_table.py --update) -->", "<!-- ssl-table: end -->"
ABL_BEGIN, ABL_END = "<!-- ablation-table: begin (scripts/zoo_table.py --update) -->", "<!-- ablation-table: end -->"
PAIR_BEGIN, PAIR_END = "<!-- ssl-paired-table: begin (scripts/zoo_table.py --update) -->", "<!-- ssl-paired-table: end -->"
TXT_BEGIN, TXT_END = "<!-- text-table: begin (scripts/zoo_table.py --update) -->", "<!-- text-table: end -->"
SEQ_BEGIN, SEQ_END = "<!-- seqgan-table: begin (scripts/zoo_table.py --update) -->", "<!-- seqgan-table: end -->"
CHESS_BEGIN, CHESS_END = "<!-- chess-table: begin (scripts/zoo_table.py --update) -->", "<!-- chess-table: end -->"
SPEECH_BEGIN, SPEECH_END = "<!-- speech-table: begin (scripts/zoo_table.py --update) -->", "<!-- speech-table: end -->"
CMP_BEGIN, CMP_END = "<!-- compare-table: begin (scripts/zoo_table.py --update) -->", "<!-- compare-table: end -->"
# Lucic et al. 2018, "Are GANs created equal?", Fashion-MNIST FID (Inception features; lower is
# better), as quoted in the issue; `dcgan` is their NS GAN (non-saturating loss).
LUCIC_FID = {"wgan": 21.5, "began": 22.9, "wgan-gp": 24.5, "dcgan": 26.5, "vae": 58.7}
# what each row's model is, for the comparison table
LOSS = {"gan": "non-saturating, MLP G and D", "dcgan": "non-saturating (NS GAN)", "wgan": "Wasserstein, weight clipping",
        "wgan-gp": "Wasserstein, gradient penalty", "lsgan-qi": "loss-sensitive (Qi)",
        "ebgan": "energy: autoencoder, margin", "began": "energy: autoencoder, equilibrium k_t",
        "vae": "ELBO (no adversary)"}


def read(path):
    with open(path) as f:
        return f.read()


def record(name):
    d = os.path.join(RUNS, name)
    config = {}
    for line in read(os.path.join(d, "config.txt")).splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            config[k] = v
    metrics = [json.loads(l) for l in read(os.path.join(d, "metrics.jsonl")).splitlines() if l.strip()]
    ev = read(os.path.join(d, "eval.txt"))
    out = {"name": name, "config": config, "command": read(os.path.join(d, "command.txt")).strip()}
    m = re.search(r"^FCD\s+([-\d.]+)\s+([-\d.]+)", ev, re.M)
    if m:
        out["fcd"], out["fcd_real"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"^classifier score\s+([-\d.]+)\s+([-\d.]+)", ev, re.M)
    if m:
        out["cs"], out["cs_real"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"^test ELBO\s+([-\d.]+)", ev, re.M)
    if m:
        out["elbo"] = float(m.group(1))
    m = re.search(r"^test log p\(x\) >=\s+([-\d.]+).*k = (\d+)", ev, re.M)
    if m:
        out["iw"], out["iw_k"] = float(m.group(1)), int(m.group(2))
    m = re.search(r"^modes_covered\s+([\d.]+)\s*$", ev, re.M)  # toy mixtures: the generated samples' line
    if m:
        out["modes"] = float(m.group(1))
    m = re.search(r"^high_quality\s+([\d.]+)\s*$", ev, re.M)
    if m:
        out["high_quality"] = 100 * float(m.group(1))
    m = re.search(r"^class entropy H\(y\)\s+([-\d.]+)\s+([-\d.]+)", ev, re.M)
    if m:
        out["h_y"], out["h_y_real"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"^mean H\(y\|x\)\s+([-\d.]+)\s+([-\d.]+)", ev, re.M)
    if m:
        out["h_yx"], out["h_yx_real"] = float(m.group(1)), float(m.group(2))
    # AC-GAN: the per-class table's "all" row (judge accuracy on generated / real images, mean per-class FCD)
    m = re.search(r"^all\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+\(FCD: mean over classes\)", ev, re.M)
    if m:
        out["class_acc"], out["class_acc_real"], out["class_fcd"] = (float(m.group(i)) for i in (1, 2, 3))
    # the semi-supervised protocol: error on the 10000 test images
    m = re.search(r"^test error\s+([\d.]+) %", ev, re.M)
    if m:
        out["test_error"] = float(m.group(1))
    # InfoGAN: the categorical code read as a classifier
    m = re.search(r"^accuracy\s+([-\d.]+)\s+\(error", ev, re.M)
    if m:
        out["code_acc"] = 100 * float(m.group(1))
    # SeqGAN: NLL-oracle of 10000 samples of G, and the curve logged at the snapshots
    m = re.search(r"^NLL-oracle\s+([\d.]+)", ev, re.M)
    if m:
        out["nll_oracle"] = float(m.group(1))
        out["nll_curve"] = {r["step"]: r["nll_oracle"] for r in metrics if "nll_oracle" in r}
        for key, label in (("nll_test", "NLL-test"), ("entropy", "entropy of G")):
            m = re.search(r"^" + label + r"\s+([\d.]+)", ev, re.M)
            if m:
                out[key] = float(m.group(1))
    # text models: bits per character on the held-out splits
    for split, key in (("validation", "val_bpc"), ("test", "test_bpc")):
        m = re.search(rf"^{split}\s+([\d.]+) bpc", ev, re.M)
        if m:
            out[key] = float(m.group(1))
    # chess-style: move match on the held-out games
    for label, key in (("move match \\(top 1\\) with the target", "match1"), ("move match \\(top 3\\) with the target", "match3"),
                       ("NLL of the target's moves \\(nats\\)", "move_nll"),
                       ("move match \\(top 1\\) with the other player", "match_other"),
                       ("baseline: the other player's moves", "base_other"),
                       ("baseline: a uniformly random legal move", "base_uniform")):
        m = re.search(rf"^{label}\s+([\d.]+)", ev, re.M)
        if m:
            out[key] = float(m.group(1))
    m = re.search(r"^illegal moves proposed.*?(\d+) of (\d+)", ev, re.M)
    if m:
        out["illegal"], out["proposed"] = int(m.group(1)), int(m.group(2))
    cpath = os.path.join(d, "chess_check.txt")  # scripts/chess_check.py on the run's proposals
    if os.path.isfile(cpath):
        m = re.search(r"(\d+) of (\d+) proposed moves are legal", read(cpath))
        if m:
            out["checked_legal"], out["checked"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"step (\d+),", ev)
    if m:
        out["eval_step"] = m.group(1)
    m = re.search(r"([\d.]+) CPU seconds of training", ev)
    cpu = [r["cpu_seconds"] for r in metrics if "cpu_seconds" in r]
    if cpu:
        out["cpu_min"] = cpu[-1] / 60
    elif m:
        out["cpu_min"] = float(m.group(1)) / 60
    m = re.search(r"#.*?([\d.]+) CPU min", out["command"])
    if m and "cpu_min" not in out:
        out["cpu_min"] = float(m.group(1))
    bpath = os.path.join(d, "birthday.txt")
    if os.path.isfile(bpath):
        b = read(bpath)
        for who in ("generated", "real"):
            m = re.search(rf"^support {who}\s+(>= )?([\d.e+]+)", b, re.M)
            if m:
                out[f"support_{who}"] = (m.group(1) or "") + f"{float(m.group(2)):.2g}"
    m = re.search(r"#\s*.*?([\d.]+) min wall", out["command"])
    if m and "cpu_min" not in out:
        out["wall_min"] = float(m.group(1))
    return out


def fmt(values, digits=1):
    values = [v for v in values if v is not None]
    if not values:
        return ""
    mean = statistics.mean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f} ({len(values)} seeds)"


def recorded(comparison):
    return sorted(n for n in os.listdir(RUNS)
                  if os.path.isfile(os.path.join(RUNS, n, "eval.txt")) and n.startswith("cmp-") == comparison)


def compare_table():
    groups = {}
    for n in recorded(True):
        r = record(n)
        groups.setdefault((int(r["config"].get("steps", 0)), r["config"].get("model", "?")), []).append(r)
    rows = ["| model | loss | iterations | FCD (real: {fr}) | classifier score (real: {cr}) | "
            "birthday support (seed 0; real: {sr}) | CPU min per run | Lucic et al. FID | runs |",
            "|---|---|---|---|---|---|---|---|---|"]
    fcd_real = cs_real = support_real = None
    order = ["dcgan", "wgan", "wgan-gp", "lsgan-qi", "ebgan", "began", "gan", "vae"]
    for steps, model in sorted(groups, key=lambda k: (k[0], order.index(k[1]) if k[1] in order else len(order))):
        rs = sorted(groups[(steps, model)], key=lambda r: r["name"])
        fcd_real = fcd_real or next((r["fcd_real"] for r in rs if "fcd_real" in r), None)
        cs_real = cs_real or next((r["cs_real"] for r in rs if "cs_real" in r), None)
        support_real = support_real or next((r["support_real"] for r in rs if "support_real" in r), None)
        support = next((r["support_generated"] for r in rs if "support_generated" in r), "")
        rows.append(f"| `{model}` | {LOSS.get(model, '')} | {steps} | {fmt([r.get('fcd') for r in rs])} | "
                    f"{fmt([r.get('cs') for r in rs], 2)} | {support} | {fmt([r.get('cpu_min') for r in rs])} | "
                    f"{LUCIC_FID.get(model, '')} | "
                    + ", ".join(f"[s{r['config'].get('seed', '?')}](runs/{r['name']}/command.txt)" for r in rs) + " |")
    rows[0] = rows[0].format(fr=f"{fcd_real:.1f}" if fcd_real else "?", cr=f"{cs_real:.2f}" if cs_real else "?",
                             sr=support_real or "?")
    return "\n".join(rows) + "\n"


def class_table():
    """The per-class evaluation of the class-conditional runs (AC-GAN's `duel eval`): one row per
    model and class, the mean and spread over the model's recorded seeds."""
    per_model = {}  # model -> class -> list of (gen acc, real acc, FCD); model -> runs
    runs = {}
    for n in recorded(False):
        ev = read(os.path.join(RUNS, n, "eval.txt"))
        if "judge acc (gen)" not in ev:
            continue
        model = record(n)["config"].get("model", n)
        runs.setdefault(model, []).append(n)
        classes = per_model.setdefault(model, {})
        for m in re.finditer(r"^(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)(\s+\(FCD: mean over classes\))?\s*$",
                             ev.split("judge acc (gen)", 1)[1], re.M):
            name = m.group(1) + (" (FCD: mean)" if m.group(5) else "")
            classes.setdefault(name, []).append((float(m.group(2)), float(m.group(3)), float(m.group(4))))
    if not per_model:
        return ""
    rows = ["| model | class | judge accuracy, generated | judge accuracy, real | FCD to the class's test images | runs |",
            "|---|---|---|---|---|---|"]
    for model, classes in sorted(per_model.items()):
        links = ", ".join(f"[{n}](runs/{n}/eval.txt)" for n in runs[model])
        for name, v in classes.items():  # the runs named once, on the last ("all") row
            rows.append(f"| `{model}` | {name} | {fmt([x[0] for x in v], 3)} | {v[0][1]:.3f} | "
                        f"{fmt([x[2] for x in v], 1)} | {links if name.startswith('all') else ''} |")
    return "\n".join(rows) + "\n"


# The semi-supervised protocol (gan/semi_supervised.h): published MNIST errors with 100 labels, as
# quoted in the issue (Salimans et al.: feature matching; Li et al.; Dai et al.), in %.
SSL_MODELS = ["ssl-baseline", "sgan", "improved-gan", "triple-gan", "bad-gan"]
SSL_PUBLISHED = {"improved-gan": 0.93, "triple-gan": 0.91, "bad-gan": 0.795}
SSL_PROTOCOL = {"model", "labels-per-class", "subset-seed", "seed", "steps", "log-every", "sample-every",
                "checkpoint-every", "device", "data", "batch"}


def ssl_table():
    """Test error of every semi-supervised run: one row per model and setting, one column per
    label budget (10 or 100 per class), mean and spread over the labelled subsets."""
    groups = {}
    for n in recorded(False):
        r = record(n)
        model = r["config"].get("model", "")
        if model not in SSL_MODELS or "test_error" not in r:
            continue
        settings = ", ".join(f"{k} {v}" for k, v in sorted(r["config"].items())
                             if k not in SSL_PROTOCOL and k in interesting(model) and k != "labels-per-class")
        steps = r.get("eval_step", r["config"].get("steps", ""))
        groups.setdefault((model, settings, steps), {}).setdefault(r["config"].get("labels-per-class"), []).append(r)
    if not groups:
        return ""
    rows = ["| model | settings | iterations | test error, 100 labels (%) | test error, 1000 labels (%) | "
            "FCD, 100 labels | classifier score, 100 labels | CPU min per run | published MNIST-100 error (%) | runs |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for (model, settings, steps) in sorted(groups, key=lambda k: (SSL_MODELS.index(k[0]), k[1], k[2])):
        g = groups[(model, settings, steps)]
        def err(l):
            return fmt([r["test_error"] for r in g.get(l, [])], 2).replace("seeds", "subsets")
        every = [r for l in ("10", "100") for r in sorted(g.get(l, []), key=lambda r: r["name"])]
        rows.append(f"| `{model}` | {settings} | {steps} | {err('10')} | {err('100')} | "
                    f"{fmt([r.get('fcd') for r in g.get('10', [])]).replace('seeds', 'subsets')} | "
                    f"{fmt([r.get('cs') for r in g.get('10', [])], 2).replace('seeds', 'subsets')} | "
                    f"{fmt([r.get('cpu_min') for r in every]).replace('seeds', 'runs')} | {SSL_PUBLISHED.get(model, '')} | "
                    + ", ".join(f"[{r['name']}](runs/{r['name']}/command.txt)" for r in every) + " |")
    return "\n".join(rows) + "\n"


SSL_NAMES = {"ssl-baseline": "baseline (labelled images only)", "sgan": "SGAN", "bad-gan": "Bad GAN",
             "improved-gan": "Improved GAN (feature matching)",
             "improved-gan-fm0": "Improved GAN, feature matching off (non-saturating G loss)", "triple-gan": "Triple-GAN"}


def ssl_paired_table():
    """Each semi-supervised model's test error per labelled subset, at both label budgets, in its
    default configuration (and Improved GAN with feature matching off, the best configuration at
    100 labels), with the paired difference from the baseline on the same subset."""
    err = {}
    for n in recorded(False):
        r = record(n)
        c = r["config"]
        model = c.get("model", "")
        if model not in SSL_MODELS or "test_error" not in r:
            continue
        changed = {k for k, v in ABLATION_DEFAULTS.get(model, {}).items() if c.get(k, v) != v}
        if changed == {"feature-matching"}:
            model = "improved-gan-fm0"  # the best configuration of the table, run at both budgets
        elif changed:
            continue  # an ablation: ablation_table()
        err.setdefault((c.get("labels-per-class"), model), {})[c.get("subset-seed", "0")] = r["test_error"]
    if not err:
        return ""
    rows = ["| labels | model | subset 0 | subset 1 | subset 2 | mean ± sd | minus the baseline, per subset | "
            "minus the baseline, mean |", "|---|---|--:|--:|--:|--:|--:|--:|"]
    order = ["ssl-baseline", "sgan", "bad-gan", "improved-gan", "improved-gan-fm0", "triple-gan"]
    for lpc in ("10", "100"):
        base = err.get((lpc, "ssl-baseline"), {})
        for model in order:
            e = err.get((lpc, model))
            if not e:
                continue
            cells = [f"{e[s]:.2f}" if s in e else "" for s in ("0", "1", "2")]
            diffs = [e[s] - base[s] for s in ("0", "1", "2") if s in e and s in base] if model != "ssl-baseline" else []
            rows.append(f"| {int(lpc) * 10} | {SSL_NAMES[model]} | " + " | ".join(cells) + " | "
                        + fmt(list(e.values()), 2).replace(" (3 seeds)", "").replace("seeds", "subsets") + " | "
                        + ", ".join(f"{d:+.1f}" for d in diffs) + " | "
                        + (f"{statistics.mean(diffs):+.2f}" if diffs else "") + " |")
    return "\n".join(rows) + "\n"


def option_defaults(model):
    """The model's option defaults, as docs/options.md lists them (`duel options --markdown`; a
    test keeps that file current): {"lambda-pt": "0.8", ...}."""
    text = read(os.path.join(os.path.dirname(RESULTS), "options.md"))
    section = re.search(r"^## `" + re.escape(model) + r"`.*?(?=^## |\Z)", text, re.M | re.S)
    if not section:
        sys.exit(f"docs/options.md has no section for {model}")
    return dict(re.findall(r"^\| `--([\w-]+)` \| [^|]* \| `([^`]*)` \|", section.group(0), re.M))


# The options each ablation switches away from its default (gan/improved_gan.cpp, gan/bad_gan.cpp).
ABLATED = {"improved-gan": ["feature-matching", "minibatch-kernels", "historical-averaging", "label-smoothing", "vbn"],
           "bad-gan": ["lambda-pt", "lambda-ent"]}
ABLATION_DEFAULTS = {m: {k: option_defaults(m)[k] for k in keys} for m, keys in ABLATED.items()}


def ablation_table():
    """Improved GAN's techniques and Bad GAN's terms, each switched from its default at 100 labels:
    test error, FCD and classifier score of the changed configuration against a reference on the
    same labelled subsets (paired), so that a difference is not a difference of subsets. The
    reference is the recorded configuration with one change fewer (e.g. minibatch discrimination
    with feature matching off is compared with feature matching off), else the default."""
    runs = {}
    for n in recorded(False):
        r = record(n)
        c = r["config"]
        model = c.get("model", "")
        if model not in ABLATION_DEFAULTS or c.get("labels-per-class") != "10" or "test_error" not in r:
            continue
        changed = tuple(sorted((k, c.get(k, v)) for k, v in ABLATION_DEFAULTS[model].items() if c.get(k, v) != v))
        runs.setdefault((model, changed), {})[c.get("subset-seed", "0")] = r
    if not runs:
        return ""
    rows = ["| model | changed from the default | compared with | subsets | test error (%) | the reference on those subsets (%) | "
            "difference, per subset | FCD (reference) | classifier score (reference) | runs |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for (model, changed) in sorted(runs, key=lambda k: (k[0] != "improved-gan", k[1])):
        if not changed:
            continue
        ref = next((r for (m, r) in runs if m == model and len(r) == len(changed) - 1 and set(r) < set(changed)), ())
        mine, base = runs[(model, changed)], runs.get((model, ref), {})
        subsets = sorted(s for s in mine if s in base)
        if not subsets:
            continue
        diffs = [mine[s]["test_error"] - base[s]["test_error"] for s in subsets]
        pair = lambda key, d: (f"{statistics.mean(mine[s][key] for s in subsets):.{d}f} "
                               f"({statistics.mean(base[s][key] for s in subsets):.{d}f})"
                               if all(key in mine[s] and key in base[s] for s in subsets) else "")
        against = ", ".join(f"{k} {v}" for k, v in ref) or "the default"
        rows.append(f"| `{model}` | " + ", ".join(f"{k} {v}" for k, v in changed) + f" | {against} | {', '.join(subsets)} | "
                    f"{fmt([mine[s]['test_error'] for s in subsets], 2).replace('seeds', 'subsets')} | "
                    f"{fmt([base[s]['test_error'] for s in subsets], 2).replace('seeds', 'subsets')} | "
                    + ", ".join(f"{d:+.1f}" for d in diffs) + f" | {pair('fcd', 0)} | {pair('cs', 2)} | "
                    + ", ".join(f"[{mine[s]['name']}](runs/{mine[s]['name']}/command.txt)" for s in subsets) + " |")
    return "\n".join(rows) + "\n" if len(rows) > 2 else ""


TEXT_MODELS = ["char-rnn", "seqgan", "chess-style"]  # (not images: their own tables)
CHESS_SETTINGS = ["lambda-adv", "lambda-random", "tau", "channels", "layers", "batch"]


def chess_table():
    """Move-match accuracy of every chess-style run on the held-out games, seeds grouped, with
    the two baselines that need no training (the other player's moves, a random legal move)."""
    groups, base = {}, {}
    for n in recorded(False):
        r = record(n)
        c = r["config"]
        if c.get("model") != "chess-style" or "match1" not in r:
            continue
        mode = c.get("mode", "")
        settings = ", ".join(f"{k} {c[k]}" for k in CHESS_SETTINGS if k in c and (mode == "gan" or "lambda" not in k and k != "tau"))
        groups.setdefault((c.get("target", ""), mode, settings, r.get("eval_step", "")), []).append(r)
        base[c.get("target", "")] = (r["base_other"], r["base_uniform"])
    if not groups:
        return ""
    pct = lambda vs: fmt([100 * v for v in vs], 1)
    rows = ["| target | method | settings | steps | move match, top 1 (%) | top 3 (%) | NLL (nats) | "
            "match with the other player (%) | illegal proposals | legal per python-chess | CPU min | runs |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for target, (other, uniform) in sorted(base.items()):
        rows.append(f"| {target} | baseline (b): the other player's move |  |  | {100 * other:.1f} |  |  |  |  |  |  |  |")
        rows.append(f"| {target} | a uniformly random legal move |  |  | {100 * uniform:.1f} |  |  |  |  |  |  |  |")
    for key in sorted(groups, key=lambda k: (k[0], k[1] != "supervised", k[2], k[3])):
        target, mode, settings, steps = key
        rs = sorted(groups[key], key=lambda r: r["name"])
        method = "baseline (a): supervised (likelihood only)" if mode == "supervised" else "style GAN"
        rows.append(f"| {target} | {method} | {settings} | {steps} | {pct([r['match1'] for r in rs])} | "
                    f"{pct([r['match3'] for r in rs])} | {fmt([r['move_nll'] for r in rs], 3)} | "
                    f"{pct([r['match_other'] for r in rs])} | "
                    f"{sum(r.get('illegal', 0) for r in rs)} of {sum(r.get('proposed', 0) for r in rs)} | "
                    + (f"{sum(r['checked_legal'] for r in rs if 'checked' in r)} of "
                       f"{sum(r['checked'] for r in rs if 'checked' in r)} | " if any('checked' in r for r in rs) else " | ")
                    + f"{fmt([r.get('cpu_min') for r in rs])} | "
                    + ", ".join(f"[{r['name']}](runs/{r['name']}/command.txt)" for r in rs) + " |")
    return "\n".join(rows) + "\n"


# SEGAN's paper (Pascual et al. 2017, Table 1), on Valentini's set: noisy, Wiener, SEGAN
SEGAN_PAPER = {"noisy": (1.68, 1.97, None), "wiener": (5.07, 2.22, None), "SEGAN (paper)": (7.73, 2.16, None)}


def speech_table():
    """Segmental SNR, PESQ and STOI on the generated test pairs (scripts/speech_eval.py): the
    baselines' record and every segan record's speech_eval.tsv, with the paper's values."""
    rows = ["| method | SSNR (dB) | PESQ (wide-band) | STOI | paper's SSNR / PESQ (another data set) | run |",
            "|---|---|---|---|---|---|"]
    found = False
    arms = {}
    sources = [("speech-baselines", os.path.join(RUNS, "speech-baselines", "output.tsv"))]
    sources += [(n, os.path.join(RUNS, n, "speech_eval.tsv")) for n in sorted(os.listdir(RUNS)) if n.startswith("segan")]
    for name, path in sources:
        if not os.path.isfile(path):
            continue
        for line in read(path).splitlines()[1:]:
            method, n, ssnr, pesq, stoi = line.split("\t")
            if name != "speech-baselines" and method in ("noisy", "wiener"):
                continue  # the baselines once, from their own record
            found = True
            l1_arm = name != "speech-baselines" and record(name)["config"].get("mode") == "l1"
            paper = SEGAN_PAPER.get(method, SEGAN_PAPER["SEGAN (paper)"] if name != "speech-baselines" and not l1_arm else None)
            ola = method.endswith("+ola")  # scripts/speech_eval.py: the overlap-add version
            shown = method[:-len("+ola")] + ", overlap-add" if ola else method
            label = {"noisy": "noisy input", "wiener": "Wiener filter (decision-directed)"}.get(
                method, f"`segan --mode l1` ({shown})" if l1_arm else f"`segan` ({shown})")
            ref = f"{paper[0]:.2f} / {paper[1]:.2f}" if paper else ""
            rows.append(f"| {label} | {float(ssnr):.2f} | {float(pesq):.2f} | {float(stoi):.3f} | {ref} | "
                        f"[{name}](runs/{name}/command.txt) |")
            if name != "speech-baselines":
                c = record(name)["config"]
                arms.setdefault((c.get("mode", "gan"), c.get("steps", "?"), ola), []).append(
                    (name, float(ssnr), float(pesq), float(stoi)))
    # every arm with several seeds: mean and spread
    for (mode, steps, ola), runs in sorted(arms.items()):
        if len(runs) < 2:
            continue
        ref = f"{SEGAN_PAPER['SEGAN (paper)'][0]:.2f} / {SEGAN_PAPER['SEGAN (paper)'][1]:.2f}" if mode == "gan" else ""
        how = ", overlap-add" if ola else ""
        rows.append(f"| **`segan --mode {mode}`, {steps} steps{how}, mean over seeds** | {fmt([r[1] for r in runs], 2)} | "
                    f"{fmt([r[2] for r in runs], 2)} | {fmt([r[3] for r in runs], 3)} | {ref} | "
                    + ", ".join(r[0] for r in runs) + " |")
    return "\n".join(rows) + "\n" if found else ""


SEQGAN_DEFAULTS = option_defaults("seqgan")


def pg_step(c):
    """How a SeqGAN run took its policy-gradient step (gan/seqgan.cpp): the records from before
    --pg-optimizer existed shared pre-training's Adam, averaged the loss and did not clip."""
    if "pg-optimizer" not in c:
        return "pre-training's Adam, mean, no clip"
    return (("own Adam" if c["pg-optimizer"] == "own" else "pre-training's Adam") + ", " + c.get("pg-loss", "sum")
            + ", " + (f"clip {c['grad-clip']}" if float(c.get("grad-clip", 0)) > 0 else "no clip")
            + "".join(f", {label} {c[k]}" for k, label in (("rollout-update", "roll-out update"), ("d-epochs", "D epochs"))
                      if c.get(k, SEQGAN_DEFAULTS[k]) != SEQGAN_DEFAULTS[k]))


def seqgan_table():
    """NLL-oracle of the two SeqGAN arms seed by seed (each seed has its own oracle, so the arms
    compare within a seed): after pre-training (the snapshot at the end of D's pre-training,
    the same in both arms) and at the end, and the paired difference."""
    by_seed = {}
    for n in recorded(False):
        r = record(n)
        if r["config"].get("model") != "seqgan" or "nll_oracle" not in r:
            continue
        c = r["config"]
        pg = int(c.get("pretrain-g", 0))
        pre = [s for s in r["nll_curve"] if pg <= s <= pg + int(c.get("pretrain-d", 0))]
        r["nll_pre"] = r["nll_curve"][max(pre)] if pre else None
        by_seed.setdefault((pg, pg_step(c), c.get("seed", "?")), {})[c.get("mode", "")] = r
    if not by_seed:
        return ""
    rows = ["| G pre-training epochs | policy-gradient step | seed | NLL-oracle after pre-training (2000 samples) | end, `--mode mle` (10000 samples) | "
            "end, `--mode seqgan` (10000 samples) | seqgan - mle | NLL-test (mle / seqgan) | entropy of G (mle / seqgan) | "
            "CPU min (mle / seqgan) | runs |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    diffs = {}
    for pg, step, seed in sorted(by_seed):
        arms = by_seed[(pg, step, seed)]
        mle, adv = arms.get("mle"), arms.get("seqgan")
        pre = next((a["nll_pre"] for a in (mle, adv) if a and a.get("nll_pre") is not None), None)
        diff = adv["nll_oracle"] - mle["nll_oracle"] if mle and adv else None
        if diff is not None:
            diffs.setdefault((pg, step), []).append(diff)
        cell = lambda a, k, d=3: (f"{a[k]:.{d}f}" if a.get(k) is not None else "not measured") if a else "not run yet"
        rows.append(f"| {pg} | {step} | {seed} | {pre:.3f} | {cell(mle, 'nll_oracle')} | {cell(adv, 'nll_oracle')} | "
                    + (f"{diff:+.3f}" if diff is not None else "")
                    + f" | {cell(mle, 'nll_test', 2)} / {cell(adv, 'nll_test', 2)} | {cell(mle, 'entropy', 2)} / {cell(adv, 'entropy', 2)}"
                    + f" | {cell(mle, 'cpu_min', 1)} / {cell(adv, 'cpu_min', 1)} | "
                    + ", ".join(f"[{a['name']}](runs/{a['name']}/command.txt)" for a in (mle, adv) if a) + " |")
    for pg, step in sorted(diffs):
        if len(diffs[(pg, step)]) > 1:
            rows.append(f"| {pg} | {step} | mean over the paired seeds |  |  |  | {fmt(diffs[(pg, step)], 3)} |  |  |  |  |")
    return "\n".join(rows) + "\n"


TEXT_SETTINGS = ["cell", "layers", "hidden", "bptt", "batch", "lr", "clip"]


def text_table():
    """Bits per character of every text-model run on the held-out splits, seeds grouped."""
    groups = {}
    for n in recorded(False):
        r = record(n)
        model = r["config"].get("model", "")
        if model != "char-rnn" or "test_bpc" not in r:
            continue
        settings = ", ".join(f"{k} {r['config'][k]}" for k in TEXT_SETTINGS if k in r["config"])
        steps = r.get("eval_step", r["config"].get("steps", ""))
        groups.setdefault((model, r["config"].get("data", ""), settings, steps), []).append(r)
    rows = ["| model | corpus | settings | iterations | validation bpc | test bpc | CPU min | runs |",
            "|---|---|---|---|---|---|---|---|"]
    # the baseline: the n-gram model of scripts/ngram_bpc.py with the best validation bpc
    ngram = os.path.join(RUNS, "ngram-kjv", "output.txt")
    if os.path.isfile(ngram):
        best = min(((float(m.group(2)), float(m.group(3)), m.group(1)) for m in
                    re.finditer(r"^\s*(\d+)-gram \(context \d+\)\s+([\d.]+)\s+([\d.]+)", read(ngram), re.M)),
                   default=None)
        if best:
            rows.append(f"| {best[2]}-gram, Witten-Bell (baseline) | kjv | the best order on validation |  | "
                        f"{best[0]:.3f} | {best[1]:.3f} |  | [ngram-kjv](runs/ngram-kjv/output.txt) |")
    for key in sorted(groups):
        model, data, settings, steps = key
        rs = sorted(groups[key], key=lambda r: r["name"])
        rows.append(f"| `{model}` | {data} | {settings} | {steps} | {fmt([r['val_bpc'] for r in rs], 3)} | "
                    f"{fmt([r['test_bpc'] for r in rs], 3)} | {fmt([r.get('cpu_min') for r in rs])} | "
                    + ", ".join(f"[{r['name']}](runs/{r['name']}/command.txt)" for r in rs) + " |")
    return "\n".join(rows) + "\n"


def birthday_table():
    """Every record with a birthday.txt: p(duplicate) per batch size s and the support estimate."""
    names = sorted(n for n in os.listdir(RUNS) if os.path.isfile(os.path.join(RUNS, n, "birthday.txt")))
    recs, sizes, real = [], [], None
    for n in names:
        text = read(os.path.join(RUNS, n, "birthday.txt"))
        p = {int(m.group(1)): (m.group(2), m.group(3)) for m in re.finditer(r"^\s*(\d+)\s+(\d+/\d+|-)\s+(\d+/\d+|-)\s*$", text, re.M)}
        sizes = sorted(set(sizes) | set(p))
        r = record(n)
        if not p:
            continue  # being written
        recs.append((n, r["config"].get("model", "?"), r.get("eval_step", "?"), p, r.get("support_generated", "")))
        if real is None and p:
            real = ({s: v[1] for s, v in p.items()}, r.get("support_real", ""))
    if not recs:
        return ""
    rows = ["| run | model | iterations | " + " | ".join(f"p(dup), s = {s}" for s in sizes) + " | support estimate |",
            "|---|---|---|" + "---|" * len(sizes) + "---|"]
    for n, model, step, p, support in recs:
        rows.append(f"| [{n}](runs/{n}/birthday.txt) | `{model}` | {step} | " +
                    " | ".join(p.get(s, ("", ""))[0].replace("-", "") for s in sizes) + f" | {support} |")
    rows.append("| real training images | | | " + " | ".join(real[0].get(s, "").replace("-", "") for s in sizes) +
                f" | {real[1]} |")
    return "\n".join(rows) + "\n"


def table():
    names = recorded(False)
    groups = {}
    for n in names:
        r = record(n)
        if r["config"].get("model", "") in TEXT_MODELS:
            continue  # text_table()
        # runs that differ only in their seed (or, semi-supervised, in their labelled subset) are one group
        key = tuple(sorted((k, v) for k, v in r["config"].items() if k not in ("seed", "subset-seed", "log-every",
                                                                                "sample-every", "checkpoint-every",
                                                                                "device")))
        groups.setdefault(key, []).append(r)
    rows = ["| model | settings | iterations | FCD (real: {fr}) | classifier score (real: {cr}) | other | CPU min | runs |",
            "|---|---|---|---|---|---|---|---|"]
    fcd_real = cs_real = None
    for key, rs in sorted(groups.items(), key=lambda kv: kv[1][0]["config"].get("model", "")):
        c = dict(key)
        model = c.get("model", "?")
        skip = {"model", "steps", "seed", "data"}
        settings = ", ".join(f"{k} {v}" for k, v in c.items() if k not in skip and k in interesting(model))
        other = []
        if any("elbo" in r for r in rs):
            other.append("test ELBO " + fmt([r.get("elbo") for r in rs]) + " nats")
        if any("iw" in r for r in rs):
            other.append(f"L_{rs[0]['iw_k']} " + fmt([r.get("iw") for r in rs]) + " nats")
        if any("support_generated" in r for r in rs):
            other.append("birthday support " + ", ".join(r["support_generated"] for r in rs if "support_generated" in r)
                         + " (real " + next(r["support_real"] for r in rs if "support_real" in r) + ")")
        if any("modes" in r for r in rs):
            other.append(f"{c.get('data', '')}: modes covered " + fmt([r.get("modes") for r in rs]) +
                         ", high-quality samples " + fmt([r.get("high_quality") for r in rs]) + " %")
        if any("class_acc" in r for r in rs):
            other.append("judge accuracy on generated images against their class " + fmt([r.get("class_acc") for r in rs], 3)
                         + f" (real test images {rs[0]['class_acc_real']:.3f}), per-class FCD "
                         + fmt([r.get("class_fcd") for r in rs]))
        if any("test_error" in r for r in rs):
            other.append("test error " + fmt([r.get("test_error") for r in rs], 2) + " % (over labelled subsets)")
        if any("code_acc" in r for r in rs):
            other.append("categorical code as a classifier of the test set " + fmt([r.get("code_acc") for r in rs]) + " %")
        if model == "began" and any("h_y" in r for r in rs):
            other.append("H(y) " + fmt([r.get("h_y") for r in rs], 3) + ", mean H(y|x) " + fmt([r.get("h_yx") for r in rs], 3))
        cpu = fmt([r.get("cpu_min") for r in rs])
        if not cpu and any("wall_min" in r for r in rs):
            cpu = "wall " + fmt([r.get("wall_min") for r in rs])
        fcd_real = fcd_real or next((r["fcd_real"] for r in rs if "fcd_real" in r), None)
        cs_real = cs_real or next((r["cs_real"] for r in rs if "cs_real" in r), None)
        steps = max((int(r["eval_step"]) for r in rs if r.get("eval_step")), default=c.get("steps", ""))
        rows.append(f"| `{model}` | {settings} | {steps} | {fmt([r.get('fcd') for r in rs])} | "
                    f"{fmt([r.get('cs') for r in rs], 2)} | {'; '.join(other)} | {cpu} | "
                    + ", ".join(f"[{r['name']}](runs/{r['name']}/command.txt)" for r in rs) + " |")
    rows[0] = rows[0].format(fr=f"{fcd_real:.1f}" if fcd_real else "?", cr=f"{cs_real:.2f}" if cs_real else "?")
    return "\n".join(rows) + "\n"


def interesting(model):
    # the options that distinguish configurations of a model in the table
    return {"wgan": {"n-critic", "clip", "lr"}, "ebgan": {"margin", "lambda-pt"}, "began": {"gamma", "lambda-k"},
            "vae": {"z-dim", "hidden"}, "lsgan-qi": {"lambda", "tau", "weight-decay"},
            "wgan-gp": {"lambda", "init", "critic-bn"}, "infogan": {"lambda", "continuous"},
            "ssl-baseline": {"labels-per-class"}, "sgan": {"labels-per-class"},
            "improved-gan": {"labels-per-class", "feature-matching", "minibatch-kernels", "historical-averaging",
                             "label-smoothing", "vbn"},
            "triple-gan": {"labels-per-class", "alpha", "alpha-p", "pseudo-after"},
            "bad-gan": {"labels-per-class", "lambda-ent", "lambda-pt"}, "segan": {"mode"}}.get(model, set())


def replace_between(text, begin, end, body):
    if begin not in text:
        sys.exit(f"{RESULTS} has no '{begin}' marker")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + body + end + tail


def main():
    t, c = table(), compare_table()
    if "--update" not in sys.argv:
        sys.stdout.write(t + "\n" + c + "\n" + birthday_table() + "\n" + class_table() + "\n" + ssl_table() + "\n" + ssl_paired_table() + "\n" + ablation_table() + "\n" +
                         text_table() + "\n" + seqgan_table() + "\n" + chess_table())
        return
    text = replace_between(read(RESULTS), BEGIN, END, t)
    text = replace_between(text, CMP_BEGIN, CMP_END, c)
    text = replace_between(text, BD_BEGIN, BD_END, birthday_table())
    text = replace_between(text, CLS_BEGIN, CLS_END, class_table())
    text = replace_between(text, SSL_BEGIN, SSL_END, ssl_table())
    if PAIR_BEGIN in text:
        text = replace_between(text, PAIR_BEGIN, PAIR_END, ssl_paired_table())
    if ABL_BEGIN in text:
        text = replace_between(text, ABL_BEGIN, ABL_END, ablation_table())
    text = replace_between(text, TXT_BEGIN, TXT_END, text_table())
    text = replace_between(text, SEQ_BEGIN, SEQ_END, seqgan_table())
    text = replace_between(text, CHESS_BEGIN, CHESS_END, chess_table())
    text = replace_between(text, SPEECH_BEGIN, SPEECH_END, speech_table())
    with open(RESULTS, "w") as f:
        f.write(text)
    print(f"updated {RESULTS}")


if __name__ == "__main__":
    main()
