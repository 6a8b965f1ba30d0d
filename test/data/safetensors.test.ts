import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { loadSafetensorsDataset } from '../../src/data/safetensorsData.js';
import { resolveDataset } from '../../src/data/resolve.js';
import { DataError } from '../../src/data/errors.js';
import { bytes, tempDir } from './helpers.js';

describe('safetensors datasets', () => {
  const d = tempDir();

  test('uint8 images [N,C,H,W] + int64 labels, class names from metadata', async () => {
    const f = join(d, 'u8.safetensors');
    const img = bytes(6 * 3 * 4 * 4);
    writeSafetensors(f, { images: { data: img, shape: [6, 3, 4, 4] }, labels: { data: Int32Array.from([0, 1, 2, 0, 1, 2]), shape: [6], dtype: 'I64' } }, { classes: JSON.stringify(['a', 'b', 'c']) });
    const s = await resolveDataset(f, { valSize: 2, valSeed: 3 });
    assert.equal(s.name, 'u8');
    assert.deepEqual(s.classes, ['a', 'b', 'c']);
    assert.deepEqual(s.train.shape, [4, 3, 4, 4]);
    assert.ok(s.val);
    assert.deepEqual(s.val.shape, [2, 3, 4, 4]);
    assert.ok(s.train.images instanceof Uint8Array);
    // Hold-out: the union of train and val is the whole set, and it is the same for the same seed.
    const again = await resolveDataset(f, { valSize: 2, valSeed: 3 });
    assert.deepEqual(Array.from(again.val?.images ?? []), Array.from(s.val.images));
    assert.equal(s.train.labels.length + s.val.labels.length, 6);
  });

  test('float32 images, per-split tensors, numbered classes', () => {
    const f = join(d, 'f32.safetensors');
    const img = Float32Array.from({ length: 4 * 1 * 2 * 2 }, (_, i) => i / 16);
    writeSafetensors(f, {
      train_images: { data: img, shape: [4, 1, 2, 2] },
      train_labels: { data: Int32Array.from([0, 1, 0, 1]), shape: [4] },
      test_images: { data: img.slice(0, 8), shape: [2, 1, 2, 2] },
      test_labels: { data: Int32Array.from([4, 0]), shape: [2] },
    });
    const s = loadSafetensorsDataset(f);
    assert.ok(s.train.images instanceof Float32Array);
    assert.deepEqual(s.train.classes, ['0', '1', '2', '3', '4']);
    assert.deepEqual(s.test.classes, s.train.classes);
    assert.equal(s.train.images[5], 5 / 16);
  });

  test('a folder with train.safetensors and test.safetensors', async () => {
    const sub = join(d, 'folder');
    mkdirSync(sub);
    for (const [split, n] of [['train', 5], ['test', 2]] as const) {
      writeSafetensors(join(sub, `${split}.safetensors`), { images: { data: bytes(n * 4, n), shape: [n, 1, 2, 2] }, labels: { data: new Int32Array(n), shape: [n] } });
    }
    const s = await resolveDataset(sub);
    assert.deepEqual(s.train.shape, [5, 1, 2, 2]);
    assert.deepEqual(s.test?.shape, [2, 1, 2, 2]);
  });

  const bad = (name: string, tensors: Parameters<typeof writeSafetensors>[1], re: RegExp, meta: Record<string, string> = {}): void => {
    const f = join(d, `${name}.safetensors`);
    writeSafetensors(f, tensors, meta);
    assert.throws(() => loadSafetensorsDataset(f), (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.ok(e.message.includes(f), e.message);
      assert.match(e.message, re);
      return true;
    });
  };

  test('bad input: count mismatch, label out of range, wrong shape/dtype, missing tensors, corrupt file', () => {
    bad('count', { images: { data: bytes(12), shape: [3, 1, 2, 2] }, labels: { data: new Int32Array(2), shape: [2] } }, /3 images in 'images' but 2 labels/);
    bad('range', { images: { data: bytes(8), shape: [2, 1, 2, 2] }, labels: { data: Int32Array.from([0, 2]), shape: [2] } }, /label 2 at index 1 is out of range \(expected 0\.\.1\)/, { classes: 'a,b' });
    bad('negative', { images: { data: bytes(8), shape: [2, 1, 2, 2] }, labels: { data: Int32Array.from([0, -1]), shape: [2] } }, /label -1 at index 1 is out of range/);
    bad('shape', { images: { data: bytes(8), shape: [8] }, labels: { data: new Int32Array(8), shape: [8] } }, /shape \[8\], expected \[N, C, H, W\]/);
    bad('dtype', { images: { data: new Int32Array(8), shape: [2, 1, 2, 2] }, labels: { data: new Int32Array(2), shape: [2] } }, /dtype I32, expected U8 or F32/);
    bad('none', { weights: { data: new Float32Array(2), shape: [2] } }, /no 'images' and 'labels' tensors/);
    bad('nolabels', { images: { data: bytes(8), shape: [2, 1, 2, 2] } }, /no tensor 'labels'/);
    assert.throws(() => loadSafetensorsDataset(join(d, 'absent.safetensors')), (e: unknown) => e instanceof DataError && /absent\.safetensors: no such file/.test(e.message));
  });
});
