import { needsGrad, record } from '../core/autograd.js';
import { convOutSize, formatShape } from '../core/shape.js';
import { type Tensor, wrap } from '../core/tensor.js';
import { gradFn } from './gradFn.js';

/** [N,C,H,W] -> [N,C]: the mean over each feature map. */
export function globalAvgPool(x: Tensor): Tensor {
  if (x.shape.length !== 4) throw new Error(`globalAvgPool: expected NCHW, got ${formatShape(x.shape)}`);
  const b = x.backend;
  const y = wrap(b.globalAvgPool(x.storage, x.shape), [x.shape[0], x.shape[1]], b);
  if (!needsGrad(x)) return y;
  // The gradient flows back into the feature maps, which the convolutions computed in this precision.
  const precision = b.precision;
  return record(y, gradFn('globalAvgPool', [x], (dy) => [wrap(b.globalAvgPoolBackward(dy.storage, x.shape, precision), x.shape, b)]));
}

/** Max pooling (the ImageNet stem's 3x3, stride 2, padding 1). */
export function maxPool2d(x: Tensor, kernel: number, stride: number, padding: number): Tensor {
  if (x.shape.length !== 4) throw new Error(`maxPool2d: expected NCHW, got ${formatShape(x.shape)}`);
  const [n, c, h, w] = x.shape;
  const outShape = [n, c, convOutSize(h, kernel, stride, padding), convOutSize(w, kernel, stride, padding)];
  const b = x.backend;
  const { y: ys, saved } = b.maxPool2d(x.storage, x.shape, kernel, stride, padding);
  const y = wrap(ys, outShape, b);
  if (!needsGrad(x)) {
    b.dispose(saved);
    return y;
  }
  return record(y, gradFn('maxPool2d', [x], (dy) => [wrap(b.maxPool2dBackward(dy.storage, x.shape, saved), x.shape, b)], [saved]));
}
