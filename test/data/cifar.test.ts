import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadCifar, parseCifarBin, CIFAR10_CLASSES } from '../../src/data/cifar.js';
import { readTarEntries } from '../../src/data/tar.js';
import { writeTar } from '../shared/tarCraft.js';
import { resolveDataset } from '../../src/data/resolve.js';
import { DataError } from '../../src/data/errors.js';
import { cifarRecords, pixel, tempDir } from './helpers.js';

const C10_NAMES = CIFAR10_CLASSES.join('\n') + '\n\n';
const FINE = Array.from({ length: 100 }, (_, i) => `fine${i}`);
const COARSE = Array.from({ length: 20 }, (_, i) => `coarse${i}`);

/** CIFAR-10: batch k holds 3 records with labels (k + j) % 10, record ids offset so pixels differ. */
function cifar10Files(): { name: string; data: Buffer }[] {
  const files: { name: string; data: Buffer }[] = [];
  for (let k = 1; k <= 5; k++) {
    files.push({ name: `data_batch_${k}.bin`, data: cifarRecords([0, 1, 2].map((j) => [(k + j) % 10]), (k - 1) * 3) });
  }
  files.push({ name: 'test_batch.bin', data: cifarRecords([[9], [8]], 100) });
  files.push({ name: 'batches.meta.txt', data: Buffer.from(C10_NAMES) });
  return files;
}

function cifar100Files(): { name: string; data: Buffer }[] {
  return [
    { name: 'train.bin', data: cifarRecords([[3, 99], [19, 0], [0, 42], [7, 7]]) },
    { name: 'test.bin', data: cifarRecords([[1, 2]], 50) },
    { name: 'fine_label_names.txt', data: Buffer.from(FINE.join('\n') + '\n') },
    { name: 'coarse_label_names.txt', data: Buffer.from(COARSE.join('\n') + '\n') },
  ];
}

function writeDir(dir: string, files: { name: string; data: Buffer }[]): void {
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f.name), f.data);
}

function tarGz(prefix: string, files: { name: string; data: Buffer }[]): Buffer {
  return gzipSync(writeTar(files.map((f) => ({ name: `${prefix}/${f.name}`, data: f.data }))));
}

function checkCifar10(train: { shape: number[]; labels: Int32Array; images: Uint8Array | Float32Array; classes: string[] }, test: { shape: number[]; labels: Int32Array }): void {
  assert.deepEqual(train.shape, [15, 3, 32, 32]);
  assert.deepEqual(test.shape, [2, 3, 32, 32]);
  assert.deepEqual(train.classes, CIFAR10_CLASSES);
  assert.deepEqual(Array.from(train.labels.subarray(0, 6)), [1, 2, 3, 2, 3, 4]);
  assert.deepEqual(Array.from(test.labels), [9, 8]);
  // Channel-major planes: R, G, B; rows top to bottom.
  for (const [i, c, y, x] of [[0, 0, 0, 0], [4, 1, 5, 31], [14, 2, 31, 7]]) {
    assert.equal(train.images[((i * 3 + c) * 32 + y) * 32 + x], pixel(i, c, y, x), `pixel ${i},${c},${y},${x}`);
  }
}

describe('CIFAR-10 binary', () => {
  const root = tempDir();

  test('extracted folder (cifar-10-batches-bin/) and the folder itself', async () => {
    writeDir(join(root, 'ex', 'cifar-10-batches-bin'), cifar10Files());
    const a = await loadCifar(join(root, 'ex'));
    assert.equal(a.kind, 'cifar10');
    checkCifar10(a.train, a.test);
    const b = await loadCifar(join(root, 'ex', 'cifar-10-batches-bin'), 'cifar10');
    checkCifar10(b.train, b.test);
  });

  test('official .tar.gz archive', async () => {
    const f = join(root, 'cifar-10-binary.tar.gz');
    writeFileSync(f, tarGz('cifar-10-batches-bin', cifar10Files()));
    const a = await loadCifar(f);
    checkCifar10(a.train, a.test);
    assert.ok(a.train.meta.sources[0].startsWith(`${f}:`));
  });

  test('resolveDataset by path and by name through WRN_DATA, with train mean/std', async () => {
    const s = await resolveDataset(join(root, 'cifar-10-binary.tar.gz'));
    assert.equal(s.name, 'cifar10');
    assert.equal(s.stats.mean.length, 3);
    let sum = 0;
    let n = 0;
    for (let i = 0; i < 15; i++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++, n++) sum += pixel(i, 1, y, x) / 255;
    assert.ok(Math.abs(s.stats.mean[1] - sum / n) < 1e-9);
    const byName = await resolveDataset('cifar10', { dataDir: join(root, 'ex'), download: false, systemDirs: { cifar10: [] }, cacheDir: tempDir() });
    checkCifar10(byName.train, byName.test as NonNullable<typeof byName.test>);
  });
});

