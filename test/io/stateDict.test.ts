import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
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
