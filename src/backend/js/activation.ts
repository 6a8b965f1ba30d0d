/**
 * Elementwise activations and their derivatives, PyTorch's definitions: ReLU max(0, x);
 * SiLU x * sigmoid(x); GELU the exact erf form 0.5 * x * (1 + erf(x / sqrt 2)); identity.
 */
import type { Activation } from '../backend.js';
import { erf } from './erf.js';
import { type FloatArray, allocLike } from './types.js';

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function siluGrad(x: number): number {
  const s = 1 / (1 + Math.exp(-x));
  return s * (1 + x * (1 - s));
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x * INV_SQRT2));
}

export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** Applies the activation to a[start:end] in place. */
export function activateInPlace(kind: Activation, a: FloatArray, start = 0, end = a.length): void {
  switch (kind) {
    case 'identity':
      return;
    case 'relu':
      for (let i = start; i < end; i++) if (!(a[i] > 0) && a[i] === a[i]) a[i] = 0;
      return;
    case 'silu':
      for (let i = start; i < end; i++) a[i] = silu(a[i]);
      return;
    case 'gelu':
      for (let i = start; i < end; i++) a[i] = gelu(a[i]);
      return;
    default:
      throw new Error(`activation: unknown kind '${String(kind)}' (expected relu, silu, gelu or identity)`);
  }
}

export function activationForward(kind: Activation, x: FloatArray): FloatArray {
  const y = allocLike(x, x.length);
  y.set(x);
  activateInPlace(kind, y);
  return y;
}

/** dx = dy * f'(x); `y` = f(x) (ReLU reads it, as PyTorch's threshold_backward does). */
export function activationBackward(kind: Activation, dy: FloatArray, x: FloatArray, y: FloatArray): FloatArray {
  const n = dy.length;
  if (x.length !== n || y.length !== n) throw new Error(`activationBackward: dy, x and y hold ${n}, ${x.length}, ${y.length} elements`);
  const dx = allocLike(dy, n);
  switch (kind) {
    case 'identity':
      dx.set(dy);
      break;
    case 'relu':
      for (let i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
      break;
    case 'silu':
      for (let i = 0; i < n; i++) dx[i] = dy[i] * siluGrad(x[i]);
      break;
    case 'gelu':
      for (let i = 0; i < n; i++) dx[i] = dy[i] * geluGrad(x[i]);
      break;
    default:
      throw new Error(`activationBackward: unknown kind '${String(kind)}' (expected relu, silu, gelu or identity)`);
  }
  return dx;
}
