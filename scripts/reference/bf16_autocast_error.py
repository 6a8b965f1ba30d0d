"""How far PyTorch's own bf16 (CPU autocast) lands from fp32 after a WRN-10-2 training step: the max
relative error (max|a - b| / max|b|, per tensor) of the gradients and of the parameters after 2 Nesterov
SGD steps, batch 4, 16x16 inputs, three seeds. It grounds the finite bf16 tolerances of
test/backend/native-train.test.ts. Run: /usr/bin/python3 scripts/reference/bf16_autocast_error.py
(Debian's PyTorch 1.13; the shared fixtures' generator/wrn.py must be at ../shared/fixtures).
"""
import os
import sys, torch, torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../shared/fixtures/generator'))
from wrn import WideResNet
torch.set_num_threads(2)
def run(bf16, seed):
    torch.manual_seed(seed)
    m = WideResNet(10, 2, 10, 3)
    x = torch.randn(4, 3, 16, 16); y = torch.randint(0, 10, (4,))
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    grads = None
    for step in (1, 2):
        opt.zero_grad()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(m(x).float(), y)
        loss.backward()
        if step == 1: grads = {k: p.grad.clone() for k, p in m.named_parameters()}
        opt.step()
    return grads, {k: p.detach().clone() for k, p in m.named_parameters()}
def rel(a, b): return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
for seed in (0, 1, 2):
    g32, p32 = run(False, seed); g16, p16 = run(True, seed)
    ge = sorted(rel(g16[k], g32[k]) for k in g32); pe = sorted(rel(p16[k], p32[k]) for k in p32)
    print(seed, 'grad median %.3f max %.3f' % (ge[len(ge)//2], ge[-1]), 'param median %.4f max %.4f' % (pe[len(pe)//2], pe[-1]))
