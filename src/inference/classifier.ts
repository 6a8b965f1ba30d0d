import { existsSync } from 'node:fs';
import { decodePixels } from '../preprocess/decode.js';
import { normalise, preprocess as preprocessPixels } from '../preprocess/image.js';
import type { Network } from '../models/network.js';
import { predictLogits, predictProbs, softmaxRows } from './predict.js';
import type { ModelMeta } from './modelMeta.js';
import { isPredictor, type Predictor } from './predictor.js';
import { loadNetwork, readAnyWeights, type LoadOverrides } from './weights.js';
import { loadInt8, isInt8File } from '../quant/load.js';

export interface Prediction {
  label: string;
  index: number;
  probability: number;
}

/** Raw pixels of one image, [C, H, W] row-major, uint8 (0..255) or float in [0, 1]. */
export interface ImageInput {
  data: Uint8Array | Float32Array;
  shape: readonly [number, number, number];
}

/**
 * A trained network with its preprocessing (tfjs-models style): `classify` takes an image file or raw
 * pixels and returns the top-k labels with probabilities.
 */
export class Classifier {
  constructor(readonly model: Network | Predictor, readonly meta: ModelMeta) {
    if (!isPredictor(model)) model.eval();
  }

  /** The model's input [C, H, W]: decoded (sharp) and preprocessed by src/preprocess as the web page does, or raw pixels normalised. */
  async preprocess(image: string | Buffer | ImageInput): Promise<Float32Array> {
    const { inChannels: c, inputSize: s, mean, std } = this.meta;
    if (typeof image === 'string' || Buffer.isBuffer(image)) {
      const what = typeof image === 'string' ? image : 'image';
      if (c !== 1 && c !== 3) throw new Error(`${what}: the model takes ${c} input channels; only 1 or 3 can be decoded from image files`);
      return preprocessPixels(await decodePixels(image, what), { size: s, channels: c, mean, std });
    }
    const [ic, h, w] = image.shape;
    if (ic !== c || h !== s || w !== s) throw new Error(`image of shape [${image.shape.join(',')}], the model expects [${c},${s},${s}]`);
    const scale = image.data instanceof Uint8Array ? 1 / 255 : 1;
    return normalise(Float32Array.from(image.data, (v) => v * scale), mean, std);
  }

  /** Top-k labels of one image. */
  async classify(image: string | Buffer | ImageInput, topk = 5): Promise<Prediction[]> {
    const x = await this.preprocess(image);
    const { inChannels: c, inputSize: s } = this.meta;
    return topK(predictProbs(this.model, { x, shape: [1, c, s, s] }), this.meta.labels, topk);
  }

  /** Logits and probabilities for already-normalised input [n, C, H, W]. */
  run(x: Float32Array, shape: readonly number[]): { logits: Float32Array; probs: Float32Array } {
    const logits = predictLogits(this.model, x, shape);
    return { logits, probs: softmaxRows(logits, shape[0], this.meta.classes) };
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** The k most probable classes of one probability row. */
export function topK(probs: Float32Array, labels: readonly string[], k: number): Prediction[] {
  return Array.from(probs, (p, index) => ({ label: labels[index], index, probability: p }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, Math.max(1, Math.min(k, probs.length)));
}

/** Loads a weights file (safetensors or .pth; with metadata, or with `overrides` for plain state dicts). */
export async function loadModel(file: string, overrides: LoadOverrides = {}): Promise<Classifier> {
  if (!existsSync(file)) throw new Error(`${file}: no such weights file`);
  if (isInt8File(file)) {
    const { model, meta } = loadInt8(file);
    return new Classifier(model, meta);
  }
  const { tensors, meta } = await readAnyWeights(file);
  const { model, meta: full } = loadNetwork(file, tensors, meta, overrides);
  return new Classifier(model, full);
}
