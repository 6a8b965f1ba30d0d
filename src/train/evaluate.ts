import type { Shape } from '../backend/backend.js';
import type { Network } from '../models/network.js';
import { predictLogits, type Batch } from './step.js';

export interface EvalResult {
  images: number;
  loss: number;
  accuracy: number;
  /** Accuracy per true class (NaN where a class has no images). */
  perClass: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
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
export function predictProbs(model: Network, batch: Pick<Batch, 'x' | 'shape'>, tta: 'none' | 'flip' = 'none'): Float32Array {
  const n = batch.shape[0];
  const k = model.config.classes;
  const p = softmaxRows(predictLogits(model, batch.x, batch.shape), n, k);
  if (tta === 'flip') {
    const q = softmaxRows(predictLogits(model, flipHorizontal(batch.x, batch.shape), batch.shape), n, k);
    for (let i = 0; i < p.length; i++) p[i] = (p[i] + q[i]) / 2;
  }
  return p;
}

/** Accumulates accuracy, mean cross-entropy, per-class accuracy and the confusion matrix. */
export class EvalAccumulator {
  private readonly confusion: number[][];
  private lossSum = 0;
  private n = 0;

  constructor(readonly classes: number) {
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  add(probs: Float32Array, labels: Int32Array): void {
    const k = this.classes;
    for (let i = 0; i < labels.length; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (probs[i * k + j] > probs[i * k + best]) best = j;
      this.confusion[labels[i]][best]++;
      this.lossSum -= Math.log(Math.max(probs[i * k + labels[i]], 1e-30));
      this.n++;
    }
  }

  result(): EvalResult {
    const correct = this.confusion.reduce((s, row, i) => s + row[i], 0);
    const perClass = this.confusion.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      return total ? row[i] / total : NaN;
    });
    return { images: this.n, loss: this.lossSum / (this.n || 1), accuracy: correct / (this.n || 1), perClass, confusion: this.confusion.map((r) => [...r]) };
  }
}

/** Evaluates a model on batches (normalised, no augmentation). */
export async function evaluateBatches(model: Network, batches: AsyncIterable<Batch> | Iterable<Batch>, tta: 'none' | 'flip' = 'none'): Promise<EvalResult> {
  const acc = new EvalAccumulator(model.config.classes);
  for await (const b of batches) acc.add(predictProbs(model, b, tta), b.labels);
  return acc.result();
}
