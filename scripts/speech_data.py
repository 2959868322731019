#!/usr/bin/env python3
"""Noisy and clean speech pairs for SEGAN (gan/segan.cpp, survey section 5.7), made on this
machine: nothing is downloaded.

Clean speech: verses of the King James Bible (Debian's bible-kjv, 6-20 words) spoken by
Debian's espeak-ng with varied voices, speaking rates and pitches, resampled by sox to 16 kHz
mono 16-bit. Noise: generated with a seeded numpy generator and shaped by sox effects into
"recorded-style" noises (filtered, modulated, reverberant), plus babble made of other espeak
voices. Mixed at a signal-to-noise ratio drawn per utterance.

The split keeps everything of the test set unseen in training, as in the paper (Valentini's
set: different speakers, noises and SNRs):
  train  verses of Genesis-Malachi, voices TRAIN_VOICES, noises TRAIN_NOISES, SNR 0/5/10/15 dB
  test   verses of Matthew-Revelation, voices TEST_VOICES, noises TEST_NOISES, SNR 2.5/7.5/12.5/17.5 dB

Output (in --out): train/NNNN_clean.wav, train/NNNN_noisy.wav, test/..., and manifest.tsv
(split, id, voice, rate, pitch, noise, snr, text). Needs: bible-kjv, espeak-ng, sox
(apt-get install bible-kjv espeak-ng sox) and numpy.

  python3 scripts/speech_data.py --out data/speech --train 600 --test 120
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

RATE = 16000
TRAIN_VOICES = ["en-us+m1", "en-us+f2", "en+m3", "en+f4", "en-gb-scotland+m2", "en-gb-x-rp+f1", "en-029+m4",
                "en-us+m6"]
TEST_VOICES = ["en-gb+f3", "en-us+m7", "en-gb-x-gbclan+f5", "en+m5"]
TRAIN_NOISES = ["white", "pink", "hum", "machine", "babble"]
TEST_NOISES = ["brown", "car", "fan", "cafe"]
TRAIN_SNRS = [0.0, 5.0, 10.0, 15.0]
TEST_SNRS = [2.5, 7.5, 12.5, 17.5]


def need(program, package):
    if shutil.which(program) is None:
        sys.exit(f"speech_data.py: needs `{program}` (apt-get install {package})")


def verses():
    out = subprocess.run(["bible", "-l0", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    books, current = {"old": [], "new": []}, "old"
    for line in out.splitlines():
        if line.startswith("Matthew 1") and line.strip() == "Matthew 1":
            current = "new"
        s = line.strip()
        if not line.startswith(" ") or not s or not s[0].isdigit():
            continue
        text = s.split(" ", 1)[1] if " " in s else ""
        if 6 <= len(text.split()) <= 20:
            books[current].append(text)
    return books


def read_wav(path):
    with wave.open(path) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0, w.getframerate()


def write_wav(path, x):
    y = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(y.tobytes())


def sox(inp, out, *effects):
    subprocess.run(["sox", "-V1", "-R", inp, "-r", str(RATE), "-b", "16", "-c", "1", out, *effects], check=True)


def speak(text, voice, speed, pitch, tmp):
    raw, res = os.path.join(tmp, "raw.wav"), os.path.join(tmp, "res.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", raw, text], check=True)
    sox(raw, res, "gain", "-n", "-3", "rate", "-h", str(RATE))
    x, _ = read_wav(res)
    return x


def shaped(noise, n, rng, tmp, babble_voices, texts):
    """n samples of the named noise type, unit RMS."""
    src, dst = os.path.join(tmp, "n_src.wav"), os.path.join(tmp, "n_dst.wav")
    t = np.arange(n) / RATE
    white = rng.standard_normal(n)
    if noise == "white":
        x = white
    elif noise in ("pink", "brown"):
        f = np.fft.rfftfreq(n, 1.0 / RATE)
        f[0] = f[1]
        spec = np.fft.rfft(white) / (np.sqrt(f) if noise == "pink" else f)
        x = np.fft.irfft(spec, n)
    elif noise == "hum":  # mains hum with harmonics, a little hiss
        f0 = rng.choice([50.0, 60.0])
        x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 8))
        x = x / np.sqrt(np.mean(x ** 2)) + 0.1 * white
    elif noise == "machine":  # a motor: square-ish tone, tremolo, band-passed noise
        f0 = rng.uniform(80, 200)
        x = np.sign(np.sin(2 * np.pi * f0 * t)) * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 8) * t)) + 0.5 * white
        write_wav(src, 0.1 * x / np.max(np.abs(x)))
        sox(src, dst, "bandpass", str(rng.uniform(300, 1200)), "1.5q")
        x, _ = read_wav(dst)
    elif noise == "car":  # engine rumble: low-passed brown noise with slow swell, in a cabin
        f = np.fft.rfftfreq(n, 1.0 / RATE)
        f[0] = f[1]
        x = np.fft.irfft(np.fft.rfft(white) / f, n) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t))
        write_wav(src, 0.3 * x / np.max(np.abs(x)))
        sox(src, dst, "lowpass", str(rng.uniform(200, 500)), "reverb", "30")
        x, _ = read_wav(dst)
    elif noise == "fan":  # broadband noise through a resonance, with blade-rate flutter
        x = white * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(10, 30) * t))
        write_wav(src, 0.1 * x / np.max(np.abs(x)))
        sox(src, dst, "bandpass", str(rng.uniform(800, 2500)), "0.7q", "reverb", "50")
        x, _ = read_wav(dst)
    elif noise in ("babble", "cafe"):  # several other talkers (cafe: reverberant, plus clatter)
        x = np.zeros(n)
        for _ in range(4 if noise == "babble" else 6):
            v = speak(texts[rng.integers(len(texts))], babble_voices[rng.integers(len(babble_voices))],
                      int(rng.integers(130, 190)), int(rng.integers(20, 80)), tmp)
            v = np.tile(v, n // len(v) + 1)
            start = rng.integers(len(v) - n + 1)
            x += v[start:start + n] / (np.sqrt(np.mean(v ** 2)) + 1e-9)
        if noise == "cafe":
            clicks = (rng.random(n) < 3.0 / RATE) * rng.standard_normal(n) * 20
            x = x + np.convolve(clicks, np.exp(-np.arange(200) / 30.0), mode="same")
            write_wav(src, 0.05 * x / (np.sqrt(np.mean(x ** 2)) + 1e-9))
            sox(src, dst, "reverb", "60")
            x, _ = read_wav(dst)
    else:
        raise ValueError(noise)
    x = x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=600, help="training utterances")
    ap.add_argument("--test", type=int, default=120, help="test utterances")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    for program, package in (("bible", "bible-kjv"), ("espeak-ng", "espeak-ng"), ("sox", "sox")):
        need(program, package)
    rng = np.random.default_rng(a.seed)
    texts = verses()
    os.makedirs(a.out, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for split, count, voices, noises, snrs, pool in (
                ("train", a.train, TRAIN_VOICES, TRAIN_NOISES, TRAIN_SNRS, texts["old"]),
                ("test", a.test, TEST_VOICES, TEST_NOISES, TEST_SNRS, texts["new"])):
            os.makedirs(os.path.join(a.out, split), exist_ok=True)
            order = rng.permutation(len(pool))
            for i in range(count):
                text = pool[order[i]]
                voice = voices[i % len(voices)]
                speed, pitch = int(rng.integers(130, 190)), int(rng.integers(25, 75))
                clean = speak(text, voice, speed, pitch, tmp)
                clean = 0.5 * clean / (np.max(np.abs(clean)) + 1e-9)  # peak -6 dBFS
                noise_type = noises[int(rng.integers(len(noises)))]
                snr = snrs[int(rng.integers(len(snrs)))]
                others = [t for t in pool[:2000] if t != text]
                noise = shaped(noise_type, len(clean), rng, tmp, voices, others)
                active = np.abs(clean) > 1e-4
                p_speech = np.mean(clean[active] ** 2) if active.any() else np.mean(clean ** 2)
                noisy = clean + noise * np.sqrt(p_speech / 10 ** (snr / 10))
                peak = np.max(np.abs(noisy))
                scale = 0.99 / peak if peak > 0.99 else 1.0  # no clipping: scale both the same
                base = os.path.join(a.out, split, f"{i:04d}")
                write_wav(base + "_clean.wav", clean * scale)
                write_wav(base + "_noisy.wav", noisy * scale)
                rows.append((split, f"{i:04d}", voice, speed, pitch, noise_type, snr, text.replace("\t", " ")))
                if (i + 1) % 50 == 0:
                    print(f"speech_data: {split} {i + 1}/{count}", flush=True)
    with open(os.path.join(a.out, "manifest.tsv.tmp"), "w") as f:
        f.write("# duel speech pairs, written by scripts/speech_data.py (seed %d, %d Hz)\n" % (a.seed, RATE))
        f.write("# split\tid\tvoice\trate\tpitch\tnoise\tsnr_db\ttext\n")
        for r in rows:
            f.write("\t".join(str(v) for v in r) + "\n")
    os.replace(os.path.join(a.out, "manifest.tsv.tmp"), os.path.join(a.out, "manifest.tsv"))
    print(f"speech_data: wrote {len(rows)} pairs to {a.out}")


if __name__ == "__main__":
    main()
