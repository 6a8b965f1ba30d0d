/**
 * One data-parallel SGD step: forward and loss on this rank's slice of the global batch, the global
 * loss/accuracy (a small allreduce, so every rank agrees on a non-finite loss and skips the update
 * together), backward with gradient buckets allreduced as they fill, then the same update on every rank.
 */
import { backward } from '../core/autograd.js';
import { noGrad, tidy } from '../core/engine.js';
import { Tensor } from '../core/tensor.js';
import type { Network } from '../models/network.js';
import { crossEntropy } from '../ops/index.js';
import type { SGD } from '../optim/sgd.js';
import type { Batch } from '../inference/predict.js';
import { argmaxRows } from '../train/step.js';
import type { GradientSync, StepComm } from './gradientSync.js';
import type { SyncBatchNorm } from './syncBatchNorm.js';
import type { World } from './world.js';

export interface DataParallel {
  world: World;
  grads: GradientSync;
  /** Present with --sync-bn. */
  syncBn: SyncBatchNorm | null;
}

export interface DistributedStepResult {
  /** Mean loss over the global batch. */
  loss: number;
  /** Correct predictions in the global batch. */
  correct: number;
  /** Images in the global batch. */
  images: number;
  comm: StepComm | null;
}

export async function trainStepDistributed(
  model: Network, opt: SGD, batch: Batch, dp: DataParallel, labelSmoothing = 0,
): Promise<DistributedStepResult> {
  model.train();
  const n = batch.labels.length;
  const sums = new Float64Array(3);
  tidy(() => {
    const x = Tensor.fromArray(batch.x, batch.shape);
    const logits = model.forward(x);
    const loss = crossEntropy(logits, batch.labels, labelSmoothing);
    const value = loss.item();
    const [rows, k] = logits.shape;
    const pred = argmaxRows(logits.toArray(), rows, k);
    let correct = 0;
    for (let i = 0; i < rows; i++) if (pred[i] === batch.labels[i]) correct++;
    sums.set([value * n, correct, n]);
    dp.world.allreduce(sums);
    if (!Number.isFinite(sums[0])) return;
    const share = n / sums[2];
    if (dp.syncBn) dp.syncBn.share = share;
    backward(loss, undefined, dp.grads.begin(share));
  });
  const result = { loss: sums[0] / sums[2], correct: sums[1], images: sums[2], comm: null as StepComm | null };
  if (Number.isFinite(result.loss)) {
    result.comm = await dp.grads.finish();
    noGrad(() => opt.step());
  }
  opt.zeroGrad();
  return result;
}
