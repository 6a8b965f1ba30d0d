/** Global average pooling and max pooling (PyTorch semantics: padding never wins, first max on ties). */
import { type FloatArray, allocLike, checkRank, checkSize } from './types.js';

/** [N,C,H,W] -> [N,C], the mean of each feature map. */
export function globalAvgPool(x: FloatArray, xShape: readonly number[]): FloatArray {
  checkRank('globalAvgPool', xShape, 4, 'NCHW');
  checkSize('globalAvgPool input', x, xShape);
  const [n, c, h, w] = xShape;
  const hw = h * w;
  const y = allocLike(x, n * c);
  for (let p = 0; p < n * c; p++) {
    let s = 0;
    const off = p * hw;
    for (let i = off; i < off + hw; i++) s += x[i];
    y[p] = s / hw;
  }
  return y;
}

export function globalAvgPoolBackward(dy: FloatArray, xShape: readonly number[]): FloatArray {
  checkRank('globalAvgPoolBackward', xShape, 4, 'NCHW');
  const [n, c, h, w] = xShape;
  checkSize('globalAvgPoolBackward dy', dy, [n, c]);
  const hw = h * w;
  const dx = allocLike(dy, n * c * hw);
  for (let p = 0; p < n * c; p++) dx.fill(dy[p] / hw, p * hw, (p + 1) * hw);
  return dx;
}

export interface MaxPoolResult {
  y: FloatArray;
  yShape: number[];
  /** For each output, the flat (row-major) index into x of the value it took. */
  argmax: Int32Array;
}

export function maxPool2d(x: FloatArray, xShape: readonly number[], kernel: number, stride: number, padding: number): MaxPoolResult {
  checkRank('maxPool2d', xShape, 4, 'NCHW');
  checkSize('maxPool2d input', x, xShape);
  if (!(Number.isInteger(kernel) && kernel >= 1 && Number.isInteger(stride) && stride >= 1)) {
    throw new Error(`maxPool2d: kernel and stride must be positive integers, got ${kernel} and ${stride}`);
  }
  if (!(Number.isInteger(padding) && padding >= 0 && 2 * padding <= kernel)) {
    throw new Error(`maxPool2d: padding must be an integer in [0, kernel/2], got ${padding} for kernel ${kernel}`);
  }
  const [n, c, h, w] = xShape;
  const oh = Math.floor((h + 2 * padding - kernel) / stride) + 1;
  const ow = Math.floor((w + 2 * padding - kernel) / stride) + 1;
  if (oh <= 0 || ow <= 0) throw new Error(`maxPool2d: kernel ${kernel} with padding ${padding} does not fit input ${h}x${w}`);
  const y = allocLike(x, n * c * oh * ow);
  const argmax = new Int32Array(n * c * oh * ow);
  let o = 0;
  for (let p = 0; p < n * c; p++) {
    const plane = p * h * w;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = Math.max(oy * stride - padding, 0);
      const y1 = Math.min(oy * stride - padding + kernel, h);
      for (let ox = 0; ox < ow; ox++, o++) {
        const x0 = Math.max(ox * stride - padding, 0);
        const x1 = Math.min(ox * stride - padding + kernel, w);
        // As PyTorch's CPU kernel: start at -inf on the first in-image element; strictly greater
        // (or NaN) replaces, so ties keep the first maximum in row-major window order.
        let best = -Infinity;
        let bestIdx = plane + y0 * w + x0;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const idx = plane + iy * w + ix;
            const v = x[idx];
            if (v > best || v !== v) {
              best = v;
              bestIdx = idx;
            }
          }
        }
        y[o] = best;
        argmax[o] = bestIdx;
      }
    }
  }
  return { y, yShape: [n, c, oh, ow], argmax };
}

/** dx[argmax[o]] += dy[o]. */
export function maxPool2dBackward(dy: FloatArray, xShape: readonly number[], argmax: Int32Array): FloatArray {
  checkRank('maxPool2dBackward', xShape, 4, 'NCHW');
  if (dy.length !== argmax.length) throw new Error(`maxPool2dBackward: dy holds ${dy.length} values for ${argmax.length} outputs`);
  const dx = allocLike(dy, xShape[0] * xShape[1] * xShape[2] * xShape[3]);
  for (let o = 0; o < dy.length; o++) dx[argmax[o]] += dy[o];
  return dx;
}