describe('CIFAR-100 binary', () => {
  const root = tempDir();
  const check = (s: Awaited<ReturnType<typeof loadCifar>>, mode: 'fine' | 'coarse'): void => {
    assert.equal(s.kind, 'cifar100');
    assert.deepEqual(s.train.shape, [4, 3, 32, 32]);
    const fine = [99, 0, 42, 7];
    const coarse = [3, 19, 0, 7];
    assert.deepEqual(Array.from(s.train.labels), mode === 'fine' ? fine : coarse);
    assert.deepEqual(s.train.classes, mode === 'fine' ? FINE : COARSE);
    const other = s.train.extraLabels?.[mode === 'fine' ? 'coarse' : 'fine'];
    assert.ok(other);
    assert.deepEqual(Array.from(other.labels), mode === 'fine' ? coarse : fine);
    assert.deepEqual(other.classes, mode === 'fine' ? COARSE : FINE);
    assert.deepEqual(Array.from(s.test.labels), mode === 'fine' ? [2] : [1]);
    assert.equal(s.train.images[((2 * 3 + 2) * 32 + 3) * 32 + 4], pixel(2, 2, 3, 4));
  };

  test('extracted folder, fine and coarse labels, names from the .txt files', async () => {
    writeDir(join(root, 'cifar-100-binary'), cifar100Files());
    check(await loadCifar(root), 'fine');
    check(await loadCifar(root, 'cifar100', { labelMode: 'coarse' }), 'coarse');
  });

  test('official .tar.gz archive', async () => {
    const f = join(root, 'cifar-100-binary.tar.gz');
    writeFileSync(f, tarGz('cifar-100-binary', cifar100Files()));
    check(await loadCifar(f), 'fine');
    check(await loadCifar(f, 'cifar100', { labelMode: 'coarse' }), 'coarse');
  });
});

describe('tar reader', () => {
  test('long entries across chunk boundaries, selection by name', async () => {
    const d = tempDir();
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
    const f = join(d, 'x.tar');
    writeFileSync(f, writeTar([{ name: 'a/skip.bin', data: Buffer.alloc(777, 1) }, { name: 'a/big.bin', data: big }, { name: 'a/empty', data: Buffer.alloc(0) }]));
    const got = await readTarEntries(f, (n) => n !== 'a/skip.bin');
    assert.deepEqual([...got.keys()].sort(), ['a/big.bin', 'a/empty']);
    assert.ok((got.get('a/big.bin') as Buffer).equals(big));
  });
});

describe('CIFAR bad input', () => {
  const root = tempDir();
  const rejects = async (p: Promise<unknown>, file: string, re: RegExp): Promise<void> => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
      assert.ok(e.message.includes(file), `names ${file}: ${e.message}`);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  };

  test('truncated .bin file', async () => {
    const d = join(root, 'trunc');
    const files = cifar10Files();
    files[2] = { name: files[2].name, data: files[2].data.subarray(0, 3073 * 2 + 100) };
    writeDir(d, files);
    await rejects(loadCifar(d), join(d, 'data_batch_3.bin'), /not a whole number of 3073-byte cifar10 records/);
  });

  test('label out of range', async () => {
    const d = join(root, 'range');
    const files = cifar10Files();
    files[0] = { name: files[0].name, data: cifarRecords([[1], [10], [2]]) };
    writeDir(d, files);
    await rejects(loadCifar(d), join(d, 'data_batch_1.bin'), /label 10 at index 1 is out of range \(expected 0\.\.9\)/);
    const e = join(root, 'range100');
    const f100 = cifar100Files();
    f100[0] = { name: 'train.bin', data: cifarRecords([[3, 99], [20, 0]]) };
    writeDir(e, f100);
    await rejects(loadCifar(e), join(e, 'train.bin'), /coarse label 20 at index 1 is out of range \(expected 0\.\.19\)/);
  });

  test('missing batch file', async () => {
    const d = join(root, 'missing');
    writeDir(d, cifar10Files().filter((f) => f.name !== 'data_batch_4.bin'));
    await rejects(loadCifar(d), join(d, 'data_batch_4.bin'), /missing \(expected the cifar10 binary file/);
  });

  test('wrong class-name count', async () => {
    const d = join(root, 'names');
    const files = cifar10Files();
    files[6] = { name: 'batches.meta.txt', data: Buffer.from('a\nb\n') };
    writeDir(d, files);
    await rejects(loadCifar(d), join(d, 'batches.meta.txt'), /2 class names, expected 10/);
  });

  test('truncated and corrupt .tar.gz', async () => {
    const full = tarGz('cifar-10-batches-bin', cifar10Files());
    const f = join(root, 'trunc.tar.gz');
    writeFileSync(f, full.subarray(0, Math.floor(full.length / 2)));
    await rejects(loadCifar(f), f, /truncated/);
    const raw = writeTar(cifar10Files().map((x) => ({ name: `cifar-10-batches-bin/${x.name}`, data: x.data })));
    raw[0] ^= 0xff; // first header's name: checksum no longer matches
    const g = join(root, 'corrupt.tar.gz');
    writeFileSync(g, gzipSync(raw));
    await rejects(loadCifar(g), g, /corrupt tar header/);
    const h = join(root, 'cut.tar');
    raw[0] ^= 0xff; // restore
    writeFileSync(h, raw.subarray(0, 512 + 3073 * 3 + 512 * 2 - 9)); // inside the second entry's data
    await rejects(loadCifar(h), h, /truncated tar archive/);
  });

  test('records of the wrong kind', () => {
    assert.throws(() => parseCifarBin(cifarRecords([[1, 2]]), 'x.bin', 'cifar10', { primary: CIFAR10_CLASSES }, 'train'), /x\.bin: 3074 bytes is not a whole number of 3073-byte/);
  });
});
