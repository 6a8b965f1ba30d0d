import type { BatchNormOptions } from '../backend/backend.js';
import { needsGrad, record } from '../core/autograd.js';
import { formatShape } from '../core/shape.js';
import { type Tensor, wrap } from '../core/tensor.js';
import { gradFn } from './gradFn.js';

export interface BatchNormState {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
}

/**
 * Batch normalisation over (N,H,W) per channel followed by an optional fused activation
 * (BN-ReLU is the pre-activation unit of every WRN block). In training mode it normalises with the
 * batch statistics and updates the running statistics in place; in eval mode it uses them.
 */
export function batchNorm(x: Tensor, bn: BatchNormState, training: boolean, opts: BatchNormOptions): Tensor {
  if (x.shape.length !== 4 || x.shape[1] !== bn.weight.shape[0]) {
    throw new Error(`batchNorm: input ${formatShape(x.shape)} does not have ${bn.weight.shape[0]} channels`);
  }
  const b = x.backend;
  const args = [bn.weight.storage, bn.bias.storage, bn.runningMean.storage, bn.runningVar.storage] as const;
  if (!training) return wrap(b.batchNormInfer(x.storage, x.shape, ...args, opts), x.shape, b);
  const { y: ys, saved } = b.batchNormTrain(x.storage, x.shape, ...args, opts);
  const y = wrap(ys, x.shape, b);
  if (!needsGrad(x, bn.weight, bn.bias)) {
    b.dispose(saved);
    return y;
  }
  return record(y, gradFn('batchNorm', [x, bn.weight, bn.bias], (dy) => {
    const r = b.batchNormBackward(dy.storage, x.storage, y.storage, x.shape, bn.weight.storage, bn.bias.storage, saved, opts);
    return [wrap(r.dx, x.shape, b), wrap(r.dgamma, bn.weight.shape, b), wrap(r.dbeta, bn.bias.shape, b)];
  }, [saved], [x, y, bn.weight, bn.bias]));
}
