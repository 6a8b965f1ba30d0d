import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, batchSizes, QueueFullError } from '../../src/serve/batcher.js';

/** A fake model: logits row = [sum of the input row]; records the batch sizes it ran. */
function fake(delayMs: number): { run: (x: Float32Array, rows: number) => Promise<{ logits: Float32Array }>; batches: number[] } {
  const batches: number[] = [];
  return {
    batches,
    run: async (x, rows) => {
      batches.push(rows);
      await new Promise((r) => setTimeout(r, delayMs));
      const out = new Float32Array(rows);
      for (let i = 0; i < rows; i++) out[i] = x[2 * i] + x[2 * i + 1];
      return { logits: out };
    },
  };
}

describe('dynamic batcher', () => {
  test('requests within the window run as one batch, each gets its own rows back', async () => {
    const m = fake(5);
    const b = new Batcher(m.run, { maxBatch: 8, windowMs: 30, maxQueue: 64, rowIn: 2, rowOut: 1 });
    const rs = await Promise.all([
      b.submit(Float32Array.from([1, 2]), 1),
      b.submit(Float32Array.from([3, 4, 5, 6]), 2),
      b.submit(Float32Array.from([7, 8]), 1),
    ]);
    assert.deepEqual(m.batches, [4]);
    assert.deepEqual(rs.map((r) => Array.from(r)), [[3], [7, 11], [15]]);
  });

  test('never more than maxBatch rows per pass; what waits during a pass goes in the next', async () => {
    const m = fake(20);
    const b = new Batcher(m.run, { maxBatch: 4, windowMs: 0, maxQueue: 64, rowIn: 2, rowOut: 1 });
    const all = Array.from({ length: 10 }, (_, i) => b.submit(Float32Array.from([i, 0]), 1));
    const rs = await Promise.all(all);
    assert.deepEqual(rs.map((r) => r[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(m.batches, [1, 4, 4, 1]);
    await b.idle();
    assert.equal(b.depth, 0);
  });

  test('a full queue refuses with QueueFullError; bad sizes are refused', async () => {
    const m = fake(30);
    const b = new Batcher(m.run, { maxBatch: 2, windowMs: 0, maxQueue: 3, rowIn: 2, rowOut: 1 });
    const running = b.submit(new Float32Array(4), 2);
    const queued = b.submit(new Float32Array(4), 2);
    const alsoQueued = b.submit(new Float32Array(2), 1);
    await assert.rejects(b.submit(new Float32Array(2), 1), QueueFullError);
    await assert.rejects(b.submit(new Float32Array(6), 3), /batch of 3 rows, expected 1\.\.2/);
    await assert.rejects(b.submit(new Float32Array(3), 1), /input of 3 values, expected 1 x 2/);
    await Promise.all([running, queued, alsoQueued]);
  });

  test('warmed batch sizes: powers of two below the max, and the max', () => {
    assert.deepEqual(batchSizes(1), [1]);
    assert.deepEqual(batchSizes(32), [1, 2, 4, 8, 16, 32]);
    assert.deepEqual(batchSizes(24), [1, 2, 4, 8, 16, 24]);
  });
});
