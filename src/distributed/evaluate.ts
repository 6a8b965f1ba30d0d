/**
 * Sharded evaluation: rank r evaluates images [floor(r n / N), floor((r + 1) n / N)) of a split and
 * the counts (loss sum, images, confusion matrix) are summed over the ranks, so every image counts
 * exactly once and every rank returns the same result.
 */
import { subset, type Dataset } from '../data/dataset.js';
import type { Network } from '../models/network.js';
import { EvalAccumulator, evalBatches, type EvalResult } from '../inference/evaluate.js';
import { predictProbs } from '../inference/predict.js';
import type { ModelMeta } from '../inference/modelMeta.js';
import type { World } from './world.js';

export function shardOf(ds: Dataset, rank: number, size: number, split: string): Dataset {
  const n = ds.shape[0];
  const lo = Math.floor((rank * n) / size);
  const hi = Math.floor(((rank + 1) * n) / size);
  return subset(ds, Int32Array.from({ length: hi - lo }, (_, i) => lo + i), split);
}

export function evaluateSharded(
  world: World, model: Network, ds: Dataset, meta: Pick<ModelMeta, 'mean' | 'std'>, cfg: { batch: number }, split: string,
): EvalResult {
  const acc = new EvalAccumulator(model.config.classes);
  const mine = shardOf(ds, world.rank, world.size, split);
  for (const b of evalBatches(mine, meta, cfg)) acc.add(predictProbs(model, b), b.labels);
  return EvalAccumulator.fromCounts(model.config.classes, world.allreduce(acc.counts())).result();
}
