#!/usr/bin/env python3
"""The simple baseline next to char-rnn's bits per character (docs/results.md): character
n-gram models with Witten-Bell interpolated smoothing, fit on the training split of the same
corpus and scored on its validation and test splits.

The corpus is built here independently of duel (data/text.cpp): the verses printed by
`bible -l0 Gen1:1-Rev22:21` (Debian's bible-kjv), one per line, split by position 90/5/5 %.
The FNV-1a hash printed first must equal the one in docs/data-and-checkpoints.md.

    python3 scripts/ngram_bpc.py [--orders 1 2 3 4 5 6] [--file PATH]

Witten-Bell, for a context h of order n with the shorter context h' (order n - 1):
    P(c | h) = (C(h c) + T(h) P(c | h')) / (C(h) + T(h)),  T(h) = distinct symbols seen after h
down to the order-0 model, itself interpolated with the uniform distribution over the
vocabulary (so no held-out symbol has probability 0).
"""
import argparse
import math
import re
import subprocess
import sys
from collections import defaultdict


def kjv_text():
    out = subprocess.run(["bible", "-l0", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout
    verses = []
    for line in out.decode("latin-1").split("\n"):
        m = re.match(r"^ +\d+ (.*)$", line)
        if m:
            verses.append(m.group(1) + "\n")
    return "".join(verses).encode("latin-1")


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--file", help="a text file instead of the kjv corpus")
    a = ap.parse_args()
    text = open(a.file, "rb").read() if a.file else kjv_text()
    n = len(text)
    train, val, test = text[: n * 90 // 100], text[n * 90 // 100 : n * 95 // 100], text[n * 95 // 100 :]
    vocab = sorted(set(text))
    print(f"corpus: {n} bytes, {len(vocab)} symbols, FNV-1a {fnv1a64(text):016x}; "
          f"train {len(train)}, val {len(val)}, test {len(test)}")
    max_order = max(a.orders)
    # counts[k][context of length k][symbol]
    counts = [defaultdict(lambda: defaultdict(int)) for _ in range(max_order)]
    for i in range(len(train)):
        c = train[i]
        for k in range(max_order):
            if i - k < 0:
                break
            counts[k][train[i - k : i]][c] += 1
    totals = [{h: (sum(d.values()), len(d)) for h, d in ck.items()} for ck in counts]

    def prob(history, c, order):
        p = 1.0 / len(vocab)  # the uniform floor
        for k in range(order):  # orders 0 .. order - 1 context lengths, shortest first
            if k > len(history):
                break
            h = history[len(history) - k :] if k else b""
            t = totals[k].get(h)
            if not t:
                break  # a longer context unseen too
            total, distinct = t
            p = (counts[k][h].get(c, 0) + distinct * p) / (total + distinct)
        return p

    print(f"{'model':>22} {'val bpc':>9} {'test bpc':>9}")
    for order in a.orders:
        row = []
        for split in (val, test):
            bits = 0.0
            for i in range(len(split)):
                bits -= math.log2(prob(split[max(0, i - order + 1) : i], split[i], order))
            row.append(bits / len(split))
        print(f"{f'{order}-gram (context {order - 1})':>22} {row[0]:9.4f} {row[1]:9.4f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
