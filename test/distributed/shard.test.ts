import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataLoader } from '../../src/data/loader.js';
import type { Dataset } from '../../src/data/dataset.js';
import { mpiLaunch } from '../../src/distributed/launch.js';
import { EvalAccumulator } from '../../src/inference/evaluate.js';

const NORM = { mean: [0], std: [1] };

function dataset(n: number): Dataset {
  return {
    images: new Uint8Array(n * 4), labels: Int32Array.from({ length: n }, (_, i) => i % 3), shape: [n, 1, 2, 2],
    meta: { name: 'toy' },
  } as unknown as Dataset;
}

test('ranks take disjoint slices that together are exactly each global batch; a last batch shorter than the ranks is dropped', () => {
  const ds = dataset(103);
  const one = new DataLoader(ds, { batchSize: 16, seed: 3, workers: 0, normalize: NORM });
  for (const size of [2, 3, 4]) {
    const shards = Array.from({ length: size }, (_, rank) => new DataLoader(ds, { batchSize: 16, seed: 3, workers: 0, normalize: NORM, shard: { rank, size } }));
    const nb = shards[0].batchesPerEpoch;
    assert.equal(nb, 103 % 16 >= size ? 7 : 6);
    for (let b = 0; b < nb; b++) {
      const joined = shards.flatMap((s) => [...s.batchIndices(1, b)]);
      assert.deepEqual(joined, [...one.batchIndices(1, b)], `batch ${b} with ${size} ranks`);
    }
    // Full batches split evenly: rank r takes [kB + rB/N, kB + (r+1)B/N) when N divides B.
    if (16 % size === 0) for (const s of shards) assert.equal(s.batchIndices(0, 0).length, 16 / size);
  }
  const tiny = Array.from({ length: 4 }, (_, rank) => new DataLoader(dataset(18), { batchSize: 16, workers: 0, normalize: NORM, shard: { rank, size: 4 } }));
  assert.equal(tiny[0].batchesPerEpoch, 1, '2 leftover images cannot feed 4 ranks');
});

test('MPI launch is read from the environment only', () => {
  assert.equal(mpiLaunch({}), null);
  assert.deepEqual(mpiLaunch({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4' }), { rank: 3, size: 4, source: 'OMPI_COMM_WORLD_RANK' });
  assert.deepEqual(mpiLaunch({ PMIX_RANK: '1' }), { rank: 1, size: null, source: 'PMIX_RANK' });
  assert.equal(mpiLaunch({ OMPI_COMM_WORLD_RANK: 'x' }), null);
});

test('evaluation counts survive a sum over ranks', () => {
  const a = new EvalAccumulator(3);
  a.add(Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.1, 0.8]), Int32Array.from([0, 1]));
  const b = new EvalAccumulator(3);
  b.add(Float32Array.from([0.2, 0.5, 0.3]), Int32Array.from([1]));
  const sum = a.counts().map((v, i) => v + b.counts()[i]);
  const r = EvalAccumulator.fromCounts(3, sum).result();
  assert.equal(r.images, 3);
  assert.equal(r.accuracy, 2 / 3);
  assert.deepEqual(r.confusion, [[1, 0, 0], [0, 1, 1], [0, 0, 0]]);
  assert.ok(Math.abs(r.loss - -(Math.log(0.7) + Math.log(0.1) + Math.log(0.5)) / 3) < 1e-6);
});
