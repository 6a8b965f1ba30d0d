/** Elementwise sums (residual connections, gradient accumulation). */
import { type FloatArray, allocLike } from './types.js';

export function add(a: FloatArray, b: FloatArray): FloatArray {
  if (a.length !== b.length) throw new Error(`add: operands hold ${a.length} and ${b.length} elements`);
  const y = allocLike(a, a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}

/** a += b. */
export function addInPlace(a: FloatArray, b: FloatArray): void {
  if (a.length !== b.length) throw new Error(`addInPlace: operands hold ${a.length} and ${b.length} elements`);
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}
