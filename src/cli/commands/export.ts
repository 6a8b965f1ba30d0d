import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { JsBackend } from '../../backend/js/index.js';
import { noGrad, setBackend, tidy } from '../../core/engine.js';
import { Tensor } from '../../core/tensor.js';
import { DEFAULT_OPSET, exportOnnx } from '../../io/onnx.js';
import type { Network } from '../../models/network.js';
import { metaToStrings } from '../../inference/modelMeta.js';
import { loadNetwork, readAnyWeights } from '../../inference/weights.js';
import { addFlags, EXPORT, MODEL_SHAPE, readFlags, required, withDefault } from '../flags.js';
import { UserError } from '../userError.js';

const FLAGS = {
  ...EXPORT,
  weights: required(EXPORT.weights),
  onnx: required(EXPORT.onnx),
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
    .description('export trained weights to ONNX (eval mode; metadata: arch, classes, input size, mean/std, labels); ' +
      '--arch, --classes, --in-channels and --input-size are for weights without metadata');
  addFlags(cmd, FLAGS)
    .action(async (_opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      if (!existsSync(f.weights)) throw new UserError(`${f.weights}: no such weights file`);
      const opset = f.opset;
      // Export only reads the weights: the reference backend is enough (and always available).
      setBackend(new JsBackend());
      const { tensors, meta: fileMeta } = await readAnyWeights(f.weights);
      const { model, meta } = loadNetwork(f.weights, tensors, fileMeta, {
        arch: f.arch, classes: f.classes, inChannels: f.inChannels, inputSize: f.inputSize,
      });
      const batch = f.batchSize;
      const r = exportOnnx(model, f.onnx, {
        opset, dynamicBatch: Boolean(f.dynamicBatch), batchSize: batch, inputSize: meta.inputSize, metadata: metaToStrings(meta),
      });
      const s = meta.inputSize;
      console.log(`${f.onnx}: ${meta.arch}, input [${f.dynamicBatch ? 'batch' : batch},${meta.inChannels},${s},${s}] -> logits [.., ${meta.classes}], opset ${opset}, ${r.nodes} nodes, ${(r.bytes / 2 ** 20).toFixed(1)} MiB`);
      if (f.verify) {
        const d = await verify(model, f.onnx, [f.dynamicBatch ? 2 : batch, meta.inChannels, s, s]);
        if (d === null) console.log('verify: onnxruntime-node is not installed (npm install onnxruntime-node); skipped');
        else if (d > 1e-4) throw new Error(`${f.onnx}: onnxruntime logits differ from ours by ${d.toExponential(2)} (> 1e-4)`);
        else console.log(`verify: onnxruntime logits match ours (max abs diff ${d.toExponential(2)})`);
      }
      model.dispose();
    });
}
