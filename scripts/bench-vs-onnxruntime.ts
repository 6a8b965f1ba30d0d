/**
 * Inference throughput of the native backend against onnxruntime-node on the same model (the
 * exported ONNX graph of the same random weights), same process, same machine. Not a test.
 *   node dist/scripts/bench-vs-onnxruntime.js [ARCH=wrn-16-4] [BATCH=128] [STEPS=10]
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { runBench } from '../src/bench/bench.js';
import { JsBackend } from '../src/backend/js/index.js';
import { withBackend } from '../src/core/engine.js';
import { exportOnnx } from '../src/io/onnx.js';
import { createModel } from '../src/models/registry.js';

const [arch = 'wrn-16-4', batchArg = '128', stepsArg = '10'] = process.argv.slice(2);
const batch = Number(batchArg);
const steps = Number(stepsArg);

const ours = runBench({ arch, batch, mode: 'infer', precision: 'fp32', steps, warmup: 2, backend: 'native' });
// bf16 needs avx512_core_bf16 or AMX; elsewhere its row says why it did not run.
const oursBf16 = ((): ReturnType<typeof runBench> | string => {
  try {
    return runBench({ arch, batch, mode: 'infer', precision: 'bf16', steps, warmup: 2, backend: 'native' });
  } catch (e) {
    return (e as Error).message;
  }
})();

const ort = await import('onnxruntime-node');
const dir = mkdtempSync(path.join(os.tmpdir(), 'wrn-ort-'));
const file = path.join(dir, `${arch}.onnx`);
// Weights do not change the speed; the reference backend holds them for the export.
withBackend(new JsBackend(), () => exportOnnx(createModel(arch), file, { inputSize: 32, batchSize: batch }));
const session = await ort.InferenceSession.create(file, { intraOpNumThreads: os.availableParallelism(), graphOptimizationLevel: 'all' });
const x = new ort.Tensor('float32', Float32Array.from({ length: batch * 3 * 32 * 32 }, () => Math.random() * 2 - 1), [batch, 3, 32, 32]);
const times: number[] = [];
for (let i = 0; i < steps + 2; i++) {
  const t = performance.now();
  await session.run({ [session.inputNames[0]]: x });
  if (i >= 2) times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const ortImgPerS = (batch * 1000) / times[times.length >> 1];
rmSync(dir, { recursive: true, force: true });

console.log(`${arch}, batch ${batch}, inference, ${os.availableParallelism()} threads`);
console.log(`onnxruntime-node fp32      ${ortImgPerS.toFixed(1)} img/s`);
console.log(`wide-resnet native fp32    ${ours.img_per_s.toFixed(1)} img/s  (${(ours.img_per_s / ortImgPerS).toFixed(2)}x onnxruntime)`);
if (typeof oursBf16 === 'string') console.log(`wide-resnet native bf16    not run: ${oursBf16}`);
else console.log(`wide-resnet native bf16    ${oursBf16.img_per_s.toFixed(1)} img/s  (${(oursBf16.img_per_s / ortImgPerS).toFixed(2)}x onnxruntime fp32)`);
