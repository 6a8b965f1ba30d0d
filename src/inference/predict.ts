import type { Shape } from '../backend/backend.js';
import { noGrad, tidy } from '../core/engine.js';
import { Tensor } from '../core/tensor.js';
import type { Network } from '../models/network.js';
import { isPredictor, type Predictor } from './predictor.js';

/** One mini-batch: normalised images [n, C, H, W] and labels. */
export interface Batch {
  x: Float32Array;
  labels: Int32Array;
  shape: Shape;
}

/** Logits for a batch in eval mode (running BN statistics, no dropout), as a host array [n, K]. */
export function predictLogits(model: Network | Predictor, x: Float32Array, shape: Shape): Float32Array {
  if (isPredictor(model)) return model.logits(x, shape);
  model.eval();
  return noGrad(() => tidy(() => model.forward(Tensor.fromArray(x, shape)).toArray()));
}

/** Row-wise softmax of [n, k] logits. */
export function softmaxRows(logits: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[i * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += out[i * k + j] = Math.exp(logits[i * k + j] - max);
    for (let j = 0; j < k; j++) out[i * k + j] /= sum;
  }
  return out;
}

/** Mirrors images [n, C, H, W] left-right (test-time augmentation). */
export function flipHorizontal(x: Float32Array, [n, c, h, w]: Shape): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < n * c * h; r++) {
    const o = r * w;
    for (let j = 0; j < w; j++) out[o + j] = x[o + w - 1 - j];
  }
  return out;
}

/** Class probabilities for a batch; with `tta: 'flip'` the mean of the image's and its mirror's. */
export function predictProbs(model: Network | Predictor, batch: Pick<Batch, 'x' | 'shape'>, tta: 'none' | 'flip' = 'none'): Float32Array {
  const n = batch.shape[0];
  const k = model.config.classes;
  const p = softmaxRows(predictLogits(model, batch.x, batch.shape), n, k);
  if (tta === 'flip') {
    const q = softmaxRows(predictLogits(model, flipHorizontal(batch.x, batch.shape), batch.shape), n, k);
    for (let i = 0; i < p.length; i++) p[i] = (p[i] + q[i]) / 2;
  }
  return p;
}
