/**
 * int8 inference against onnxruntime-node on the same network and calibration images: our int8 path
 * (`wrn quantize`'s arithmetic, minmax calibration) and onnxruntime running the QDQ model that its own
 * `quantize_static` (Python, --python, default .venv-bench) made from our fp32 ONNX export; plus our
 * fp32 and onnxruntime's fp32 for scale. Same process, rounds alternate. Not a test.
 *   node dist/scripts/bench-int8-vs-onnxruntime.js [ARCH=wrn-16-4] [BATCH=128] [STEPS=5] [ROUNDS=3] [--python PATH]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectBackend } from '../src/backend/select.js';
import { setBackend } from '../src/core/engine.js';
import { Rng } from '../src/core/random.js';
import { predictLogits } from '../src/inference/predict.js';
import { exportOnnx } from '../src/io/onnx.js';
import { createModel } from '../src/models/registry.js';
import { buildInt8Model, defaultWeightBits, quantizeNetworkSync } from '../src/quant/index.js';

const args = process.argv.slice(2);
const pyAt = args.indexOf('--python');
const python = pyAt >= 0 ? args.splice(pyAt, 2)[1] : existsSync('.venv-bench/bin/python') ? '.venv-bench/bin/python' : '/usr/bin/python3';
const [arch = 'wrn-16-4', batchArg = '128', stepsArg = '5', roundsArg = '3'] = args;
const [batch, steps, rounds] = [Number(batchArg), Number(stepsArg), Number(roundsArg)];

setBackend(selectBackend('native').backend);
const r = new Rng(0);
const model = createModel(arch, { classes: 10, inChannels: 3, seed: 0 });
model.eval();
const calib = Array.from({ length: 4 }, () => ({ x: Float32Array.from({ length: 16 * 3 * 32 * 32 }, () => r.normal()), labels: new Int32Array(16), shape: [16, 3, 32, 32] }));
const w = quantizeNetworkSync(model, arch, () => calib, { method: 'minmax', weightBits: defaultWeightBits(), calibration: { data: 'random', split: 'random', seed: 0 } });
const int8 = buildInt8Model(w, { arch, classes: 10, inChannels: 3, activation: 'relu' }, arch);

const dir = mkdtempSync(path.join(os.tmpdir(), 'wrn-ort-int8-'));
const fp32File = path.join(dir, 'fp32.onnx');
const qFile = path.join(dir, 'int8-qdq.onnx');
const calibFile = path.join(dir, 'calib.f32');
exportOnnx(model, fp32File, { inputSize: 32, batchSize: batch, dynamicBatch: true });
const all = new Float32Array(64 * 3 * 32 * 32);
calib.forEach((b, i) => all.set(b.x, i * b.x.length));
writeFileSync(calibFile, Buffer.from(all.buffer));
const q = spawnSync(python, [path.resolve('scripts/ort_quantize_static.py'), fp32File, calibFile, '64,3,32,32', qFile], { encoding: 'utf8' });
if (q.status !== 0) throw new Error(`onnxruntime quantize_static failed: ${q.stderr.trim().split('\n').pop()}`);

const ort = await import('onnxruntime-node');
const opts = { intraOpNumThreads: os.availableParallelism(), graphOptimizationLevel: 'all' as const };
const ortQ = await ort.InferenceSession.create(qFile, opts);
const ortF = await ort.InferenceSession.create(fp32File, opts);
const x = Float32Array.from({ length: batch * 3 * 32 * 32 }, () => r.normal());
const shape = [batch, 3, 32, 32];
const xt = new ort.Tensor('float32', x, shape);

async function time(run: () => unknown): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < steps + 1; i++) {
    const t0 = performance.now();
    await run();
    if (i > 0) t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return (batch * 1000) / t[t.length >> 1];
}
const sides: Record<string, () => unknown> = {
  'ours int8': () => int8.logits(x, shape),
  'onnxruntime int8 (quantize_static QDQ)': () => ortQ.run({ input: xt }),
  'ours fp32': () => predictLogits(model, x, shape),
  'onnxruntime fp32': () => ortF.run({ input: xt }),
};
const results: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
for (let i = 0; i < rounds; i++) {
  const names = i % 2 === 0 ? Object.keys(sides) : Object.keys(sides).reverse();
  for (const n of names) results[n].push(await time(sides[n]));
}
const median = (a: number[]): number => [...a].sort((p, q2) => p - q2)[a.length >> 1];
const load = os.loadavg()[0].toFixed(1);
console.log(`${arch}, batch ${batch}, inference, ${os.availableParallelism()} threads, ${rounds} rounds alternating, ${steps} steps each, load ${load}`);
for (const [n, v] of Object.entries(results)) console.log(`${n.padEnd(40)} ${median(v).toFixed(1)} img/s (${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)})`);
const ratio = median(results['ours int8']) / median(results['onnxruntime int8 (quantize_static QDQ)']);
console.log(`ours int8 / onnxruntime int8: ${ratio.toFixed(2)}x; ours int8 / ours fp32: ${(median(results['ours int8']) / median(results['ours fp32'])).toFixed(2)}x`);
console.log(JSON.stringify({ arch, batch, steps, rounds, load, results, weight_bits: int8.weightBits }));
int8.dispose();
model.dispose();
rmSync(dir, { recursive: true, force: true });
