/**
 * `wrn quantize` as a library call: fp32 weights + calibration images -> an int8 weights file.
 */
import path from 'node:path';
import { int8Addon } from '../backend/native/int8.js';
import { Rng } from '../core/random.js';
import { subset, type Dataset } from '../data/dataset.js';
import { resolveDataset } from '../data/resolve.js';
import type { Network } from '../models/network.js';
import { evalBatches } from '../inference/evaluate.js';
import type { ModelMeta } from '../inference/modelMeta.js';
import type { Batch } from '../inference/predict.js';
import { loadNetwork, readAnyWeights } from '../inference/weights.js';
import { calibrate, calibrateSync } from './calibrate.js';
import type { CalibrationMethod } from './calibration.js';
import { quantGraph } from './graph.js';
import { writeInt8Weights } from './int8File.js';
import { quantizeGraph, type Int8Weights } from './quantize.js';
import type { WeightBits } from './weights.js';

export { CALIBRATION_METHODS, type CalibrationMethod } from './calibration.js';
export { buildInt8Model, Int8Model } from './int8Model.js';
export { isInt8File, loadInt8 } from './load.js';
export { quantizeGraph, type Int8Weights, type QuantInfo } from './quantize.js';
export { readInt8Weights, writeInt8Weights } from './int8File.js';
export type { WeightBits } from './weights.js';

/** 8 where this CPU has VNNI (exact u8*s8 accumulation), else 7 (oneDNN's non-VNNI kernels saturate at 16 bits). */
export function defaultWeightBits(): WeightBits {
  const a = int8Addon();
  return a instanceof Error || a.int8Info().vnni ? 8 : 7;
}

export interface QuantizeFileOptions {
  /** Calibration dataset (name or path); its training split is sampled. */
  calib: string;
  calibSize?: number;
  method?: CalibrationMethod;
  percentile?: number;
  weightBits?: WeightBits;
  seed?: number;
  batch?: number;
}

/** `size` distinct indices of [0, n), a seeded partial Fisher-Yates shuffle (deterministic for a seed). */
export function sampleIndices(n: number, size: number, seed: number): Int32Array {
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const r = new Rng(seed);
  const k = Math.min(size, n);
  for (let i = 0; i < k; i++) {
    const j = i + r.int(n - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, k).sort();
}

/** Calibrates and quantizes an fp32 network already loaded (model in eval mode afterwards). */
export async function quantizeNetwork(
  model: Network, where: string, batches: () => Iterable<Batch> | AsyncIterable<Batch>,
  o: { method: CalibrationMethod; percentile?: number; weightBits: WeightBits; calibration: { data: string; split: string; seed: number }; source?: string },
): Promise<Int8Weights> {
  const g = quantGraph(model, where);
  model.eval();
  const cal = await calibrate(g, batches, o.method, o.percentile);
  return quantizeGraph(g, cal, o);
}

/** `quantizeNetwork` over calibration batches already in memory. */
export function quantizeNetworkSync(
  model: Network, where: string, batches: () => Iterable<Batch>, o: Parameters<typeof quantizeNetwork>[3],
): Int8Weights {
  const g = quantGraph(model, where);
  model.eval();
  return quantizeGraph(g, calibrateSync(g, batches, o.method, o.percentile), o);
}

export interface QuantizeFileResult {
  weights: Int8Weights;
  meta: ModelMeta;
  out: string;
}

export async function quantizeFile(weightsFile: string, out: string, o: QuantizeFileOptions): Promise<QuantizeFileResult> {
  const { tensors, meta: fileMeta } = await readAnyWeights(weightsFile);
  const { model, meta } = loadNetwork(weightsFile, tensors, fileMeta);
  try {
    quantGraph(model, weightsFile); // refuse a net that does not fit before loading any data
    const splits = await resolveDataset(o.calib, { valSize: 0 });
    const train: Dataset = splits.train;
    const [n, c, h, w] = train.shape;
    if (n === 0) throw new Error(`${o.calib}: the training split holds no images to calibrate on`);
    if (c !== meta.inChannels || h !== meta.inputSize || w !== meta.inputSize) {
      throw new Error(`${o.calib}: images are ${c}x${h}x${w}, ${weightsFile} expects ${meta.inChannels}x${meta.inputSize}x${meta.inputSize}`);
    }
    const seed = o.seed ?? 0;
    const size = o.calibSize ?? 1000;
    const calibSet = subset(train, sampleIndices(n, size, seed), 'calibration');
    const weights = await quantizeNetwork(model, weightsFile, () => evalBatches(calibSet, meta, { batch: o.batch ?? 100 }), {
      method: o.method ?? 'percentile', percentile: o.percentile, weightBits: o.weightBits ?? defaultWeightBits(),
      calibration: { data: o.calib, split: 'train', seed }, source: path.basename(weightsFile),
    });
    writeInt8Weights(out, weights, meta);
    return { weights, meta, out };
  } finally {
    model.dispose();
  }
}
