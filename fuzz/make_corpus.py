#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (fuzz/corpus/<harness>/), small valid inputs
the fuzzers mutate. The files are committed; rerun this only to change them:

    python3 fuzz/make_corpus.py
"""
import gzip
import os
import struct
import zlib

ROOT = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    d = os.path.join(ROOT, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def align(n):
    return (n + 63) // 64 * 64


def checkpoint(tensors, meta):
    """A format-1 duel checkpoint (docs/data-and-checkpoints.md). tensors: (name, code, dims, payload)."""
    body = struct.pack("<Q", len(meta))
    for k, v in meta:
        body += struct.pack("<I", len(k)) + k + struct.pack("<Q", len(v)) + v
    body += struct.pack("<Q", len(tensors))
    entries = sum(4 + len(n) + 8 + 8 * len(d) + 20 for n, _, d, _ in tensors)
    off = align(16 + len(body) + entries + 4)
    offsets = []
    for name, code, dims, payload in tensors:
        offsets.append(off)
        body += struct.pack("<I", len(name)) + name + struct.pack("<BBHI", code, 0, 0, len(dims))
        body += b"".join(struct.pack("<q", d) for d in dims)
        body += struct.pack("<QQI", off, len(payload), zlib.crc32(payload))
        off = align(off + len(payload))
    f = b"DUELCKPT" + struct.pack("<II", 1, len(body)) + body
    f += struct.pack("<I", zlib.crc32(f))
    for (_, _, _, payload), o in zip(tensors, offsets):
        f += b"\0" * (o - len(f)) + payload
    end = len(f)
    return f + b"DUELEND!" + struct.pack("<QII", end + 24, zlib.crc32(f), 0)


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def main():
    f32 = lambda *v: struct.pack("<%df" % len(v), *v)
    write("checkpoint_reader", "empty.duel", checkpoint([], []))
    write("checkpoint_reader", "meta_only.duel", checkpoint([], [(b"step", b"1200"), (b"model", b"dcgan")]))
    write("checkpoint_reader", "one_f32.duel", checkpoint([(b"w", 1, [2, 2], f32(1, 2, 3, 4))], [(b"step", b"3")]))
    write("checkpoint_reader", "all_dtypes.duel", checkpoint([
        (b"f32", 1, [3], f32(0.5, -1, 2)),
        (b"f64", 2, [1, 2], struct.pack("<2d", 1.5, -2.5)),
        (b"i64", 3, [2], struct.pack("<2q", -3, 7)),
        (b"mask", 4, [4], bytes([1, 0, 1, 1])),
        (b"scalar", 2, [], struct.pack("<d", 2.5)),
        (b"empty", 1, [0, 3], b""),
    ], [(b"config", b'{"lr": 0.0002}'), (b"bin", b"\0\1\2\xff")]))

    img = [(i * 37 + 11) % 256 if (i % 28) in range(8, 20) else 0 for i in range(2 * 28 * 28)]
    raw = idx([2, 28, 28], img)
    lbl = idx([5], [3, 1, 4, 1, 5])
    # first byte: even = the rest is the file, odd = the rest is gzip-compressed by the harness
    write("idx_reader", "images_raw", b"\0" + raw)
    write("idx_reader", "labels_raw", b"\0" + lbl)
    write("idx_reader", "images_via_gzip", b"\1" + raw)
    write("idx_reader", "labels_via_gzip", b"\1" + lbl)
    write("idx_reader", "images_gz", b"\0" + gzip.compress(raw, mtime=0))
    write("idx_reader", "two_members_gz", b"\0" + gzip.compress(raw[:700], mtime=0) + gzip.compress(raw[700:], mtime=0))
    write("idx_reader", "small_3d_raw", b"\0" + idx([1, 2, 3], range(6)))


if __name__ == "__main__":
    main()
