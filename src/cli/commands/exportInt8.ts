import { createRequire } from 'node:module';
import { selectBackend } from '../../backend/select.js';
import { setBackend } from '../../core/engine.js';
import { writeOnnx } from '../../io/onnx.js';
import { buildQdqOnnx } from '../../quant/onnxQdq.js';
import { readInt8Weights } from '../../quant/int8File.js';
import { loadInt8 } from '../../quant/load.js';
import { argmaxRows } from '../../train/step.js';
import { metaToStrings } from '../../inference/modelMeta.js';

interface OrtLike {
  InferenceSession: { create(p: string): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>> }> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
}

/** `wrn export --int8`: the QDQ ONNX model of int8 weights; with verify, onnxruntime against our int8 logits. */
export async function exportInt8(file: string, out: string, o: { opset: number; dynamicBatch: boolean; batchSize: number; verify: boolean }): Promise<void> {
  const { weights, meta: m } = readInt8Weights(file);
  if (!m.arch || !m.classes || !m.inChannels) throw new Error(`${file}: int8 metadata lacks arch, classes or in_channels`);
  const s = m.inputSize ?? 32;
  const cfg = { arch: m.arch, classes: m.classes, inChannels: m.inChannels, activation: m.activation ?? 'relu' as const };
  const strings: Record<string, string> = { quantization: 'qdq (from wrn quantize: ' + weights.info.method + ' calibration, ' + weights.info.weightBits + '-bit weights)' };
  if (m.mean && m.std && m.labels) Object.assign(strings, metaToStrings({ ...cfg, inputSize: s, mean: m.mean, std: m.std, labels: m.labels, dropout: 0 }));
  const r = writeOnnx(out, buildQdqOnnx(weights, cfg, file, { opset: o.opset, dynamicBatch: o.dynamicBatch, batchSize: o.batchSize, inputSize: s, metadata: strings }));
  console.log(`${out}: ${m.arch} int8 QDQ, input [${o.dynamicBatch ? 'batch' : o.batchSize},${m.inChannels},${s},${s}] -> logits [.., ${m.classes}], opset ${o.opset}, ${r.nodes} nodes, ${(r.bytes / 2 ** 20).toFixed(2)} MiB`);
  if (!o.verify) return;
  let ort: OrtLike;
  try {
    ort = createRequire(import.meta.url)('onnxruntime-node') as OrtLike;
  } catch {
    console.log('verify: onnxruntime-node is not installed (npm install onnxruntime-node); skipped');
    return;
  }
  setBackend(selectBackend('native').backend);
  const { model } = loadInt8(file);
  const n = o.dynamicBatch ? 64 : o.batchSize;
  const shape = [n, m.inChannels, s, s];
  let seed = 12345;
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 4 - 2);
  const ours = model.logits(x, shape);
  model.dispose();
  const sess = await ort.InferenceSession.create(out);
  const got = (await sess.run({ input: new ort.Tensor('float32', x, shape) })).logits.data;
  let d = 0;
  for (let i = 0; i < ours.length; i++) d = Math.max(d, Math.abs(ours[i] - got[i]));
  const a = argmaxRows(ours, n, m.classes);
  const b = argmaxRows(got, n, m.classes);
  const agree = a.filter((v, i) => v === b[i]).length / n;
  console.log(`verify: onnxruntime vs our int8 logits on ${n} random inputs: argmax agreement ${(100 * agree).toFixed(1)}%, max abs diff ${d.toExponential(2)}`);
}
