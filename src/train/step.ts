import { backward } from '../core/autograd.js';
import { noGrad, tidy } from '../core/engine.js';
import type { Batch } from '../inference/predict.js';
import { Tensor } from '../core/tensor.js';
import type { Network } from '../models/network.js';
import { crossEntropy } from '../ops/index.js';
import type { SGD } from '../optim/sgd.js';

export interface StepResult {
  loss: number;
  correct: number;
}

/** Index of the largest value in each row of a [n, k] array. */
export function argmaxRows(values: Float32Array, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (values[i * k + j] > values[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

function countCorrect(logits: Tensor, labels: Int32Array): number {
  const [n, k] = logits.shape;
  const pred = argmaxRows(logits.toArray(), n, k);
  let c = 0;
  for (let i = 0; i < n; i++) if (pred[i] === labels[i]) c++;
  return c;
}

/**
 * One SGD step: forward in train mode, mean cross-entropy, backward, update, free everything the
 * step made. Returns the loss and the number of correct predictions (before the update).
 */
export function trainStep(model: Network, opt: SGD, batch: Batch, labelSmoothing = 0): StepResult {
  model.train();
  const r = tidy(() => {
    const x = Tensor.fromArray(batch.x, batch.shape);
    const logits = model.forward(x);
    const loss = crossEntropy(logits, batch.labels, labelSmoothing);
    const value = loss.item();
    const correct = countCorrect(logits, batch.labels);
    if (Number.isFinite(value)) backward(loss);
    return { loss: value, correct };
  });
  if (Number.isFinite(r.loss)) noGrad(() => opt.step());
  opt.zeroGrad();
  return r;
}
