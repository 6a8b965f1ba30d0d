/**
 * Inverted dropout with the stateless mask shared by every backend: element i (logical row-major
 * index) is kept when `dropoutKeep(seed, i, p)`, and kept values are scaled by 1 / (1 - p).
 */
import { dropoutHash } from '../backend.js';
import { type FloatArray, allocLike } from './types.js';

function checkP(p: number): void {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
}

/** y = x * keep / (1 - p). Also the backward (dx = dy * keep / (1 - p)): the mask depends only on (seed, i, p). */
export function dropoutApply(x: FloatArray, p: number, seed: number): FloatArray {
  checkP(p);
  const y = allocLike(x, x.length);
  if (p === 0) {
    y.set(x);
    return y;
  }
  // Same test as dropoutKeep(seed, i, p), with the threshold hoisted out of the loop.
  const threshold = p * 4294967296;
  const scale = 1 / (1 - p);
  for (let i = 0; i < x.length; i++) y[i] = dropoutHash(seed, i) >= threshold ? x[i] * scale : 0;
  return y;
}

export const dropoutForward = dropoutApply;
export const dropoutBackward = dropoutApply;
