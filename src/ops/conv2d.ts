import type { Conv2dOptions } from '../backend/backend.js';
import { needsGrad, record } from '../core/autograd.js';
import { convOutSize, formatShape } from '../core/shape.js';
import { type Tensor, wrap } from '../core/tensor.js';
import { gradFn } from './gradFn.js';

/** 2-D convolution, NCHW x OIHW, no bias (every conv in a WRN is bias-free). */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions): Tensor {
  const [n, c, h, wd] = x.shape;
  const [o, ci, kh, kw] = w.shape;
  if (x.shape.length !== 4 || w.shape.length !== 4 || c !== ci) {
    throw new Error(`conv2d: input ${formatShape(x.shape)} and weight ${formatShape(w.shape)} do not match (NCHW x OIHW)`);
  }
  const outShape = [n, o, convOutSize(h, kh, opts.stride, opts.padding), convOutSize(wd, kw, opts.stride, opts.padding)];
  const b = x.backend;
  const y = wrap(b.conv2d(x.storage, x.shape, w.storage, w.shape, opts), outShape, b);
  if (!needsGrad(x, w)) return y;
  return record(y, gradFn('conv2d', [x, w], (dy) => [
    x.requiresGrad ? wrap(b.conv2dBackwardData(dy.storage, w.storage, w.shape, x.shape, opts), x.shape, b) : null,
    w.requiresGrad ? wrap(b.conv2dBackwardWeights(dy.storage, x.storage, x.shape, w.shape, opts), w.shape, b) : null,
  ], [], [x, w]));
}
