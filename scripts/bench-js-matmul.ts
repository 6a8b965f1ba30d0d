/**
 * GFLOP/s of the js backend's gemm and im2col convolutions on one thread (float32 storage, as the
 * backend runs them). Usage: node dist/scripts/bench-js-matmul.js [--seconds S] [--batch N]
 * Each line is the best of several timed repetitions after a warm-up (the machine may be shared).
 */
import os from 'node:os';
import { conv2dBackwardData, conv2dBackwardWeights, conv2dForward, convGeometry } from '../src/backend/js/conv2d.js';
import { gemm } from '../src/backend/js/matmul.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!(v > 0)) throw new Error(`${name}: expected a positive number, got '${process.argv[i + 1]}'`);
  return v;
}

const SECONDS = arg('--seconds', 1);
const BATCH = arg('--batch', 8);

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

/**
 * GFLOP/s of fn over repetitions within the time budget (after one warm-up call): the best by wall
 * clock, and the best by this process's CPU time (user + system), which a busy shared machine
 * disturbs less. Printed as "cpu (wall)".
 */
function measure(flops: number, fn: () => void): string {
  fn();
  let bestWall = Infinity;
  let bestCpu = Infinity;
  const until = performance.now() + SECONDS * 1000;
  let reps = 0;
  do {
    const c = process.cpuUsage();
    const t = performance.now();
    fn();
    bestWall = Math.min(bestWall, performance.now() - t);
    const dc = process.cpuUsage(c);
    bestCpu = Math.min(bestCpu, (dc.user + dc.system) / 1000);
    reps++;
  } while (performance.now() < until || reps < 2);
  const g = (ms: number) => (flops / (ms / 1000) / 1e9).toFixed(2);
  return `${g(bestCpu)} (${g(bestWall)})`;
}

const pad = (s: string, n: number) => s.padEnd(n);
console.log(`js backend, one thread: node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, best of ~${SECONDS}s each`);

console.log('GFLOP/s by CPU time (by wall clock)');
console.log('\ngemm (float32 storage, float64 packed panels and accumulators)');
const gemms: [string, number, number, number, boolean, boolean][] = [
  ['square 512', 512, 512, 512, false, false],
  ['square 1024', 1024, 1024, 1024, false, false],
  ['conv fwd shape 160x1024x1440', 160, 1024, 1440, false, false],
  ['conv fwd shape 640x64x5760', 640, 64, 5760, false, false],
  ['A^T B (bwd data) 1440x1024x160', 1440, 1024, 160, true, false],
  ['A B^T (bwd weights) 160x1440x1024', 160, 1440, 1024, false, true],
];
for (const [name, M, N, K, ta, tb] of gemms) {
  const A = random(M * K);
  const B = random(K * N);
  const C = new Float32Array(M * N);
  const g = measure(2 * M * N * K, () => gemm(ta, tb, M, N, K, 1, A, 0, ta ? M : K, B, 0, tb ? K : N, 0, C, 0, N));
  console.log(`  ${pad(name, 36)} ${g}`);
}

console.log(`\nconv2d, batch ${BATCH} (im2col + gemm; col2im for backward data)`);
const convs: [string, number[], number[], number, number][] = [
  ['WRN-28-10 group 1, 160->160 3x3 @32', [BATCH, 160, 32, 32], [160, 160, 3, 3], 1, 1],
  ['WRN-28-10 group 3, 640->640 3x3 @8', [BATCH, 640, 8, 8], [640, 640, 3, 3], 1, 1],
  ['WRN-16-4 group 1, 64->64 3x3 @32', [BATCH, 64, 32, 32], [64, 64, 3, 3], 1, 1],
  ['WRN-16-4 group 2 first, 64->128 s2 @32', [BATCH, 64, 32, 32], [128, 64, 3, 3], 2, 1],
  ['stem 3->16 3x3 @32', [BATCH, 3, 32, 32], [16, 3, 3, 3], 1, 1],
  ['shortcut 1x1 160->320 s2 @32', [BATCH, 160, 32, 32], [320, 160, 1, 1], 2, 0],
  ['pointwise 1x1 256->64 @56', [BATCH, 256, 56, 56], [64, 256, 1, 1], 1, 0],
  ['ImageNet stem 7x7 s2 3->64 @224', [Math.max(1, BATCH >> 2), 3, 224, 224], [64, 3, 7, 7], 2, 3],
];
console.log(`  ${pad('layer', 40)} ${pad('forward', 16)} ${pad('bwd data', 16)} bwd weights`);
for (const [name, xs, ws, stride, padding] of convs) {
  const opts = { stride, padding };
  const g = convGeometry(xs, ws, opts);
  const x = random(xs.reduce((a, b) => a * b));
  const w = random(ws.reduce((a, b) => a * b));
  const dy = random(g.n * g.o * g.oh * g.ow);
  const flops = 2 * g.n * g.o * g.oh * g.ow * g.c * g.kh * g.kw;
  const f = measure(flops, () => conv2dForward(x, xs, w, ws, opts));
  const bd = measure(flops, () => conv2dBackwardData(dy, w, ws, xs, opts));
  const bw = measure(flops, () => conv2dBackwardWeights(dy, x, xs, ws, opts));
  console.log(`  ${pad(name, 40)} ${pad(f, 16)} ${pad(bd, 16)} ${bw}`);
}
