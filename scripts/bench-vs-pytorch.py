"""PyTorch side of scripts/bench-vs-pytorch.mjs: img/s of one WRN configuration on random data.

Usage: PYTHON scripts/bench-vs-pytorch.py DEPTH WIDTH BATCH MODE PRECISION STEPS WARMUP [GENERATOR_DIR]
MODE is train|infer, PRECISION fp32|bf16. Runs channels_last, then NCHW, and prints one JSON line with
both and the faster ("img_per_s"). The second layout stops early when its first measured step is already
1.5x slower than the first layout's median (it cannot be the faster one; its partial median is reported).
Threads: torch.set_num_threads(os.cpu_count()) unless OMP_NUM_THREADS is set.
"""
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

depth, width, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
mode, precision = sys.argv[4], sys.argv[5]
steps, warmup = int(sys.argv[6]), int(sys.argv[7])
gen_dir = sys.argv[8] if len(sys.argv) > 8 else os.path.join(os.path.dirname(__file__), '../../shared/fixtures/generator')
sys.path.insert(0, os.path.abspath(gen_dir))
from wrn import WideResNet  # noqa: E402

threads = int(os.environ.get('OMP_NUM_THREADS') or os.cpu_count())
torch.set_num_threads(threads)
torch.manual_seed(0)


def run(channels_last, stop_above=None):
    model = WideResNet(depth, width, 10, 3)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    bf16 = precision == 'bf16'
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    if mode == 'train':
        model.train()
    else:
        model.eval()

    def step():
        if mode == 'train':
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                model(x)

    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        step()
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
            if stop_above is not None and dt > 1.5 * stop_above:
                break
    return statistics.median(times), len(times)


cl_t, cl_n = run(True)
nchw_t, nchw_n = run(False, stop_above=cl_t)
cl, nchw = batch / cl_t, batch / nchw_t
print(json.dumps({'arch': f'wrn-{depth}-{width}', 'batch': batch, 'mode': mode, 'precision': precision,
                  'threads': threads, 'torch': torch.__version__, 'nchw': nchw, 'nchw_steps': nchw_n,
                  'channels_last': cl, 'channels_last_steps': cl_n, 'img_per_s': max(nchw, cl),
                  'layout': 'channels_last' if cl >= nchw else 'nchw',
                  'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
