#!/usr/bin/env python3
"""Speech-enhancement measures of SEGAN runs and their baselines, independent of duel.

For every test utterance of a pair set (scripts/speech_data.py) this scores, against the clean
speech:
  noisy     the noisy input itself
  wiener    a classic STFT Wiener filter: noise power per frequency from the quietest 10 % of
            frames, a priori SNR by the decision-directed rule (Ephraim and Malah, alpha 0.98),
            gain xi / (1 + xi) with a floor of -20 dB
  RUN       each run folder's enhanced/<id>.wav (written by `duel eval RUN`: windows side by
            side, the paper's test procedure)
  RUN+ola   its enhanced-ola/<id>.wav where `duel eval` wrote them (windows every half window,
            joined by Hann-weighted overlap-add)
with segmental SNR (frames of 30 ms, 75 % overlap, clipped to [-10, 35] dB, as duel and
Loizou's composite measure compute it), wide-band PESQ (PyPI `pesq`, ITU-T P.862.2) and STOI
(PyPI `pystoi`). Prints a table of means; --out also writes it as TSV.

  pip install numpy scipy pesq pystoi
  python3 scripts/speech_eval.py --data data/speech runs/segan-s0 runs/segan-l1-s0
"""
import argparse
import os
import sys
import wave

try:
    import numpy as np
    from pesq import pesq
    from pystoi import stoi
except ImportError as e:
    sys.exit(f"speech_eval.py: {e}; pip install numpy scipy pesq pystoi")

RATE = 16000


def read_wav(path):
    with wave.open(path) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != RATE:
            sys.exit(f"speech_eval.py: {path}: expected 16-bit mono at {RATE} Hz")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0


def segmental_snr(clean, est):
    frame = RATE * 30 // 1000
    hop = frame // 4
    out = []
    for s in range(0, len(clean) - frame + 1, hop):
        c, e = clean[s:s + frame], clean[s:s + frame] - est[s:s + frame]
        snr = 10 * np.log10(np.sum(c ** 2) / (np.sum(e ** 2) + 1e-10) + 1e-10)
        out.append(min(max(snr, -10.0), 35.0))
    return float(np.mean(out))


def stft(x, n=512, hop=128):
    win = np.hanning(n + 1)[:n]
    frames = 1 + max(0, (len(x) - n)) // hop
    pad = np.pad(x, (0, max(0, (frames - 1) * hop + n - len(x))))
    return np.stack([np.fft.rfft(win * pad[t * hop:t * hop + n]) for t in range(frames)]), win


def istft(spec, win, length, n=512, hop=128):
    out = np.zeros((len(spec) - 1) * hop + n)
    norm = np.zeros_like(out)
    for t, s in enumerate(spec):
        out[t * hop:t * hop + n] += np.fft.irfft(s, n) * win
        norm[t * hop:t * hop + n] += win ** 2
    out /= np.maximum(norm, 1e-8)
    return np.pad(out, (0, max(0, length - len(out))))[:length]


def wiener(noisy, alpha=0.98, floor_db=-20.0):
    spec, win = stft(noisy)
    power = np.abs(spec) ** 2
    quiet = np.argsort(power.sum(axis=1))[:max(1, len(power) // 10)]
    noise = power[quiet].mean(axis=0) + 1e-12
    gain_floor = 10 ** (floor_db / 20)
    prev = np.zeros_like(noise)
    out = np.empty_like(spec)
    for t in range(len(spec)):
        post = power[t] / noise
        xi = alpha * prev / noise + (1 - alpha) * np.maximum(post - 1, 0)
        g = np.maximum(xi / (1 + xi), gain_floor)
        out[t] = g * spec[t]
        prev = np.abs(out[t]) ** 2
    return istft(out, win, len(noisy))


def manifest(data):
    rows = []
    with open(os.path.join(data, "manifest.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            split, uid, voice, _, _, noise, snr, _ = line.rstrip("\n").split("\t")
            if split == "test":
                rows.append((uid, noise, float(snr)))
    return rows


def score(clean, est):
    est = est[:len(clean)]
    return segmental_snr(clean, est), pesq(RATE, clean, est, "wb"), stoi(clean, est, RATE, extended=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/speech")
    ap.add_argument("--out", help="write the table as TSV here")
    ap.add_argument("runs", nargs="*")
    a = ap.parse_args()
    rows = manifest(a.data)
    if not rows:
        sys.exit(f"speech_eval.py: {a.data}/manifest.tsv lists no test utterance")
    arms = []  # (method, folder of its WAVs)
    for r in a.runs:
        name = os.path.basename(os.path.normpath(r))
        arms.append((name, os.path.join(r, "enhanced")))
        if os.path.isdir(os.path.join(r, "enhanced-ola")):
            arms.append((name + "+ola", os.path.join(r, "enhanced-ola")))
    methods = ["noisy", "wiener"] + [m for m, _ in arms]
    scores = {m: [] for m in methods}
    for uid, noise, snr in rows:
        clean = read_wav(os.path.join(a.data, "test", f"{uid}_clean.wav"))
        noisy = read_wav(os.path.join(a.data, "test", f"{uid}_noisy.wav"))
        scores["noisy"].append(score(clean, noisy))
        scores["wiener"].append(score(clean, wiener(noisy)))
        for m, folder in arms:
            scores[m].append(score(clean, read_wav(os.path.join(folder, f"{uid}.wav"))))
    lines = ["method\tutterances\tSSNR_dB\tPESQ_wb\tSTOI"]
    for m in methods:
        s = np.array(scores[m])
        lines.append(f"{m}\t{len(s)}\t{s[:, 0].mean():.3f}\t{s[:, 1].mean():.3f}\t{s[:, 2].mean():.4f}")
    print("\n".join(lines))
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
