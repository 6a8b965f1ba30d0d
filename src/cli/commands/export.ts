import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { JsBackend } from '../../backend/js/index.js';
import { noGrad, setBackend, tidy } from '../../core/engine.js';
import { Tensor } from '../../core/tensor.js';
import path from 'node:path';
import { buildOnnx, DEFAULT_OPSET, exportOnnx } from '../../io/onnx.js';
import type { Network } from '../../models/network.js';
import { metaToStrings, type ModelMeta } from '../../inference/modelMeta.js';
import { loadNetwork, readAnyWeights } from '../../inference/weights.js';
import { writeTritonRepository } from '../../serve/triton.js';
import { pageModel, writeWebSite } from '../../serve/webAssets.js';
import { addFlags, EXPORT, MODEL_SHAPE, readFlags, required, withDefault, type Values } from '../flags.js';
import { UserError } from '../userError.js';
import { exportInt8 } from './exportInt8.js';
import { isInt8File } from '../../quant/load.js';

const FLAGS = {
  ...EXPORT,
  weights: required(EXPORT.weights),
  maxBatch: withDefault(EXPORT.maxBatch, 32),
  opset: withDefault(EXPORT.opset, DEFAULT_OPSET),
  batchSize: withDefault(EXPORT.batchSize, 1),
  ...MODEL_SHAPE,
};

interface OrtTensor { data: Float32Array }
interface Ort {
  InferenceSession: { create(p: string): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>> }> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
}

/** Runs the exported file with onnxruntime-node (when installed) on random input; max |ours - ort|. */
async function verify(model: Network, file: string, shape: number[]): Promise<number | null> {
  let ort: Ort;
  try {
    ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;
  } catch {
    return null;
  }
  let s = 12345;
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
  model.eval();
  const ours = noGrad(() => tidy(() => model.forward(Tensor.fromArray(x, shape)).toArray()));
  const sess = await ort.InferenceSession.create(file);
  const got = (await sess.run({ input: new ort.Tensor('float32', x, shape) })).logits.data;
  let d = 0;
  for (let i = 0; i < ours.length; i++) d = Math.max(d, Math.abs(ours[i] - got[i]));
  return d;
}

export function register(program: Command): void {
  const cmd = program
    .command('export')
    .description('export trained weights to ONNX (eval mode; metadata: arch, classes, input size, mean/std, labels), ' +
      'the classification page as static files (--web), or a Triton model repository (--triton); ' +
      '--arch, --classes, --in-channels and --input-size are for weights without metadata');
  addFlags(cmd, FLAGS)
    .action(async (_opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      if (!existsSync(f.weights)) throw new UserError(`${f.weights}: no such weights file`);
      const targets = [f.onnx && '--onnx', f.web && '--web', f.triton && '--triton'].filter(Boolean);
      if (targets.length !== 1) throw new UserError(`export: expected exactly one of --onnx FILE, --web DIR, --triton DIR, got ${targets.length ? targets.join(' and ') : 'none'}`);
      const opset = f.opset;
      const int8 = isInt8File(f.weights);
      if (f.int8 && !int8) throw new UserError(`--int8: ${f.weights} holds fp32 weights; quantize them first (wrn quantize --weights ${f.weights} --calib DATA --out W-int8.safetensors)`);
      if (int8 && !f.int8) throw new UserError(`${f.weights} holds int8 weights: add --int8 to export them as a QDQ ONNX model`);
      if (int8) {
        if (!f.onnx) throw new UserError('--int8 exports to --onnx FILE only (a QDQ model); --web and --triton take fp32 weights');
        await exportInt8(f.weights, f.onnx, { opset, dynamicBatch: Boolean(f.dynamicBatch), batchSize: f.batchSize, verify: Boolean(f.verify) });
        return;
      }
      // Export only reads the weights: the reference backend is enough (and always available).
      setBackend(new JsBackend());
      const { tensors, meta: fileMeta } = await readAnyWeights(f.weights);
      const { model, meta } = loadNetwork(f.weights, tensors, fileMeta, {
        arch: f.arch, classes: f.classes, inChannels: f.inChannels, inputSize: f.inputSize,
      });
      if (f.web || f.triton) {
        exportSite(f, model, meta);
        model.dispose();
        return;
      }
      const onnx = f.onnx!;
      const batch = f.batchSize;
      const r = exportOnnx(model, onnx, {
        opset, dynamicBatch: Boolean(f.dynamicBatch), batchSize: batch, inputSize: meta.inputSize, metadata: metaToStrings(meta),
      });
      const s = meta.inputSize;
      console.log(`${onnx}: ${meta.arch}, input [${f.dynamicBatch ? 'batch' : batch},${meta.inChannels},${s},${s}] -> logits [.., ${meta.classes}], opset ${opset}, ${r.nodes} nodes, ${(r.bytes / 2 ** 20).toFixed(1)} MiB`);
      if (f.verify) {
        const d = await verify(model, onnx, [f.dynamicBatch ? 2 : batch, meta.inChannels, s, s]);
        if (d === null) console.log('verify: onnxruntime-node is not installed (npm install onnxruntime-node); skipped');
        else if (d > 1e-4) throw new Error(`${onnx}: onnxruntime logits differ from ours by ${d.toExponential(2)} (> 1e-4)`);
        else console.log(`verify: onnxruntime logits match ours (max abs diff ${d.toExponential(2)})`);
      }
      model.dispose();
    });
}

/** --web DIR or --triton DIR: both need the ONNX graph with a symbolic batch dimension. */
function exportSite(f: Values<typeof FLAGS>, model: Network, meta: ModelMeta): void {
  const onnx = buildOnnx(model, { opset: f.opset, dynamicBatch: true, inputSize: meta.inputSize, metadata: metaToStrings(meta) });
  const name = f.name ?? path.basename(f.weights).replace(/\.[^.]+$/, '');
  if (f.web) {
    const files = writeWebSite(f.web, onnx, pageModel(name, meta, false));
    console.log(`${f.web}: the classification page (${files.length} files: ${files.join(', ')}). Serve it from any static server that sends ` +
      "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp' (for WASM threads); file:// does not work");
  } else {
    const dir = f.triton!;
    const files = writeTritonRepository(dir, onnx, meta, { name, maxBatch: f.maxBatch, windowMs: 5 });
    console.log(`${dir}: Triton model repository for '${name}' (${files.map((p) => path.relative(dir, p)).join(', ')}); ` +
      `run: tritonserver --model-repository ${path.resolve(dir)}`);
  }
}
