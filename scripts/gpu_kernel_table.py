#!/usr/bin/env python3
"""What duel's hand-written CUDA kernels should do on an A100 (sm_80) and an H100 (sm_90), before
anyone runs them on one: a table made without a GPU, for docs/performance.md ("GPU kernels
without a GPU").

1. Resources. Every kernels/cuda/*.cu is compiled for sm_80 and sm_90 to a cubin
   (`nvcc -cubin -Xptxas -v`, the project's flags), and ptxas's report gives each kernel's
   registers per thread, static shared memory, barriers and spills (float32 instantiations;
   a kernel template instantiated for several functors, like map1/map2 for every unary and
   binary op, is shown as the range over them).
2. Theoretical occupancy, from those and the block size the launch site uses (256 threads for
   every kernel: kThreads, kGemmThreads, and warp_multiple(..) capped at 256, which the DCGAN
   shapes reach), with the architecture's limits (CUDA C Programming Guide, "Compute
   capabilities"): 64 warps, 32 blocks and 65,536 registers per SM, registers allocated per
   warp in units of 256, shared memory 164 KB (sm_80) / 228 KB (sm_90) per SM with 1 KB
   reserved per block.
3. A roofline estimate of each kernel's time on the DCGAN shapes (batch 64; the layers of
   duel_bench): time >= max(FLOP / peak FLOP/s, bytes / DRAM bandwidth), counting the work the
   kernel does (the implicit GEMM's 2·M·N·K, including the zero taps of a strided input
   gradient) and the least DRAM traffic (each operand read once, the output written once), and
   divided by the fraction of SMs a grid smaller than the GPU can occupy. Published peaks:
   A100 SXM4 80 GB 19.5 TFLOP/s FP32 (no tensor cores), 2039 GB/s, 108 SMs; H100 SXM5
   66.9 TFLOP/s FP32, 3352 GB/s, 132 SMs. It is a lower bound: a SIMT FP32 tile kernel reaches
   a fraction of the FMA peak, and small grids pay launch latency (a few microseconds).

  python3 scripts/gpu_kernel_table.py             # print the tables (Markdown)
  python3 scripts/gpu_kernel_table.py --update    # rewrite them in docs/performance.md
"""
import argparse
import glob
import math
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "performance.md")
BEGIN = "<!-- gpu-kernel-table: begin (scripts/gpu_kernel_table.py --update) -->"
END = "<!-- gpu-kernel-table: end -->"

ARCHS = {
    80: dict(gpu="A100 SXM4 80 GB", smem_per_sm=164 * 1024, flops=19.5e12, bw=2039e9, sms=108),
    90: dict(gpu="H100 SXM5", smem_per_sm=228 * 1024, flops=66.9e12, bw=3352e9, sms=132),
}
MAX_WARPS, MAX_BLOCKS, REGS_PER_SM, REG_UNIT, SMEM_RESERVED, SMEM_UNIT = 64, 32, 65536, 256, 1024, 128
THREADS = 256


def compile_cubin(src, arch, tmp):
    out = os.path.join(tmp, os.path.basename(src) + f".{arch}.cubin")
    cmd = ["nvcc", "-std=c++20", "-O3", "-DDUEL_WITH_CUDA=1", f"-arch=sm_{arch}", "-cubin", "-Xptxas", "-v",
           "-I", ROOT, "-o", out, src]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"gpu_kernel_table.py: nvcc failed on {src}:\n{r.stderr[-2000:]}")
    return r.stderr


def demangle(names):
    r = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True)
    return r.stdout.splitlines()


def parse_ptxas(text):
    """[(mangled, regs, smem, barriers, spill_stores, spill_loads)] from ptxas -v output."""
    out, cur, spills = [], None, (0, 0)
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '(\S+)'", line)
        if m:
            cur = m.group(1)
            continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            spills = (int(m.group(1)), int(m.group(2)))
            continue
        m = re.search(r"Used (\d+) registers(?:, used (\d+) barriers)?(?:, (\d+) bytes smem)?", line)
        if m and cur:
            out.append((cur, int(m.group(1)), int(m.group(3) or 0), int(m.group(2) or 0), *spills))
            cur, spills = None, (0, 0)
    return out


def kernel_key(demangled):
    """('bn_stats_kernel', 'float') from 'void duel::cuda::(anon)::bn_stats_kernel<float>(...)'."""
    head = demangled.split("(")[0] if "(anonymous" not in demangled else demangled
    m = re.search(r"::(\w+_kernel\w*)<([^,>]+)", demangled) or re.search(r"::(\w+_kernel\w*)\(", demangled)
    if not m:
        return None, None
    return m.group(1), (m.group(2).strip() if m.lastindex and m.lastindex >= 2 else "")


