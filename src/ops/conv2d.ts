import type { Conv2dBackwardOptions, Conv2dOptions, Conv2dParams, Precision } from '../backend/backend.js';
import { needsGrad, record } from '../core/autograd.js';
import { convOutSize, formatShape } from '../core/shape.js';
import { type Tensor, wrap } from '../core/tensor.js';
import { gradFn } from './gradFn.js';

/**
 * 2-D convolution, NCHW x OIHW, no bias (every conv in a WRN is bias-free). It computes in `precision`
 * (default: the precision the input's backend was set to); its mode is 'inference' exactly when no
 * backward will be recorded, which lets a backend keep weights pre-transformed.
 */
export function conv2d(x: Tensor, w: Tensor, params: Conv2dParams, precision: Precision = x.backend.precision): Tensor {
  const [n, c, h, wd] = x.shape;
  const [o, ci, kh, kw] = w.shape;
  if (x.shape.length !== 4 || w.shape.length !== 4 || c !== ci) {
    throw new Error(`conv2d: input ${formatShape(x.shape)} and weight ${formatShape(w.shape)} do not match (NCHW x OIHW)`);
  }
  const outShape = [n, o, convOutSize(h, kh, params.stride, params.padding), convOutSize(wd, kw, params.stride, params.padding)];
  const b = x.backend;
  const training = needsGrad(x, w);
  const opts: Conv2dOptions = { stride: params.stride, padding: params.padding, precision, mode: training ? 'training' : 'inference' };
  const y = wrap(b.conv2d(x.storage, x.shape, w.storage, w.shape, opts), outShape, b);
  if (!training) return y;
  const back: Conv2dBackwardOptions = { stride: params.stride, padding: params.padding, precision };
  return record(y, gradFn('conv2d', [x, w], (dy) => [
    x.requiresGrad ? wrap(b.conv2dBackwardData(dy.storage, w.storage, w.shape, x.shape, back), x.shape, b) : null,
    w.requiresGrad ? wrap(b.conv2dBackwardWeights(dy.storage, x.storage, x.shape, w.shape, back), w.shape, b) : null,
  ], [], [x, w]));
}
