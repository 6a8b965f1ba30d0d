/**
 * 2-D convolution (NCHW x OIHW, no groups, no dilation, no bias) by im2col + gemm, one image at a
 * time so the column buffer stays bounded (C*KH*KW x OH*OW per image, reused between calls).
 * Pointwise convolutions (1x1, stride 1, no padding) skip im2col: the image already is the column matrix.
 *
 *   forward:          y_n[O, OHW]    = W[O, CKK] * col(x_n)[CKK, OHW]
 *   backward data:    dx_n           = col2im(W^T[CKK, O] * dy_n[O, OHW])
 *   backward weights: dW[O, CKK]    += dy_n[O, OHW] * col(x_n)^T[OHW, CKK]
 */
import type { Conv2dParams } from '../backend.js';
import { gemm } from './matmul.js';
import { type FloatArray, allocLike, checkRank, checkSize, scratchLike } from './types.js';

export interface ConvGeometry {
  n: number; c: number; h: number; w: number;
  o: number; kh: number; kw: number;
  stride: number; padding: number;
  oh: number; ow: number;
}

export function convGeometry(xShape: readonly number[], wShape: readonly number[], opts: Conv2dParams): ConvGeometry {
  checkRank('conv2d input', xShape, 4, 'NCHW');
  checkRank('conv2d weight', wShape, 4, 'OIHW');
  const [n, c, h, w] = xShape;
  const [o, ci, kh, kw] = wShape;
  const { stride, padding } = opts;
  if (ci !== c) throw new Error(`conv2d: input [${xShape.join(',')}] has ${c} channels, weight [${wShape.join(',')}] expects ${ci}`);
  if (!(Number.isInteger(stride) && stride >= 1)) throw new Error(`conv2d: stride must be a positive integer, got ${stride}`);
  if (!(Number.isInteger(padding) && padding >= 0)) throw new Error(`conv2d: padding must be a non-negative integer, got ${padding}`);
  const oh = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const ow = Math.floor((w + 2 * padding - kw) / stride) + 1;
  if (oh <= 0 || ow <= 0) {
    throw new Error(`conv2d: kernel ${kh}x${kw} with padding ${padding} does not fit input ${h}x${w}`);
  }
  return { n, c, h, w, o, kh, kw, stride, padding, oh, ow };
}

function isPointwise(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.stride === 1 && g.padding === 0;
}

/** Valid output-column range [lo, hi) for kernel column kj: 0 <= ox*stride - padding + kj < w. */
function validRange(k: number, stride: number, padding: number, inSize: number, outSize: number): [number, number] {
  const lo = Math.max(0, Math.ceil((padding - k) / stride));
  const hi = Math.min(outSize, Math.floor((inSize - 1 + padding - k) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/** col[(ch*kh + ki)*kw + kj, oy*ow + ox] = x[xOff + (ch, oy*s - p + ki, ox*s - p + kj)], 0 outside the image. */
export function im2col(x: FloatArray, xOff: number, g: ConvGeometry, col: FloatArray): void {
  const { c, h, w, kh, kw, stride: s, padding: p, oh, ow } = g;
  const ohw = oh * ow;
  let dst = 0;
  for (let ch = 0; ch < c; ch++) {
    const plane = xOff + ch * h * w;
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const [lo, hi] = validRange(kj, s, p, w, ow);
        for (let oy = 0; oy < oh; oy++, dst += ow) {
          const iy = oy * s - p + ki;
          if (iy < 0 || iy >= h) {
            col.fill(0, dst, dst + ow);
            continue;
          }
          if (lo > 0) col.fill(0, dst, dst + lo);
          let src = plane + iy * w + lo * s - p + kj;
          if (s === 1) {
            for (let ox = lo; ox < hi; ox++) col[dst + ox] = x[src++];
          } else {
            for (let ox = lo; ox < hi; ox++, src += s) col[dst + ox] = x[src];
          }
          if (hi < ow) col.fill(0, dst + hi, dst + ow);
        }
      }
    }
  }
  if (dst !== c * kh * kw * ohw) throw new Error('im2col: internal size mismatch');
}

/** The adjoint of im2col: dx[dxOff + ...] += col scattered back to the image (padding dropped). */
export function col2im(col: FloatArray, g: ConvGeometry, dx: FloatArray, dxOff: number): void {
  const { c, h, w, kh, kw, stride: s, padding: p, oh, ow } = g;
  let src = 0;
  for (let ch = 0; ch < c; ch++) {
    const plane = dxOff + ch * h * w;
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const [lo, hi] = validRange(kj, s, p, w, ow);
        for (let oy = 0; oy < oh; oy++, src += ow) {
          const iy = oy * s - p + ki;
          if (iy < 0 || iy >= h) continue;
          let dst = plane + iy * w + lo * s - p + kj;
          for (let ox = lo; ox < hi; ox++, dst += s) dx[dst] += col[src + ox];
        }
      }
    }
  }
}

