"""Pre-activation ResNets for CIFAR (He et al. 2016, "Identity Mappings in Deep Residual Networks"),
written independently in PyTorch to check our parameter counts and MACs.

Basic (depth 6N+2): BN-ReLU-conv3x3-BN-ReLU-conv3x3; bottleneck (depth 9N+2): BN-ReLU-conv1x1(m)-
BN-ReLU-conv3x3(m, stride)-BN-ReLU-conv1x1(4m). A 1x1 conv shortcut on the pre-activated input where
shape changes (fb.resnet.torch preresnet.lua). Stem conv3x3 to 16, final BN-ReLU, pool, linear.

    /usr/bin/python3 scripts/reference/preact_resnet.py      # prints params and MACs as JSON
"""
import json
import sys

import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit('/', 1)[0] + '/../../../shared/fixtures/generator')


class Block(nn.Module):
    def __init__(self, cin, specs, stride, stride_at):
        super().__init__()
        self.bns = nn.ModuleList()
        self.convs = nn.ModuleList()
        c = cin
        for i, (k, cout) in enumerate(specs):
            self.bns.append(nn.BatchNorm2d(c))
            self.convs.append(nn.Conv2d(c, cout, k, stride if i == stride_at else 1, k // 2, bias=False))
            c = cout
        self.shortcut = nn.Conv2d(cin, c, 1, stride, bias=False) if cin != c or stride != 1 else None

    def forward(self, x):
        o = F.relu(self.bns[0](x))
        sc = x if self.shortcut is None else self.shortcut(o)
        y = self.convs[0](o)
        for bn, conv in zip(self.bns[1:], self.convs[1:]):
            y = conv(F.relu(bn(y)))
        return y + sc


class PreActResNet(nn.Module):
    def __init__(self, depth, bottleneck, classes=10, in_ch=3):
        super().__init__()
        n = (depth - 2) // (9 if bottleneck else 6)
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        blocks, c = [], 16
        for g, m in enumerate((16, 32, 64)):
            specs = [(1, m), (3, m), (1, 4 * m)] if bottleneck else [(3, m), (3, m)]
            for i in range(n):
                blocks.append(Block(c, specs, 2 if i == 0 and g > 0 else 1, 1 if bottleneck else 0))
                c = specs[-1][1]
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.blocks(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


if __name__ == '__main__':
    from wrn import count_macs, count_params
    out = {}
    for depth, bottleneck in ((110, False), (164, True), (1001, True)):
        m = PreActResNet(depth, bottleneck)
        out[f'preact-resnet-{depth}'] = {'params': count_params(m), 'macs': count_macs(m, (1, 3, 32, 32))}
    import torchvision.models as tvm
    for name in ('resnet50', 'wide_resnet50_2', 'wide_resnet101_2'):
        m = getattr(tvm, name)()
        out[name] = {'params': count_params(m), 'macs': count_macs(m, (1, 3, 224, 224))}
    print(json.dumps(out))
