/**
 * Offline tuning of the convolution backward-weights variants (src/backend/native/tuning.ts): runs one
 * training step of each network to collect its backward-weights problems, times every variant of
 * each problem in alternating rounds, and records the fastest per problem for this machine (ISA and
 * thread count) in native/tuning/conv2d-weights.json, keeping other machines' entries. A variant
 * other than 0 (oneDNN's own) is recorded only when its median is at least 3% faster, so noise on a
 * loaded machine does not flip choices. The timings go to docs/results/tuning/.
 *
 * Run: node dist/src/bench/tuneConvWeights.js [--nets wrn-16-2:1x28x28,wrn-16-4:3x32x32] [--batch 128]
 *      [--precisions fp32,bf16] [--rounds 5] [--table FILE] [--timings FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Conv2dBackwardOptions, Precision, Shape, Storage } from '../backend/backend.js';
import { loadAddon } from '../backend/native/addon.js';
import { NativeBackend } from '../backend/native/index.js';
import {
  type WeightsTableFile, type WeightsVariant, WEIGHTS_VARIANTS, defaultTablePath, machineKey, problemKey, readWeightsTable,
} from '../backend/native/tuning.js';
import { Rng } from '../core/random.js';
import { runBench } from './bench.js';

interface Problem {
  xShape: Shape;
  wShape: Shape;
  opts: Conv2dBackwardOptions;
}

/** A native backend that records the backward-weights problems a training step runs. */
class RecordingBackend extends NativeBackend {
  readonly problems = new Map<string, Problem>();

  override conv2dBackwardWeights(dy: Storage, x: Storage, xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions): Storage {
    this.problems.set(problemKey(xShape, wShape, opts), { xShape: [...xShape], wShape: [...wShape], opts: { ...opts } });
    return this.conv2dBackwardWeightsVariant(dy, x, xShape, wShape, opts, 0);
  }
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

/** Median milliseconds of each variant over `rounds` alternating rounds (after one warm-up call each). */
function timeVariants(b: NativeBackend, p: Problem, rounds: number): number[] {
  const r = new Rng(1);
  const blocked = (shape: Shape): Storage => {
    const data = Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => r.normal());
    const up = b.upload(data, shape);
    const s = b.relayout(up, shape, true, p.opts.precision);
    b.dispose(up);
    return s;
  };
  const [n, , h, w] = p.xShape;
  const oh = Math.floor((h + 2 * p.opts.padding - p.wShape[2]) / p.opts.stride) + 1;
  const ow = Math.floor((w + 2 * p.opts.padding - p.wShape[3]) / p.opts.stride) + 1;
  const x = blocked(p.xShape);
  const dy = blocked([n, p.wShape[0], oh, ow]);
  const times: number[][] = WEIGHTS_VARIANTS.map(() => []);
  try {
    for (let round = -1; round < rounds; round++) {
      for (const v of WEIGHTS_VARIANTS) {
        const t0 = performance.now();
        b.dispose(b.conv2dBackwardWeightsVariant(dy, x, p.xShape, p.wShape, p.opts, v));
        if (round >= 0) times[v].push(performance.now() - t0);
      }
    }
  } finally {
    b.dispose(x);
    b.dispose(dy);
  }
  return times.map(median);
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

function main(): void {
  const addon = loadAddon();
  if (!addon) throw new Error('tuneConvWeights: the native backend is not available');
  const b = new RecordingBackend(addon);
  const info = b.info();
  const nets = arg('--nets', 'wrn-16-2:1x28x28,wrn-16-2:3x32x32,wrn-16-4:3x32x32,wrn-28-10:3x32x32').split(',');
  const batch = Number(arg('--batch', '128'));
  const rounds = Number(arg('--rounds', '5'));
  const precisions = arg('--precisions', info.bf16 ? 'fp32,bf16' : 'fp32').split(',') as Precision[];
  const tableFile = arg('--table', defaultTablePath());
  const machine = machineKey(info.isa, info.threads);
  const timingsFile = arg('--timings', path.join('docs', 'results', 'tuning', `conv2d-weights-${info.isa}-${info.threads}t.json`));
  for (const precision of precisions) {
    b.setPrecision(precision);
    for (const net of nets) {
      const [arch, input] = net.split(':');
      const [c, h] = (input ?? '3x32x32').split('x').map(Number);
      runBench({ arch, backend: b, precision, batch, inChannels: c, size: h, steps: 1, warmup: 0 });
    }
  }
  const table: WeightsTableFile = (() => {
    try {
      return readWeightsTable(tableFile);
    } catch {
      return { about: '', machines: {} };
    }
  })();
  table.about = 'Backward-weights variant per problem and machine (src/backend/native/tuning.ts); written by node dist/src/bench/tuneConvWeights.js';
  const entries: Record<string, WeightsVariant> = { ...(table.machines[machine] ?? {}) };
  const timings: Record<string, { ms: number[]; chosen: WeightsVariant }> = {};
  for (const [key, p] of [...b.problems].sort(([a], [c]) => a.localeCompare(c))) {
    const ms = timeVariants(b, p, rounds);
    let best: WeightsVariant = 0;
    for (const v of WEIGHTS_VARIANTS) if (ms[v] < ms[best]) best = v;
    const chosen: WeightsVariant = ms[best] <= 0.97 * ms[0] ? best : 0;
    if (chosen === 0) delete entries[key];
    else entries[key] = chosen;
    timings[key] = { ms: ms.map((t) => Math.round(t * 1000) / 1000), chosen };
    console.log(`${key}: ${ms.map((t, v) => `v${v} ${t.toFixed(2)} ms`).join(', ')} -> ${chosen}`);
  }
  table.machines[machine] = Object.fromEntries(Object.entries(entries).sort(([a], [c]) => a.localeCompare(c)));
  mkdirSync(path.dirname(tableFile), { recursive: true });
  writeFileSync(tableFile, `${JSON.stringify(table, null, 2)}\n`);
  mkdirSync(path.dirname(timingsFile), { recursive: true });
  writeFileSync(timingsFile, `${JSON.stringify({ machine, threads: info.threads, isa: info.isa, batch, rounds, nets, measured: new Date().toISOString(), timings }, null, 2)}\n`);
  console.log(`${Object.keys(table.machines[machine]).length} non-default entries for ${machine} in ${tableFile}; timings in ${timingsFile}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
