#!/usr/bin/env python3
"""WGAN-GP on Fashion-MNIST in PyTorch, the same setup as `duel train wgan-gp --data fashion-mnist`:
an independent reference for the first iterations' losses, penalty and gradient norms.

  /usr/bin/python3 scripts/reference/wgan_gp_torch.py --steps 100 [--bias] [--dcgan-init] --out DIR

The networks are duel's gan/nets.cpp dcgan_generator / dcgan_discriminator(sigmoid=false,
batchnorm=false) (convolutions without bias, as in DCGAN where batch norm follows); --bias
gives the critic's convolutions biases (Gulrajani et al.'s code has them). Writes
DIR/metrics.jsonl (one line per iteration) and DIR/samples.png.
"""
import argparse, gzip, json, os, struct, time
import numpy as np
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=100)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--bias", action="store_true")
p.add_argument("--dcgan-init", action="store_true")
p.add_argument("--lam", type=float, default=10.0)
p.add_argument("--out", required=True)
a = p.parse_args()
torch.manual_seed(a.seed)
np.random.seed(a.seed)
torch.set_num_threads(1)

with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
    _, n, h, w = struct.unpack(">IIII", f.read(16))
    x_all = np.frombuffer(f.read(), np.uint8).reshape(n, 1, h, w).astype(np.float32) / 127.5 - 1.0
x_all = torch.from_numpy(x_all)

G = nn.Sequential(
    nn.ConvTranspose2d(100, 256, 4, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
    nn.ConvTranspose2d(256, 128, 3, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
    nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
    nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False), nn.Tanh())
D = nn.Sequential(
    nn.Conv2d(1, 64, 4, 2, 1, bias=a.bias), nn.LeakyReLU(0.2),
    nn.Conv2d(64, 128, 4, 2, 1, bias=a.bias), nn.LeakyReLU(0.2),
    nn.Conv2d(128, 256, 4, 2, 1, bias=a.bias), nn.LeakyReLU(0.2),
    nn.Conv2d(256, 1, 3, 1, 0, bias=a.bias), nn.Flatten())
if a.dcgan_init:
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.02)
        if isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1, 0.02); nn.init.zeros_(m.bias)
oG = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.9))
oD = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.9))
m = 64
os.makedirs(a.out, exist_ok=True)
log = open(os.path.join(a.out, "metrics.jsonl"), "w")
perm, pos = torch.randperm(len(x_all)), 0
def batch():
    global perm, pos
    if pos + m > len(perm):
        perm, pos = torch.randperm(len(x_all)), 0
    b = x_all[perm[pos:pos + m]]; pos += m
    return b
t0 = time.time()
for it in range(a.steps):
    for _ in range(5):
        x = batch()
        with torch.no_grad():
            xf = G(torch.randn(m, 100, 1, 1))
        eps = torch.rand(m, 1, 1, 1)
        xh = (eps * x + (1 - eps) * xf).requires_grad_(True)
        g, = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
        gnorm = g.flatten(1).norm(dim=1)
        gp = a.lam * ((gnorm - 1) ** 2).mean()
        dr, df = D(x).mean(), D(xf).mean()
        lossD = df - dr + gp
        oD.zero_grad(); lossD.backward()
        wnorm = torch.sqrt(sum((p.grad ** 2).sum() for p in D.parameters()))
        oD.step()
    lossG = -D(G(torch.randn(m, 100, 1, 1))).mean()
    oG.zero_grad(); lossG.backward(); oG.step()
    rec = dict(step=it + 1, loss_D=lossD.item(), loss_G=lossG.item(), wasserstein=(dr - df).item(),
               gp=gp.item(), input_grad_norm=gnorm.mean().item(), critic_grad_norm=wnorm.item())
    log.write(json.dumps(rec) + "\n"); log.flush()
    if (it + 1) % 25 == 0:
        print(rec, f"{time.time() - t0:.0f}s", flush=True)
G.eval()
with torch.no_grad():
    s = G(torch.randn(64, 100, 1, 1)).clamp(-1, 1)
img = ((s.view(8, 8, 28, 28).permute(0, 2, 1, 3).reshape(224, 224) + 1) * 127.5).byte().numpy()
try:
    from PIL import Image
    Image.fromarray(img).save(os.path.join(a.out, "samples.png"))
except ImportError:
    np.save(os.path.join(a.out, "samples.npy"), img)
