import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalise, preprocess, PreprocessError, resizeCrop, toBytes, type Pixels } from '../../src/preprocess/image.js';

const rgb = (w: number, h: number, f: (x: number, y: number) => [number, number, number]): Pixels => {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(f(x, y), 3 * (y * w + x));
  return { data, width: w, height: h, channels: 3 };
};

describe('shared image preprocessing', () => {
  test('same size: the identity (CHW, /255)', () => {
    const p = rgb(4, 4, (x, y) => [x * 60, y * 60, 255]);
    const out = resizeCrop(p, 4, 3);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        assert.ok(Math.abs(out[y * 4 + x] - (x * 60) / 255) < 1e-6);
        assert.ok(Math.abs(out[16 + y * 4 + x] - (y * 60) / 255) < 1e-6);
        assert.equal(out[32 + y * 4 + x], 1);
      }
    }
  });

  test('shrinking averages (antialiased): a 1-pixel checkerboard becomes flat grey', () => {
    const p = rgb(64, 64, (x, y) => ((x + y) % 2 ? [255, 255, 255] : [0, 0, 0]));
    const out = resizeCrop(p, 8, 3);
    for (const v of out) assert.ok(Math.abs(v - 0.5) < 0.02, `${v}`);
  });

  test('the shorter side is resized and the centre cropped', () => {
    // 30x10, blue in the middle (x 8..21), red outside: the centred 10x10 (x 10..19), shrunk 2x with
    // the filter reaching 2 source pixels out, reads blue only.
    const p = rgb(30, 10, (x) => (x >= 8 && x < 22 ? [0, 0, 255] : [255, 0, 0]));
    const out = resizeCrop(p, 5, 3);
    for (let i = 0; i < 25; i++) {
      assert.ok(out[i] < 0.01, `red ${out[i]}`);
      assert.ok(out[50 + i] > 0.99, `blue ${out[50 + i]}`);
    }
  });

  test('alpha is composited onto black; grey uses BT.601 weights', () => {
    const p: Pixels = { data: new Uint8Array([200, 100, 50, 128]), width: 1, height: 1, channels: 4 };
    const c3 = resizeCrop(p, 1, 3);
    assert.ok(Math.abs(c3[0] - (200 * 128) / 255 / 255) < 1e-6);
    const g = resizeCrop(p, 1, 1);
    assert.ok(Math.abs(g[0] - ((0.299 * 200 + 0.587 * 100 + 0.114 * 50) * 128) / 255 / 255) < 1e-6);
    const grey: Pixels = { data: new Uint8Array([10, 255]), width: 1, height: 1, channels: 2 };
    assert.deepEqual(Array.from(toBytes(resizeCrop(grey, 1, 3))), [10, 10, 10]);
  });

  test('normalise per channel, preprocess = resizeCrop + normalise', () => {
    // (0.5-0.5)/0.5, (1-0.5)/0.5; (0-0)/0.25, (0.25-0)/0.25
    assert.deepEqual(Array.from(normalise(Float32Array.from([0.5, 1, 0, 0.25]), [0.5, 0], [0.5, 0.25])), [0, 1, 0, 1]);
    const p = rgb(2, 2, () => [255, 0, 51]);
    assert.deepEqual(Array.from(preprocess(p, { size: 1, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] })).map((v) => Math.round(v * 100) / 100), [1, -1, -0.6]);
  });

  test('bad pixels are refused with a message, not a huge allocation', () => {
    assert.throws(() => resizeCrop({ data: new Uint8Array(3), width: 2, height: 2, channels: 3 }, 4, 3), PreprocessError);
    assert.throws(() => resizeCrop({ data: new Uint8Array(0), width: 100_000, height: 100_000, channels: 3 }, 4, 3), /larger than the 40 megapixels/);
    assert.throws(() => resizeCrop(rgb(2, 2, () => [0, 0, 0]), 0, 3), /output size 0/);
  });
});
