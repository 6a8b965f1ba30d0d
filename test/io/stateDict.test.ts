import { test, describe } from 'node:test';
import { pythonHas, skipWithout } from '../shared/reference.js';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { execFileSync } from 'node:child_process';
import { JsBackend } from '../../src/backend/js/index.js';
import { noGrad, setBackend, tidy } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import { Tensor } from '../../src/core/tensor.js';
import { TorchvisionResNet } from '../../src/models/index.js';
import { readPth } from '../../src/io/pth.js';
import { readSafetensors, type LoadedTensor } from '../../src/io/safetensors.js';
import { toCanonical, detectLayout, inferArch, checkStateDict, StateDictError } from '../../src/io/stateDict.js';

const FIX = path.resolve(process.cwd(), 'test/io/fixtures');
const SHARED = path.resolve(process.cwd(), '../shared/fixtures');

const ref = readSafetensors(path.join(FIX, 'wrn-10-1.safetensors')).tensors;

function sameTensors(a: Map<string, LoadedTensor>, b: Map<string, LoadedTensor>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of a) {
    assert.deepEqual(t.shape, b.get(k)?.shape, k);
    assert.deepEqual(t.data, b.get(k)?.data, k);
  }
}

describe('state-dict importers', () => {
  for (const [file, layout, where] of [
    ['wrn-10-1.official.pth', 'official', 'params'],
    ['wrn-10-1.official-old.pth', 'official', 'params+stats'],
    ['wrn-10-1.xternalz.pth', 'xternalz', 'state_dict'],
  ] as const) {
    test(`${file}: detected as ${layout}, renamed to the canonical tensors`, async () => {
      const r = await readPth(path.join(FIX, file));
      assert.equal(r.stateDictPath, where);
      assert.equal(detectLayout(r.tensors.keys()), layout);
      const auto = toCanonical(r.tensors, 'auto', file);
      assert.equal(auto.layout, layout);
      sameTensors(auto.tensors, ref);
      sameTensors(toCanonical(r.tensors, layout, file).tensors, ref);
      assert.deepEqual(inferArch(auto.tensors), { arch: 'wrn-10-1', inChannels: 3, classes: 10 });
    });
  }

  test('canonical names pass through; the golden WRN-10-2 is inferred', () => {
    const g = readSafetensors(path.join(SHARED, 'wrn-10-2.safetensors')).tensors;
    const c = toCanonical(g);
    assert.equal(c.layout, 'canonical');
    assert.deepEqual([...c.tensors.keys()], [...g.keys()]);
    assert.deepEqual(inferArch(c.tensors), { arch: 'wrn-10-2', inChannels: 3, classes: 10 });
  });

  test('inferArch: deeper, wider, other block types and torchvision names', () => {
    const s = (shape: number[]): { shape: number[] } => ({ shape });
    const wrn = (n: number, k: number, kernels: number[], inC = 1, classes = 100): Map<string, { shape: number[] }> => {
      const m = new Map([['conv1.weight', s([16, inC, 3, 3])], ['fc.weight', s([classes, 64 * k])]]);
      for (let g = 1; g <= 3; g++) {
        for (let i = 0; i < n; i++) kernels.forEach((kk, j) => m.set(`layer${g}.${i}.conv${j + 1}.weight`, s([16 * 2 ** (g - 1) * k, 1, kk, kk])));
      }
      return m;
    };
    assert.deepEqual(inferArch(wrn(4, 10, [3, 3])), { arch: 'wrn-28-10', inChannels: 1, classes: 100 });
    assert.equal(inferArch(wrn(3, 2, [3, 1, 3])).arch, 'wrn-22-2-b313');
    const tv = new Map([['conv1.weight', s([64, 3, 7, 7])], ['fc.weight', s([1000, 2048])]]);
    [3, 4, 6, 3].forEach((n, g) => {
      for (let i = 0; i < n; i++) tv.set(`layer${g + 1}.${i}.conv1.weight`, s([128 << g, 1, 1, 1]));
    });
    assert.deepEqual(inferArch(tv), { arch: 'wide-resnet50-2', inChannels: 3, classes: 1000 });
    tv.set('bn1.weight', s([64]));
    tv.set('layer1.0.conv3.weight', s([256, 128, 1, 1]));
    assert.equal(detectLayout(tv.keys()), 'torchvision');
    assert.throws(() => inferArch(new Map([['fc.weight', s([10, 4])]]), 'x.pth'), /x\.pth: cannot infer the architecture: no 'conv1\.weight'/);
  });

  test('unknown layouts and keys: one error naming them all', () => {
    const m = new Map([['foo.weight', 1], ['bar', 2]]);
    assert.throws(() => toCanonical(m, 'auto', 'm.pth'), /m\.pth: cannot tell the layout of this state dict .*keys: foo\.weight, bar/);
    const x = new Map([['conv1.weight', 1], ['block1.layer.0.bn1.weight', 2], ['block1.layer.0.extra.weight', 3], ['head.weight', 4]]);
    assert.throws(() => toCanonical(x, 'auto', 'x.pth'), /x\.pth: 2 keys not in the xternalz layout: block1\.layer\.0\.extra\.weight, head\.weight/);
  });
});

