"""PyTorch reference for `wrn train` on Fashion-MNIST: the same recipe, timed per epoch on this machine.

Usage:
  /usr/bin/python3 scripts/reference/train_fashion_mnist.py [--depth 16] [--width 2] [--epochs 7]
      [--run-epochs N] [--channels-last] [--seed 0] [--data /usr/share/datasets/fashion-mnist]

Recipe (what the issue's PyTorch run used and `wrn train --schedule cosine --dropout 0 --val-size 0 --pad zero`
does): SGD Nesterov 0.9, lr 0.1 with a per-step cosine schedule over --epochs, weight decay 5e-4, batch 128,
pad-4 zero crop + horizontal flip, mean/std of the training split, no dropout, all 60,000 training images.
Augmentation is done batched on tensors so that the Python data path does not dominate the timing.
--run-epochs stops early (e.g. 1 to time an epoch without training the whole schedule).
Prints one JSON line per epoch (seconds, img/s, train loss/acc) and the final test accuracy.
Needs Debian's python3-torch (and the fixture generator's wrn.py beside the project in ../shared).
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--depth', type=int, default=16)
p.add_argument('--width', type=int, default=2)
p.add_argument('--epochs', type=int, default=7)
p.add_argument('--run-epochs', type=int, default=None)
p.add_argument('--channels-last', action='store_true')
p.add_argument('--seed', type=int, default=0)
p.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
p.add_argument('--generator', default=os.path.join(os.path.dirname(__file__), '../../../shared/fixtures/generator'))
args = p.parse_args()

sys.path.insert(0, os.path.abspath(args.generator))
from wrn import WideResNet  # noqa: E402

torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS') or os.cpu_count()))
torch.manual_seed(args.seed)
g = torch.Generator().manual_seed(args.seed)


def idx(name):
    with gzip.open(os.path.join(args.data, name), 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy())


x_train = idx('train-images-idx3-ubyte.gz').float().div_(255).unsqueeze(1)
y_train = idx('train-labels-idx1-ubyte.gz').long()
x_test = idx('t10k-images-idx3-ubyte.gz').float().div_(255).unsqueeze(1)
y_test = idx('t10k-labels-idx1-ubyte.gz').long()
mean, std = x_train.mean().item(), x_train.std().item()
x_train = (x_train - mean) / std
x_test = (x_test - mean) / std
# Zero padding of the raw image is padding with -mean/std after normalisation.
padded = F.pad(x_train, (4, 4, 4, 4), value=(0 - mean) / std)

batch, n = 128, x_train.shape[0]
steps_per_epoch = math.ceil(n / batch)
total_steps = steps_per_epoch * args.epochs
model = WideResNet(args.depth, args.width, 10, 1)
fmt = torch.channels_last if args.channels_last else torch.contiguous_format
model = model.to(memory_format=fmt)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))


def augment(ids):
    b = ids.numel()
    ox = torch.randint(0, 9, (b,), generator=g)
    oy = torch.randint(0, 9, (b,), generator=g)
    rows = (oy[:, None] + torch.arange(28)[None, :])  # b x 28
    cols = (ox[:, None] + torch.arange(28)[None, :])
    imgs = padded[ids, 0][torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
    flip = torch.rand(b, generator=g) < 0.5
    imgs[flip] = imgs[flip].flip(-1)
    return imgs.unsqueeze(1).contiguous(memory_format=fmt)


run_epochs = args.run_epochs or args.epochs
for epoch in range(1, run_epochs + 1):
    model.train()
    perm = torch.randperm(n, generator=g)
    t0 = time.perf_counter()
    loss_sum, correct = 0.0, 0
    for s in range(steps_per_epoch):
        ids = perm[s * batch:(s + 1) * batch]
        x, y = augment(ids), y_train[ids]
        out = model(x)
        loss = F.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_sum += loss.item() * ids.numel()
        correct += (out.argmax(1) == y).sum().item()
    secs = time.perf_counter() - t0
    print(json.dumps({'epoch': epoch, 'seconds': round(secs, 1), 'img_per_s': round(n / secs, 1),
                      'train_loss': loss_sum / n, 'train_acc': correct / n,
                      'layout': 'channels_last' if args.channels_last else 'nchw',
                      'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)

model.eval()
correct = 0
with torch.no_grad():
    for s in range(0, x_test.shape[0], 500):
        out = model(x_test[s:s + 500].contiguous(memory_format=fmt))
        correct += (out.argmax(1) == y_test[s:s + 500]).sum().item()
print(json.dumps({'epochs_run': run_epochs, 'of': args.epochs, 'test_acc': correct / x_test.shape[0]}))
