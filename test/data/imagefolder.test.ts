import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadImageFolder } from '../../src/data/imagefolder.js';
import { resolveDataset } from '../../src/data/resolve.js';
import { DataError } from '../../src/data/errors.js';
import { tempDir } from './helpers.js';

/** An RGB image whose pixel (x, y) is (r, g, b) = f(x, y). */
async function writeImage(file: string, w: number, h: number, f: (x: number, y: number) => [number, number, number], format: 'png' | 'jpeg' | 'webp'): Promise<void> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(f(x, y), (y * w + x) * 3);
  const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
  const buf = format === 'png' ? await img.png().toBuffer() : format === 'jpeg' ? await img.jpeg({ quality: 95 }).toBuffer() : await img.webp({ lossless: true }).toBuffer();
  writeFileSync(file, buf);
}

const solid = (r: number, g: number, b: number) => (): [number, number, number] => [r, g, b];

describe('image-folder reader (sharp)', () => {
  const root = tempDir();

  test('flat layout: classes from sorted sub-folders, PNG + JPEG + WebP, resize + center crop, RGB CHW', async () => {
    const d = join(root, 'flat');
    mkdirSync(join(d, 'cat'), { recursive: true });
    mkdirSync(join(d, 'ant'), { recursive: true });
    // 16x8 PNG: left half red, middle half green, right quarter blue -> shorter side 8 -> 8x8 center crop = columns 4..11.
    await writeImage(join(d, 'ant', 'a.png'), 16, 8, (x) => (x < 4 ? [255, 0, 0] : x < 12 ? [0, 255, 0] : [0, 0, 255]), 'png');
    await writeImage(join(d, 'ant', 'b.JPG'), 10, 10, solid(200, 100, 50), 'jpeg');
    await writeImage(join(d, 'cat', 'c.webp'), 8, 24, solid(10, 20, 30), 'webp');
    writeFileSync(join(d, 'cat', 'notes.txt'), 'ignored');
    const s = await loadImageFolder(d, { size: 8 });
    assert.equal(s.val, undefined);
    assert.equal(s.test, undefined);
    const ds = s.train;
    assert.deepEqual(ds.classes, ['ant', 'cat']);
    assert.deepEqual(ds.shape, [3, 3, 8, 8]);
    assert.deepEqual(Array.from(ds.labels), [0, 0, 1]);
    const px = (i: number, c: number, y: number, x: number): number => ds.images[((i * 3 + c) * 8 + y) * 8 + x];
    // Image 0: every pixel of the crop is green.
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) assert.deepEqual([px(0, 0, y, x), px(0, 1, y, x), px(0, 2, y, x)], [0, 255, 0]);
    // JPEG: close to (200, 100, 50).
    for (const [c, v] of [[0, 200], [1, 100], [2, 50]]) assert.ok(Math.abs(px(1, c, 4, 4) - v) <= 3, `jpeg channel ${c}: ${px(1, c, 4, 4)}`);
    assert.deepEqual([px(2, 0, 0, 0), px(2, 1, 7, 7), px(2, 2, 3, 3)], [10, 20, 30]);
    assert.deepEqual(ds.meta.ignoredFiles, [join(d, 'cat', 'notes.txt')]);
  });

  test('grayscale output and train/test layout sharing the class list', async () => {
    const d = join(root, 'split');
    for (const sp of ['train', 'test']) for (const c of ['x', 'y']) mkdirSync(join(d, sp, c), { recursive: true });
    await writeImage(join(d, 'train', 'x', '1.png'), 12, 12, solid(255, 255, 255), 'png');
    await writeImage(join(d, 'train', 'y', '1.jpg'), 12, 12, solid(0, 0, 0), 'jpeg');
    await writeImage(join(d, 'train', 'y', '2.png'), 6, 6, solid(0, 0, 0), 'png');
    await writeImage(join(d, 'test', 'y', '1.png'), 5, 9, solid(255, 255, 255), 'png');
    await writeImage(join(d, 'test', 'x', '1.png'), 5, 9, solid(0, 0, 0), 'png');
    const s = await resolveDataset(d, { imageSize: 4, channels: 1, valSize: 0 });
    assert.deepEqual(s.train.shape, [3, 1, 4, 4]);
    assert.ok(s.test);
    assert.deepEqual(s.test.shape, [2, 1, 4, 4]);
    assert.deepEqual(s.test.classes, ['x', 'y']);
    assert.deepEqual(Array.from(s.test.labels), [0, 1]);
    assert.equal(s.train.images[0], 255);
    assert.ok(s.train.images[16] <= 2);
    assert.ok(Math.abs(s.stats.mean[0] - 1 / 3) < 0.01);
  });

  const rejects = async (p: Promise<unknown>, file: string, re: RegExp): Promise<void> => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
      assert.ok(e.message.includes(file), `names ${file}: ${e.message}`);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  };

  test('an unreadable image', async () => {
    const d = join(root, 'bad');
    mkdirSync(join(d, 'a'), { recursive: true });
    await writeImage(join(d, 'a', 'ok.png'), 4, 4, solid(1, 2, 3), 'png');
    writeFileSync(join(d, 'a', 'broken.png'), Buffer.from('this is not a png'));
    await rejects(loadImageFolder(d), join(d, 'a', 'broken.png'), /unreadable image .*expected a PNG, JPEG or WebP file/);
  });

  test('an empty class folder', async () => {
    const d = join(root, 'empty');
    mkdirSync(join(d, 'a'), { recursive: true });
    mkdirSync(join(d, 'b'), { recursive: true });
    await writeImage(join(d, 'a', 'ok.png'), 4, 4, solid(1, 2, 3), 'png');
    writeFileSync(join(d, 'b', 'readme.txt'), 'no images here');
    await rejects(loadImageFolder(d), join(d, 'b'), /empty class folder/);
  });

  test('a folder without class sub-folders, and a path that does not exist', async () => {
    const d = join(root, 'noclasses');
    mkdirSync(d, { recursive: true });
    await rejects(loadImageFolder(d), d, /no class sub-folders/);
    const m = join(root, 'missing');
    await rejects(resolveDataset(m), m, /no such file or directory/);
  });
});