export function conv2dForward(x: FloatArray, xShape: readonly number[], w: FloatArray, wShape: readonly number[], opts: Conv2dParams): FloatArray {
  const g = convGeometry(xShape, wShape, opts);
  checkSize('conv2d input', x, xShape);
  checkSize('conv2d weight', w, wShape);
  const { n, c, h, w: wd, o, oh, ow } = g;
  const ckk = c * g.kh * g.kw;
  const ohw = oh * ow;
  const y = allocLike(x, n * o * ohw);
  const pointwise = isPointwise(g);
  const col = pointwise ? x : scratchLike('conv.col', x, ckk * ohw);
  for (let b = 0; b < n; b++) {
    let colOff = b * c * h * wd;
    if (!pointwise) {
      im2col(x, b * c * h * wd, g, col);
      colOff = 0;
    }
    gemm(false, false, o, ohw, ckk, 1, w, 0, ckk, col, colOff, ohw, 0, y, b * o * ohw, ohw);
  }
  return y;
}

export function conv2dBackwardData(
  dy: FloatArray, w: FloatArray, wShape: readonly number[], xShape: readonly number[], opts: Conv2dParams,
): FloatArray {
  const g = convGeometry(xShape, wShape, opts);
  const { n, c, h, w: wd, o, oh, ow } = g;
  checkSize('conv2d backward-data dy', dy, [n, o, oh, ow]);
  checkSize('conv2d weight', w, wShape);
  const ckk = c * g.kh * g.kw;
  const ohw = oh * ow;
  const chw = c * h * wd;
  const dx = allocLike(dy, n * chw);
  if (isPointwise(g)) {
    for (let b = 0; b < n; b++) gemm(true, false, c, ohw, o, 1, w, 0, ckk, dy, b * o * ohw, ohw, 0, dx, b * chw, ohw);
    return dx;
  }
  const dcol = scratchLike('conv.col', dy, ckk * ohw);
  for (let b = 0; b < n; b++) {
    gemm(true, false, ckk, ohw, o, 1, w, 0, ckk, dy, b * o * ohw, ohw, 0, dcol, 0, ohw);
    col2im(dcol, g, dx, b * chw);
  }
  return dx;
}

export function conv2dBackwardWeights(
  dy: FloatArray, x: FloatArray, xShape: readonly number[], wShape: readonly number[], opts: Conv2dParams,
): FloatArray {
  const g = convGeometry(xShape, wShape, opts);
  const { n, c, h, w: wd, o, oh, ow } = g;
  checkSize('conv2d backward-weights dy', dy, [n, o, oh, ow]);
  checkSize('conv2d input', x, xShape);
  const ckk = c * g.kh * g.kw;
  const ohw = oh * ow;
  const chw = c * h * wd;
  const dw = allocLike(dy, o * ckk);
  const pointwise = isPointwise(g);
  const col = pointwise ? x : scratchLike('conv.col', x, ckk * ohw);
  for (let b = 0; b < n; b++) {
    let colOff = b * chw;
    if (!pointwise) {
      im2col(x, b * chw, g, col);
      colOff = 0;
    }
    gemm(false, true, o, ckk, ohw, 1, dy, b * o * ohw, ohw, col, colOff, ohw, 1, dw, 0, ckk);
  }
  return dw;
}
