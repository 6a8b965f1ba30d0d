import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DataLoader, createLoaders, type Batch, type LoaderOptions } from '../../src/data/loader.js';
import { makeSplits, type Dataset } from '../../src/data/dataset.js';
import { transformReference, sampleRng } from '../../src/data/transforms.js';
import { DataError } from '../../src/data/errors.js';
import { randomDataset } from './helpers.js';

const ds = randomDataset(203, 3, 8, 8, 10, 3);
const base: LoaderOptions = {
  batchSize: 16,
  seed: 1234,
  augment: { crop: { padding: 2, mode: 'reflect' }, flip: true, cutout: { size: 3, p: 0.5 }, erasing: { p: 0.3, value: 'random' } },
  normalize: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.3, 0.25] },
};

async function collect(opts: Partial<LoaderOptions>, epoch: number, startBatch = 0): Promise<Batch[]> {
  const l = new DataLoader(ds, { ...base, ...opts });
  try {
    const out: Batch[] = [];
    for await (const b of l.epoch(epoch, { startBatch })) out.push(b);
    return out;
  } finally {
    await l.close();
  }
}

function same(a: Batch[], b: Batch[]): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].index, b[i].index);
    assert.deepEqual(a[i].shape, b[i].shape);
    assert.deepEqual(a[i].indices, b[i].indices);
    assert.deepEqual(a[i].labels, b[i].labels);
    assert.ok(Buffer.from(a[i].images.buffer, a[i].images.byteOffset, a[i].images.byteLength).equals(Buffer.from(b[i].images.buffer, b[i].images.byteOffset, b[i].images.byteLength)), `batch ${i} images differ`);
  }
}

