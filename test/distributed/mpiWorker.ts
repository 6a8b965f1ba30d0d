/**
 * Child program of the MPI tests, run under `mpirun -np 2` (or alone, as the one-process reference).
 * usage: node mpiWorker.js MODE OUTDIR [backend]
 *  allreduce  odd-sized buffers (sync and async, fp32/fp64/int32) against sums computed locally;
 *             writes OUTDIR/allreduce-<rank>.json
 *  sgd        WRN-10-1, a fixed global batch of 64 random 3x16x16 images, 3 SGD steps (Nesterov,
 *             weight decay, dropout 0). Under mpirun each rank takes its half of every batch and
 *             SYNC_BN=1 turns on --sync-bn; alone, one process takes all 64. Writes every rank's
 *             state dict to OUTDIR/sgd-<rank|ref>.safetensors (after averaging the running statistics
 *             when SYNC_BN is off, as every epoch end does).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { selectBackend, type BackendChoice } from '../../src/backend/select.js';
import { setBackend } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import { createModel } from '../../src/models/registry.js';
import { SGD } from '../../src/optim/sgd.js';
import { trainStep } from '../../src/train/step.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { GradientSync } from '../../src/distributed/gradientSync.js';
import { averageRunningStats, broadcastModel } from '../../src/distributed/replicate.js';
import { trainStepDistributed } from '../../src/distributed/step.js';
import { useSyncBatchNorm } from '../../src/distributed/syncBatchNorm.js';
import { World } from '../../src/distributed/world.js';

const [mode, out, backendChoice = 'js'] = process.argv.slice(2);
const world = World.fromEnvironment({ timeoutMs: 60_000 });

function values(seed: number, n: number): Float64Array {
  const r = new Rng(seed);
  return Float64Array.from({ length: n }, () => Math.round((r.next() - 0.5) * 2000) / 8);
}

async function allreduceMode(w: World): Promise<void> {
  const report: { size: number; kind: string; ok: boolean; maxErr: number }[] = [];
  for (const size of [1, 3, 7, 1023, 65537, 1_000_003]) {
    const expected = new Float64Array(size);
    for (let r = 0; r < w.size; r++) values(1000 * r + size, size).forEach((v, i) => { expected[i] += v; });
    const mine = values(1000 * w.rank + size, size);
    const f32 = Float32Array.from(mine);
    const f64 = Float64Array.from(mine);
    const i32 = Int32Array.from(mine, (v) => Math.round(v * 8));
    const async32 = Float32Array.from(mine);
    const pending = w.allreduceAsync(async32, 'sum');
    w.allreduce(f32);
    w.allreduce(f64);
    w.allreduce(i32);
    await pending;
    const check = (kind: string, got: ArrayLike<number>, scale = 1): void => {
      let maxErr = 0;
      for (let i = 0; i < size; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - expected[i] * scale));
      // Values are multiples of 1/8 below 125 in magnitude: every sum is exact in fp32 for 2 ranks.
      report.push({ size, kind, ok: maxErr === 0, maxErr });
    };
    check('f32', f32);
    check('f64', f64);
    check('i32', i32, 8);
    check('f32-async', async32);
  }
  const max = w.allreduce(new Float64Array([w.rank]), 'max')[0];
  const min = w.allreduce(new Float64Array([w.rank]), 'min')[0];
  report.push({ size: 1, kind: 'max/min', ok: max === w.size - 1 && min === 0, maxErr: 0 });
  writeFileSync(path.join(out, `allreduce-${w.rank}.json`), JSON.stringify(report));
}

async function sgdMode(w: World | null): Promise<void> {
  const { backend } = selectBackend(backendChoice as BackendChoice);
  setBackend(backend);
  const model = createModel('wrn-10-1', { classes: 10, inChannels: 3, dropout: 0, rng: new Rng(7) });
  const params = model.namedParameters();
  const opt = new SGD(params, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const syncBn = process.env.SYNC_BN === '1';
  const dp = w ? { world: w, grads: new GradientSync(w, params, 64 << 10), syncBn: syncBn ? useSyncBatchNorm(model, w) : null } : null;
  if (w) broadcastModel(w, model);
  const B = 64;
  const per = 3 * 16 * 16;
  let overlapped = 0;
  for (let step = 0; step < 3; step++) {
    const r = new Rng(100 + step);
    const x = Float32Array.from({ length: B * per }, () => r.normal());
    const labels = Int32Array.from({ length: B }, () => r.int(10));
    if (!w || !dp) {
      trainStep(model, opt, { x, labels, shape: [B, 3, 16, 16] });
      continue;
    }
    const lo = (w.rank * B) / w.size;
    const hi = ((w.rank + 1) * B) / w.size;
    const res = await trainStepDistributed(model, opt, { x: x.slice(lo * per, hi * per), labels: labels.slice(lo, hi), shape: [hi - lo, 3, 16, 16] }, dp);
    overlapped += res.comm?.buckets ?? 0;
  }
  if (w && !syncBn) averageRunningStats(w, model);
  const name = w ? String(w.rank) : 'ref';
  writeSafetensors(path.join(out, `sgd-${name}.safetensors`), model.stateDictArrays(), { buckets: String(overlapped) });
}

try {
  if (mode === 'allreduce' && world) await allreduceMode(world);
  else if (mode === 'sgd') await sgdMode(world);
  else throw new Error(`mpiWorker: unknown mode '${mode}' (or allreduce without mpirun)`);
  world?.finalize();
} catch (e) {
  console.error(`rank ${world?.rank ?? '-'}: ${(e as Error).stack}`);
  if (world) world.abort(1);
  process.exit(1);
}
