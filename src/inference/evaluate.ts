import type { Dataset } from '../data/dataset.js';
import { subset } from '../data/dataset.js';
import { resolveDataset } from '../data/resolve.js';
import { transformBatch } from '../data/transforms.js';
import type { Network } from '../models/network.js';
import { loadModel, type Classifier } from './classifier.js';
import type { Predictor } from './predictor.js';
import type { ModelMeta } from './modelMeta.js';
import { predictProbs, type Batch } from './predict.js';

export interface EvalResult {
  images: number;
  loss: number;
  accuracy: number;
  /** Accuracy per true class (NaN where a class has no images). */
  perClass: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
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

  /** Loss sum, image count, then the confusion matrix row-major: what a sharded evaluation adds up. */
  counts(): Float64Array {
    const out = new Float64Array(2 + this.classes * this.classes);
    out[0] = this.lossSum;
    out[1] = this.n;
    this.confusion.forEach((row, i) => out.set(row, 2 + i * this.classes));
    return out;
  }

  /** An accumulator holding `counts()` (e.g. summed over ranks). */
  static fromCounts(classes: number, counts: Float64Array): EvalAccumulator {
    const a = new EvalAccumulator(classes);
    a.lossSum = counts[0];
    a.n = counts[1];
    a.confusion.forEach((row, i) => row.splice(0, classes, ...counts.subarray(2 + i * classes, 2 + (i + 1) * classes)));
    return a;
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
export async function evaluateBatches(model: Network | Predictor, batches: AsyncIterable<Batch> | Iterable<Batch>, tta: 'none' | 'flip' = 'none'): Promise<EvalResult> {
  const acc = new EvalAccumulator(model.config.classes);
  for await (const b of batches) acc.add(predictProbs(model, b, tta), b.labels);
  return acc.result();
}

/** Evaluation batches in dataset order, normalised with the model's own statistics, no augmentation. */
export function* evalBatches(ds: Dataset, meta: Pick<ModelMeta, 'mean' | 'std'>, cfg: { batch: number }): Generator<Batch> {
  const n = ds.shape[0];
  const [, c, h, w] = ds.shape;
  const spec = { normalize: { mean: meta.mean, std: meta.std }, pixelScale: ds.images instanceof Uint8Array ? 1 / 255 : 1 };
  for (let s = 0; s < n; s += cfg.batch) {
    const idx = Int32Array.from({ length: Math.min(cfg.batch, n - s) }, (_, i) => s + i);
    const x = transformBatch(ds.images, ds.shape, idx, spec, 0, 0, false);
    yield { x, labels: ds.labels.slice(s, s + idx.length), shape: [idx.length, c, h, w] };
  }
}

export interface EvaluateOptions {
  /** Dataset name or path (default: the one recorded in the weights' metadata). */
  data?: string;
  split?: 'test' | 'val';
  /** Validation hold-out used in training, to rebuild the same `val` split (default 5000, as `wrn train`). */
  valSize?: number;
  tta?: 'none' | 'flip';
  batch?: number;
  /** Evaluate the first N images only. */
  limit?: number;
}

export interface Evaluation extends EvalResult {
  arch: string;
  data: string;
  split: 'test' | 'val';
  labels: string[];
}

/** Library twin of `wrn eval`: accuracy, loss, per-class accuracy and confusion matrix of trained weights. */
export async function evaluate(weights: string | Classifier, o: EvaluateOptions = {}): Promise<Evaluation> {
  const clf = typeof weights === 'string' ? await loadModel(weights) : weights;
  try {
    const split = o.split ?? 'test';
    const data = o.data ?? clf.meta.dataset;
    if (!data) throw new Error(`${typeof weights === 'string' ? weights : 'model'}: no dataset recorded in the metadata; pass the data`);
    const splits = await resolveDataset(data, { valSize: split === 'val' ? o.valSize ?? 5000 : 0 });
    let ds: Dataset | undefined = split === 'val' ? splits.val : splits.test;
    if (!ds) throw new Error(`${data}: has no ${split} split`);
    const [, c, h, w] = ds.shape;
    const { inChannels, inputSize } = clf.meta;
    if (c !== inChannels || h !== inputSize || w !== inputSize) {
      throw new Error(`${data}: images are ${c}x${h}x${w}, the model expects ${inChannels}x${inputSize}x${inputSize}`);
    }
    if (o.limit && o.limit < ds.shape[0]) ds = subset(ds, Int32Array.from({ length: o.limit }, (_, i) => i), split);
    const r = await evaluateBatches(clf.model, evalBatches(ds, clf.meta, { batch: o.batch ?? 256 }), o.tta ?? 'none');
    return { ...r, arch: clf.meta.arch, data, split, labels: clf.meta.labels };
  } finally {
    if (typeof weights === 'string') clf.dispose();
  }
}
