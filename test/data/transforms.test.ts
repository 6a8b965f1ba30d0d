import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  drawSample, epochPermutation, hflip, normalizeLut, padCrop, sampleRng, transformInto, transformReference, type TransformSpec,
} from '../../src/data/transforms.js';
import { channelStats, makeSplits } from '../../src/data/dataset.js';
import { bytes, randomDataset } from './helpers.js';

const close = (a: Float32Array, b: Float32Array, tol = 1e-5): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > tol) assert.fail(`index ${i}: ${a[i]} vs ${b[i]}`);
};

describe('transforms', () => {
  test('padCrop: reflection (no edge repeat) and zero padding on a 3x3 image', () => {
    const img = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // pad 1, offset (0,0): top-left corner of the padded image. Reflect: row -1 -> row 1, col -1 -> col 1.
    assert.deepEqual(Array.from(padCrop(img, 1, 3, 3, 1, 'reflect', 0, 0)), [5, 4, 5, 2, 1, 2, 5, 4, 5]);
    assert.deepEqual(Array.from(padCrop(img, 1, 3, 3, 1, 'zero', 0, 0)), [0, 0, 0, 0, 1, 2, 0, 4, 5]);
    assert.deepEqual(Array.from(padCrop(img, 1, 3, 3, 1, 'zero', 2, 2)), [5, 6, 0, 8, 9, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(padCrop(img, 1, 3, 3, 1, 'reflect', 1, 1)), Array.from(img));
    assert.deepEqual(Array.from(hflip(img, 1, 3, 3)), [3, 2, 1, 6, 5, 4, 9, 8, 7]);
  });

  const specs: [string, TransformSpec][] = [
    ['crop reflect + flip', { normalize: { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] }, augment: { crop: { padding: 4, mode: 'reflect' }, flip: true } }],
    ['crop zero + flip + cutout', { normalize: { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] }, augment: { crop: { padding: 4, mode: 'zero' }, flip: true, cutout: { size: 8 } } }],
    ['random erasing (noise)', { normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, augment: { erasing: { p: 1, value: 'random' } } }],
    ['everything', { normalize: { mean: [0.1, 0.2, 0.3], std: [1, 2, 3] }, augment: { crop: true, flip: true, cutout: { size: 5, p: 0.5 }, erasing: true } }],
  ];

  for (const [name, spec] of specs) {
    test(`fused transformInto equals the unfused reference: ${name}`, () => {
      const c = 3, h = 12, w = 10;
      const src = bytes(c * h * w, 11);
      const lut = normalizeLut(spec, c);
      for (let i = 0; i < 40; i++) {
        const out = new Float32Array(c * h * w);
        transformInto(src, 0, c, h, w, out, 0, spec, sampleRng(5, 1, i), lut);
        const ref = transformReference(src, c, h, w, spec, sampleRng(5, 1, i));
        close(out, ref);
        // float32 source on [0, 1] gives the same result
        const f = Float32Array.from(src, (v) => v / 255);
        const out2 = new Float32Array(c * h * w);
        transformInto(f, 0, c, h, w, out2, 0, { ...spec, pixelScale: 1 }, sampleRng(5, 1, i), null);
        close(out2, ref, 1e-4);
      }
    });
  }

  test('the draws cover every crop offset and both flips; cutout clips at borders', () => {
    const seen = new Set<string>();
    let flips = 0;
    for (let i = 0; i < 2000; i++) {
      const d = drawSample(sampleRng(0, 0, i), 32, 32, { crop: { padding: 4 }, flip: true, cutout: { size: 16 } });
      seen.add(`${d.oy},${d.ox}`);
      if (d.flip) flips++;
      assert.ok(d.cutout && d.cutout.y0 >= 0 && d.cutout.y1 <= 32 && d.cutout.x1 - d.cutout.x0 <= 16);
    }
    assert.equal(seen.size, 81);
    assert.ok(flips > 900 && flips < 1100, `flips ${flips}`);
  });

  test('evaluation (no rng) is normalisation only', () => {
    const spec: TransformSpec = { normalize: { mean: [0.5], std: [0.25] }, augment: { crop: true, flip: true } };
    const src = Uint8Array.from([0, 255, 51, 102]);
    const out = new Float32Array(4);
    transformInto(src, 0, 1, 2, 2, out, 0, spec, null, normalizeLut(spec, 1));
    close(out, Float32Array.from([-2, 2, (0.2 - 0.5) / 0.25, (0.4 - 0.5) / 0.25]));
  });

  test('seeded: per-sample generators and epoch permutations are reproducible and differ by seed/epoch', () => {
    assert.deepEqual(sampleRng(1, 2, 3).state, sampleRng(1, 2, 3).state);
    assert.notDeepEqual(sampleRng(1, 2, 3).state, sampleRng(1, 2, 4).state);
    assert.notDeepEqual(sampleRng(1, 2, 3).state, sampleRng(1, 3, 3).state);
    assert.notDeepEqual(sampleRng(1, 2, 3).state, sampleRng(2, 2, 3).state);
    const p = epochPermutation(1000, 7, 0);
    assert.deepEqual(p, epochPermutation(1000, 7, 0));
    assert.notDeepEqual(p, epochPermutation(1000, 7, 1));
    assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  });
});

describe('statistics and splits', () => {
  test('channelStats on uint8 equals the direct float64 computation', () => {
    const ds = randomDataset(50, 3, 5, 4);
    const s = channelStats(ds);
    for (let c = 0; c < 3; c++) {
      let sum = 0, sq = 0, n = 0;
      for (let i = 0; i < 50; i++) for (let p = 0; p < 20; p++, n++) {
        const v = ds.images[(i * 3 + c) * 20 + p] / 255;
        sum += v;
        sq += v * v;
      }
      const m = sum / n;
      assert.ok(Math.abs(s.mean[c] - m) < 1e-12);
      assert.ok(Math.abs(s.std[c] - Math.sqrt(sq / n - m * m)) < 1e-12);
    }
  });

  test('validation hold-out: fixed by seed, disjoint, stats on the remaining training images', () => {
    const ds = randomDataset(100, 1, 2, 2);
    // Tag every image with its index so the split can be traced.
    for (let i = 0; i < 100; i++) ds.images[i * 4] = i;
    const a = makeSplits('r', ds, undefined, 'mem', { valSize: 20, valSeed: 9 });
    const b = makeSplits('r', ds, undefined, 'mem', { valSize: 0.2, valSeed: 9 });
    const c = makeSplits('r', ds, undefined, 'mem', { valSize: 20, valSeed: 10 });
    const ids = (d: { images: Uint8Array | Float32Array; shape: number[] }): number[] => Array.from({ length: d.shape[0] }, (_, i) => d.images[i * 4]);
    assert.ok(a.val && b.val && c.val);
    assert.deepEqual(ids(a.val), ids(b.val));
    assert.notDeepEqual(ids(a.val), ids(c.val));
    assert.deepEqual([...ids(a.val), ...ids(a.train)].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(a.stats, channelStats(a.train));
    assert.throws(() => makeSplits('r', ds, undefined, 'mem', { valSize: 100 }), /validation size 100 is invalid/);
  });
});