describe('DataLoader', () => {
  test('an epoch visits every sample once; labels match; the last batch is partial unless dropLast', async () => {
    const bs = await collect({ workers: 0 }, 0);
    assert.equal(bs.length, 13);
    assert.deepEqual(bs[12].shape, [203 - 12 * 16, 3, 8, 8]);
    const seen = bs.flatMap((b) => Array.from(b.indices)).sort((x, y) => x - y);
    assert.deepEqual(seen, Array.from({ length: 203 }, (_, i) => i));
    for (const b of bs) b.indices.forEach((i, j) => assert.equal(b.labels[j], ds.labels[i]));
    const dropped = await collect({ workers: 0, dropLast: true }, 0);
    assert.equal(dropped.length, 12);
    assert.ok(dropped.every((b) => b.shape[0] === 16));
  });

  test('batch contents equal the reference transform of each sample', async () => {
    const [b] = await collect({ workers: 0 }, 3);
    const per = 3 * 64;
    for (let j = 0; j < b.indices.length; j++) {
      const i = b.indices[j];
      const ref = transformReference(ds.images.subarray(i * per, (i + 1) * per), 3, 8, 8, { normalize: base.normalize!, augment: base.augment }, sampleRng(1234, 3, i));
      for (let k = 0; k < per; k++) assert.ok(Math.abs(ref[k] - b.images[j * per + k]) < 1e-5);
    }
  });

  test('deterministic: same seed -> same batches; in-thread, 1 worker and 2 workers identical', async () => {
    const sync = await collect({ workers: 0 }, 2);
    same(sync, await collect({ workers: 0 }, 2));
    same(sync, await collect({ workers: 1 }, 2));
    same(sync, await collect({ workers: 2, prefetch: 5 }, 2));
    const other = await collect({ workers: 0, seed: 99 }, 2);
    assert.notDeepEqual(other[0].indices, sync[0].indices);
    const nextEpoch = await collect({ workers: 0 }, 3);
    assert.notDeepEqual(nextEpoch[0].indices, sync[0].indices);
  });

  test('resumable mid-epoch: starting at batch b gives batches b.. of the full epoch', async () => {
    const full = await collect({ workers: 0 }, 5);
    same(full.slice(7), await collect({ workers: 0 }, 5, 7));
    same(full.slice(7), await collect({ workers: 2 }, 5, 7));
    same([], await collect({ workers: 0 }, 5, 13));
    const l = new DataLoader(ds, { ...base, workers: 0 });
    same([full[4]], [l.getBatch(5, 4)]);
    assert.throws(() => l.getBatch(5, 13), DataError);
    await assert.rejects(async () => {
      for await (const b of l.epoch(5, { startBatch: 14 })) void b;
    }, /start batch 14 is out of range/);
  });

  test('no augmentation and no shuffle: the plain normalised dataset in order', async () => {
    const l = new DataLoader(ds, { batchSize: 100, shuffle: false, normalize: { mean: [0], std: [1] }, workers: 0 });
    const b = l.getBatch(0, 1);
    assert.deepEqual(Array.from(b.indices.subarray(0, 3)), [100, 101, 102]);
    assert.ok(Math.abs(b.images[0] - ds.images[100 * 192] / 255) < 1e-7);
  });

  test('breaking out of an epoch with workers, then continuing, and measuring throughput', async () => {
    const l = new DataLoader(ds, { ...base, workers: 2, prefetch: 6 });
    try {
      let n = 0;
      for await (const b of l.epoch(0)) {
        void b;
        if (++n === 3) break;
      }
      const rest: Batch[] = [];
      for await (const b of l.epoch(0, { startBatch: 3 })) rest.push(b);
      same(rest, (await collect({ workers: 0 }, 0)).slice(3));
      const t = l.throughput();
      assert.equal(t.batches, 13);
      assert.equal(t.images, 203);
      assert.ok(t.imagesPerSecond > 0 && t.seconds > 0);
    } finally {
      await l.close();
    }
  });

  test('float32 images: workers read them from shared memory and match the in-thread path', async () => {
    const f: Dataset = { ...ds, images: new Float32Array(new SharedArrayBuffer(ds.images.length * 4)) };
    f.images.set(Float32Array.from(ds.images, (v) => v / 255));
    const run = async (workers: number): Promise<Batch[]> => {
      const l = new DataLoader(f, { ...base, workers });
      const out: Batch[] = [];
      try {
        for await (const b of l.epoch(1)) out.push(b);
      } finally {
        await l.close();
      }
      return out;
    };
    const a = await run(0);
    same(a, await run(2));
    const u = await collect({ workers: 0 }, 1);
    for (let i = 0; i < a.length; i++) for (let k = 0; k < a[i].images.length; k += 97) assert.ok(Math.abs(a[i].images[k] - u[i].images[k]) < 1e-4);
  });

  test('createLoaders: train shuffles and augments; val/test keep order, normalised with the train stats', async () => {
    const s = makeSplits('r', ds, ds, 'mem', { valSize: 50, valSeed: 1 });
    const L = createLoaders(s, { batchSize: 32, evalBatchSize: 64, augment: { crop: true, flip: true }, workers: 0 });
    try {
      assert.ok(L.train.augmenting && L.train.shuffle);
      assert.ok(L.val && L.test && !L.val.augmenting && !L.test.shuffle);
      assert.equal(L.test.batchSize, 64);
      assert.deepEqual(L.test.spec.normalize.mean, s.stats.mean);
      assert.deepEqual(Array.from(L.test.getBatch(0, 0).indices.subarray(0, 3)), [0, 1, 2]);
    } finally {
      await L.close();
    }
  });

  test('close() with batches still in flight: late replies are ignored', async () => {
    const l = new DataLoader(ds, { ...base, workers: 2, prefetch: 8 });
    for await (const b of l.epoch(0)) {
      void b;
      break; // leaves up to 8 batches in flight
    }
    await l.close();
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(async () => {
      for await (const b of l.epoch(0)) void b;
    }, /data loader is closed/);
  });

  test('bad options', () => {
    assert.throws(() => new DataLoader(ds, { batchSize: 0 }), /batch size 0 is invalid/);
    assert.throws(() => new DataLoader(ds, { batchSize: 4, workers: -1 }), /worker count -1/);
    assert.throws(() => new DataLoader(ds, { batchSize: 4, normalize: { mean: [0, 0], std: [1, 1] }, workers: 0 }), /2 means, expected 3/);
  });
});