describe('strict check', () => {
  test('lists every missing, unexpected and mis-shaped key in one error', () => {
    const expected = new Map<string, readonly number[]>([['a', [2, 3]], ['b', [4]], ['c', [1]], ['d', [5]]]);
    const provided = new Map<string, { shape: number[] }>([['a', { shape: [3, 2] }], ['b', { shape: [4] }], ['e', { shape: [1] }], ['f', { shape: [] }]]);
    assert.throws(
      () => checkStateDict(expected, provided, 'w.safetensors', 'wrn-10-2'),
      (e: unknown) => {
        assert.ok(e instanceof StateDictError);
        assert.equal(
          e.message,
          'w.safetensors: does not fit wrn-10-2 (2 missing: c, d; 2 unexpected: e, f; 1 mis-shaped: a is [3,2], expected [2,3])',
        );
        return true;
      },
    );
    checkStateDict(expected, new Map([...expected].map(([k, v]) => [k, { shape: [...v] }])));
  });

  test('fixtures agree with wrn-10-2.json', () => {
    const j = JSON.parse(fs.readFileSync(path.join(SHARED, 'wrn-10-2.json'), 'utf8')) as { state_dict: Record<string, number[]> };
    checkStateDict(new Map(Object.entries(j.state_dict)), readSafetensors(path.join(SHARED, 'wrn-10-2.safetensors')).tensors);
    assert.throws(() => checkStateDict(new Map(Object.entries(j.state_dict)), ref), /does not fit the model \(1 missing: layer1\.0\.shortcut\.weight; 33 mis-shaped: layer1\.0\.conv1\.weight is \[16,16,3,3\], expected \[32,16,3,3\]; /);
  });
});

const havePy = pythonHas('torch', 'torchvision');

test('python-backed: a torchvision Bottleneck ResNet state dict gives torchvision\'s logits (skips without torchvision, outside CI)', { skip: skipWithout(havePy, '/usr/bin/python3 has no torch/torchvision') }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-tv-'));
  try {
    const f = path.join(dir, 'tv.pth');
    const io = path.join(dir, 'io.json');
    execFileSync('/usr/bin/python3', ['-c', `
import json, torch
from torchvision.models.resnet import ResNet, Bottleneck
torch.manual_seed(0)
m = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=3, width_per_group=16)
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
            mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 2.0)
m.eval()
x = torch.randn(2, 3, 48, 48)
torch.save(m.state_dict(), ${JSON.stringify(f)})
json.dump({"x": x.reshape(-1).tolist(), "y": m(x).detach().reshape(-1).tolist()}, open(${JSON.stringify(io)}, "w"))
`], { stdio: 'inherit', timeout: 180000 });
    const r = await readPth(f);
    assert.equal(detectLayout(r.tensors.keys()), 'torchvision');
    const { tensors } = toCanonical(r.tensors, 'auto', f);
    assert.ok(!tensors.has('bn1.num_batches_tracked'));
    setBackend(new JsBackend());
    const model = new TorchvisionResNet({ arch: 'tiny', layers: [1, 1, 1, 1], widthPerGroup: 16, classes: 3, rng: new Rng(0) });
    checkStateDict(new Map([...model.stateDict()].map(([k, t]) => [k, t.shape])), tensors, f);
    model.loadStateDict(new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }])), f);
    model.eval();
    const { x, y } = JSON.parse(fs.readFileSync(io, 'utf8')) as { x: number[]; y: number[] };
    const got = noGrad(() => tidy(() => model.forward(Tensor.fromArray(Float32Array.from(x), [2, 3, 48, 48])).toArray()));
    const scale = Math.max(...y.map(Math.abs));
    const err = Math.max(...y.map((v, i) => Math.abs(v - got[i]))) / scale;
    assert.ok(err <= 1e-4, `relative error ${err}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