def occupancy(regs, smem, arch):
    warps = THREADS // 32
    regs_per_warp = math.ceil(regs * 32 / REG_UNIT) * REG_UNIT
    by_regs = (REGS_PER_SM // regs_per_warp) // warps if regs_per_warp else MAX_BLOCKS
    smem_block = math.ceil((smem + SMEM_RESERVED) / SMEM_UNIT) * SMEM_UNIT
    by_smem = ARCHS[arch]["smem_per_sm"] // smem_block
    blocks = min(MAX_BLOCKS, MAX_WARPS // warps, by_regs, by_smem)
    limiter = min([("warps", MAX_WARPS // warps), ("registers", by_regs), ("shared memory", by_smem)],
                  key=lambda t: t[1])[0]
    return blocks * warps / MAX_WARPS, blocks, limiter


def resources(tmp):
    """{(file, kernel): {arch: [(regs, smem, barriers, spill_st, spill_ld)]}} for float32."""
    table = {}
    for src in sorted(glob.glob(os.path.join(ROOT, "kernels", "cuda", "*.cu"))):
        if "__global__" not in open(src).read():
            continue
        for arch in ARCHS:
            rows = parse_ptxas(compile_cubin(src, arch, tmp))
            names = demangle([r[0] for r in rows])
            for (mangled, *vals), dem in zip(rows, names):
                k, t = kernel_key(dem)
                if k is None or t not in ("float", ""):
                    continue
                table.setdefault((os.path.basename(src), k), {}).setdefault(arch, []).append(tuple(vals))
    return table


def rng(vals):
    lo, hi = min(vals), max(vals)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def resource_table(table):
    rows = ["| file | kernel (float32) | instantiations | sm_80 regs | sm_80 smem B | sm_80 occupancy (limit) | "
            "sm_90 regs | sm_90 smem B | sm_90 occupancy (limit) | spills |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for (f, k), by_arch in sorted(table.items()):
        cells = []
        spill = 0
        for arch in (80, 90):
            v = by_arch.get(arch, [])
            if not v:
                cells += ["", "", ""]
                continue
            regs, smem = [x[0] for x in v], [x[1] for x in v]
            spill = max(spill, max(x[3] + x[4] for x in v))
            occ, _, lim = occupancy(max(regs), max(smem), arch)
            cells += [rng(regs), rng(smem), f"{100 * occ:.0f}% ({lim})"]
        rows.append(f"| `{f}` | `{k}` | {len(by_arch.get(80, []))} | " + " | ".join(cells) + f" | {spill} B |")
    return "\n".join(rows) + "\n"


# ---- the DCGAN shapes (batch 64), as duel_bench's rows ----
# (name, N, C, H, W, O, k, stride, pad, transposed)
CONVS = [("D1", 64, 1, 28, 28, 64, 4, 2, 1, False), ("D2", 64, 64, 14, 14, 128, 4, 2, 1, False),
         ("D3", 64, 128, 7, 7, 256, 4, 2, 1, False), ("D4", 64, 256, 3, 3, 1, 3, 1, 0, False),
         ("G1", 64, 100, 1, 1, 256, 4, 1, 0, True), ("G2", 64, 256, 4, 4, 128, 3, 2, 1, True),
         ("G3", 64, 128, 7, 7, 64, 4, 2, 1, True), ("G4", 64, 64, 14, 14, 1, 4, 2, 1, True)]
# batch-norm layers of the DCGAN (G after G1-G3, D after D2-D3): [N, C, H, W]
BNS = [("G1", 64, 256, 4, 4), ("G2", 64, 128, 7, 7), ("G3", 64, 64, 14, 14), ("D2", 64, 128, 7, 7),
       ("D3", 64, 256, 3, 3)]


def gemm_passes(name, N, C, H, W, O, k, s, p, transposed):
    """[(pass, M, Ngemm, K, bytes)] of the implicit GEMM (kernels/cuda/conv.cu)."""
    if not transposed:
        Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
        x, w, y = N * C * H * W, O * C * k * k, N * O * Ho * Wo
        P = Ho * Wo
        return [("fwd", O, N * P, C * k * k, 4 * (x + w + y)),
                ("bwd-input", C, N * H * W, O * k * k, 4 * (y + w + x)),
                ("bwd-weight", O, C * k * k, N * P, 4 * (x + y + w))]
    # a transposed conv from C to O channels is the conv from O (its output, Ho x Wo) to C:
    # its forward is that conv's input gradient, its input gradient that conv's forward
    Ho, Wo = (H - 1) * s - 2 * p + k, (W - 1) * s - 2 * p + k
    x, w, y = N * C * H * W, C * O * k * k, N * O * Ho * Wo
    return [("fwd", O, N * Ho * Wo, C * k * k, 4 * (x + w + y)),
            ("bwd-input", C, N * H * W, O * k * k, 4 * (y + w + x)),
            ("bwd-weight", C, O * k * k, N * H * W, 4 * (x + y + w))]


def estimate(flop, nbytes, blocks, arch, occ_blocks):
    a = ARCHS[arch]
    t = max(flop / a["flops"], nbytes / a["bw"])
    active = min(1.0, blocks / a["sms"])  # a grid smaller than the GPU leaves SMs idle
    return t / active, ("compute" if flop / a["flops"] >= nbytes / a["bw"] else "memory"), active


def roofline_table(table):
    occ = {}
    for key in (("conv.cu", "gemm_tile_kernel"), ("batch_norm.cu", "bn_stats_kernel"),
                ("batch_norm.cu", "bn_apply_kernel"), ("batch_norm.cu", "bn_backward_kernel")):
        v = table.get(key, {})
        occ[key[1]] = {arch: occupancy(max(x[0] for x in v[arch]), max(x[1] for x in v[arch]), arch)[1]
                       for arch in v}
    rows = ["| kernel | layer, pass | GEMM M x N x K or tensor | GFLOP | MB (least traffic) | FLOP/byte | blocks | "
            "A100 µs (bound, SMs used) | H100 µs (bound, SMs used) |",
            "|---|---|---|--:|--:|--:|--:|--:|--:|"]
    for conv in CONVS:
        for pas, M, Ng, K, nbytes in gemm_passes(*conv):
            flop = 2 * M * Ng * K
            blocks = math.ceil(M / 64) * math.ceil(Ng / 64)
            cells = []
            for arch in (80, 90):
                t, bound, active = estimate(flop, nbytes, blocks, arch, occ["gemm_tile_kernel"].get(arch))
                cells.append(f"{1e6 * t:.1f} ({bound}, {100 * active:.0f}%)")
            kind = "convT2d" if conv[9] else "conv2d"
            rows.append(f"| `gemm_tile_kernel` | {kind} {conv[0]} {pas} | {M} x {Ng} x {K} | {flop / 1e9:.3f} | "
                        f"{nbytes / 1e6:.2f} | {flop / nbytes:.1f} | {blocks} | " + " | ".join(cells) + " |")
    for name, N, C, H, W in BNS:
        n = N * C * H * W
        # stats: x read (the second pass hits L2); apply: x read, y written; backward: x, gy read, gx written
        for kern, tensors, flop_per, blocks in (("bn_stats_kernel", 1, 4, C), ("bn_apply_kernel", 2, 3, math.ceil(n / 256)),
                                                ("bn_backward_kernel", 3, 8, C)):
            nbytes, flop = 4 * tensors * n, flop_per * n
            cells = []
            for arch in (80, 90):
                t, bound, active = estimate(flop, nbytes, min(blocks, 65535), arch, None)
                cells.append(f"{1e6 * t:.2f} ({bound}, {100 * active:.0f}%)")
            rows.append(f"| `{kern}` | batch norm after {name} | [{N},{C},{H},{W}] | {flop / 1e9:.4f} | {nbytes / 1e6:.2f} | "
                        f"{flop / nbytes:.2f} | {blocks} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def nvcc_version():
    r = subprocess.run(["nvcc", "--version"], capture_output=True, text=True)
    m = re.search(r"release ([\d.]+), (V[\d.]+)", r.stdout)
    return f"nvcc {m.group(2)}" if m else "nvcc (version unknown)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--update", action="store_true", help=f"rewrite the tables between the markers in {DOC}")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = resources(tmp)
    text = (f"Generated by `python3 scripts/gpu_kernel_table.py --update` with {nvcc_version()} "
            f"(`-O3 -arch=sm_80|sm_90`, ptxas -v); {THREADS} threads per block.\n\n"
            "**Resources and theoretical occupancy** (per kernel template, float32):\n\n"
            + resource_table(table) +
            "\n**Roofline lower bounds on the DCGAN shapes** (batch 64, float32, no tensor cores):\n\n"
            + roofline_table(table))
    if not args.update:
        print(text)
        return
    doc = open(DOC).read()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"gpu_kernel_table.py: {DOC} has no {BEGIN} ... {END} markers")
    i, j = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    with open(DOC, "w") as f:
        f.write(doc[:i] + "\n" + text + doc[j:])
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
