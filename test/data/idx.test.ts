import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx, loadIdxPair } from '../../src/data/idx.js';
import { resolveDataset, FASHION_MNIST_CLASSES } from '../../src/data/resolve.js';
import { DataError } from '../../src/data/errors.js';
import { isShared } from '../../src/data/dataset.js';
import { bytes, idxBytes, tempDir } from './helpers.js';

const DEBIAN = '/usr/share/datasets/fashion-mnist';
const debianFiles = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
const haveDebian = debianFiles.every((f) => existsSync(join(DEBIAN, f)));

describe('Fashion-MNIST from the Debian package (dataset-fashion-mnist)', () => {
  test(
    'train 60000 / test 10000, 1x28x28, 10 named classes, train mean/std',
    { skip: haveDebian ? false : `${DEBIAN}/*.gz absent: apt-get install dataset-fashion-mnist` },
    async () => {
      const ds = await resolveDataset('fashion-mnist', { download: false, dataDir: tempDir(), cacheDir: tempDir() });
      assert.equal(ds.source, DEBIAN);
      assert.deepEqual(ds.train.shape, [60000, 1, 28, 28]);
      assert.ok(ds.test);
      assert.deepEqual(ds.test.shape, [10000, 1, 28, 28]);
      assert.deepEqual(ds.classes, FASHION_MNIST_CLASSES);
      assert.ok(ds.train.images instanceof Uint8Array && isShared(ds.train.images));
      assert.ok(Math.abs(ds.stats.mean[0] - 0.2860) < 5e-4, `mean ${ds.stats.mean[0]}`);
      assert.ok(Math.abs(ds.stats.std[0] - 0.3530) < 5e-4, `std ${ds.stats.std[0]}`);
      // Balanced: 6000 training and 1000 test images per class.
      const counts = new Array(10).fill(0);
      for (const l of ds.train.labels) counts[l]++;
      assert.deepEqual(counts, new Array(10).fill(6000));
      const tc = new Array(10).fill(0);
      for (const l of ds.test.labels) tc[l]++;
      assert.deepEqual(tc, new Array(10).fill(1000));
      // The first training image is an ankle boot (label 9), as in the original release.
      assert.equal(ds.train.labels[0], 9);
    },
  );
});

describe('IDX reader', () => {
  const dir = tempDir();
  const n = 5;
  const img = bytes(n * 4 * 3, 3);
  const lab = Uint8Array.from([0, 1, 2, 1, 0]);

  test('raw and gzipped files read the same; dims and data', async () => {
    writeFileSync(join(dir, 'a-images'), idxBytes([n, 4, 3], img));
    writeFileSync(join(dir, 'a-images.gz'), idxBytes([n, 4, 3], img, true));
    const a = await readIdx(join(dir, 'a-images'), 3);
    const b = await readIdx(join(dir, 'a-images.gz'), 3);
    assert.deepEqual(a.dims, [n, 4, 3]);
    assert.deepEqual(Array.from(a.data), Array.from(img));
    assert.deepEqual(Array.from(b.data), Array.from(img));
  });

  test('image + label pair -> Dataset [N, 1, H, W]', async () => {
    writeFileSync(join(dir, 'p-images'), idxBytes([n, 4, 3], img));
    writeFileSync(join(dir, 'p-labels'), idxBytes([n], lab));
    const ds = await loadIdxPair(join(dir, 'p-images'), join(dir, 'p-labels'), ['x', 'y', 'z'], 't', 'train');
    assert.deepEqual(ds.shape, [n, 1, 4, 3]);
    assert.deepEqual(Array.from(ds.labels), [0, 1, 2, 1, 0]);
    assert.deepEqual(ds.classes, ['x', 'y', 'z']);
  });

  const rejects = async (p: Promise<unknown>, file: string, re: RegExp): Promise<void> => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
      assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  };

  test('wrong magic number', async () => {
    const f = join(dir, 'magic');
    const b = idxBytes([n, 4, 3], img);
    b[0] = 0x12;
    writeFileSync(f, b);
    await rejects(readIdx(f, 3), f, /wrong magic number 12 00 08 03/);
  });

  test('wrong data type and wrong dimension count', async () => {
    const f = join(dir, 'type');
    const b = idxBytes([n, 4, 3], img);
    b[2] = 0x0d;
    writeFileSync(f, b);
    await rejects(readIdx(f, 3), f, /0xd \(float\); expected 0x08/);
    const g = join(dir, 'dims');
    writeFileSync(g, idxBytes([n], lab));
    await rejects(readIdx(g, 3), g, /1 dimensions, expected 3/);
  });

  test('truncated file (raw and gzip stream)', async () => {
    const f = join(dir, 'trunc');
    writeFileSync(f, idxBytes([n, 4, 3], img).subarray(0, 40));
    await rejects(readIdx(f, 3), f, /truncated IDX file \(40 bytes, expected 76/);
    const g = join(dir, 'trunc.gz');
    const gz = gzipSync(idxBytes([n, 4, 3], bytes(5000)));
    writeFileSync(g, gz.subarray(0, gz.length - 30));
    await rejects(readIdx(g, 3), g, /truncated gzip stream/);
  });

  test('image/label count mismatch', async () => {
    const fi = join(dir, 'm-images');
    const fl = join(dir, 'm-labels');
    writeFileSync(fi, idxBytes([n, 4, 3], img));
    writeFileSync(fl, idxBytes([n - 1], lab.subarray(0, n - 1)));
    await rejects(loadIdxPair(fi, fl, ['a', 'b', 'c'], 't', 'train'), fl, /4 labels but .* holds 5 images/);
  });

  test('label out of range', async () => {
    const fi = join(dir, 'r-images');
    const fl = join(dir, 'r-labels');
    writeFileSync(fi, idxBytes([n, 4, 3], img));
    writeFileSync(fl, idxBytes([n], Uint8Array.from([0, 1, 7, 1, 0])));
    await rejects(loadIdxPair(fi, fl, ['a', 'b', 'c'], 't', 'train'), fl, /label 7 at index 2 is out of range \(expected 0\.\.2\)/);
  });

  test('missing file', async () => {
    const f = join(dir, 'does-not-exist');
    await rejects(readIdx(f, 3), f, /no such file/);
  });
});
