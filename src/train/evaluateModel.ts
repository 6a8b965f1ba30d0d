import type { Dataset } from '../data/dataset.js';
import { subset } from '../data/dataset.js';
import { resolveDataset } from '../data/resolve.js';
import { evalBatches } from './batches.js';
import { loadModel, type Classifier } from './classifier.js';
import { evaluateBatches, type EvalResult } from './evaluate.js';

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
