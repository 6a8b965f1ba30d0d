/**
 * Helpers shared by the test suites: seeded random arrays, tensor builders, the relative error every
 * comparison uses, finite differences.
 */
import assert from 'node:assert/strict';
import type { Shape } from '../../src/backend/backend.js';
import { Rng } from '../../src/core/random.js';
import { Tensor } from '../../src/core/tensor.js';

export function rng(seed: number): Rng {
  return new Rng(seed);
}

/** n normal draws times `scale` plus `offset` (float64: finite differences need the precision). */
export function randn(r: Rng, n: number, scale = 1, offset = 0): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = offset + r.normal() * scale;
  return a;
}

/** The same draws as float32 (what tensors hold). */
export function randnF32(r: Rng, n: number, scale = 1, offset = 0): Float32Array {
  return Float32Array.from(randn(r, n, scale, offset));
}

/** A tensor of the current backend holding `values`. */
export function tensor(values: ArrayLike<number>, shape: Shape, requiresGrad = false): Tensor {
  return Tensor.fromArray(Float32Array.from(values), shape, requiresGrad);
}

/** A tensor of normal draws from a seeded stream. */
export function randomTensor(r: Rng, shape: Shape, scale = 1, requiresGrad = false): Tensor {
  return tensor(randn(r, shape.reduce((a, b) => a * b, 1), scale), shape, requiresGrad);
}

export function uniform(r: Rng, n: number, lo: number, hi: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r.next();
  return a;
}

/**
 * max|actual - expected| / max|expected| (the fixtures README's relative error); a NaN anywhere makes
 * it NaN, so no tolerance passes it. Without `floor` an all-zero `expected` divides by 1; with it the
 * scale is max(max|expected|, floor).
 */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor?: number): number {
  assert.equal(actual.length, expected.length, `length ${actual.length} vs ${expected.length}`);
  let d = 0;
  let s = 0;
  for (let i = 0; i < actual.length; i++) {
    const di = Math.abs(actual[i] - expected[i]);
    if (!(di <= d)) d = di; // NaN-propagating max
    s = Math.max(s, Math.abs(expected[i]));
  }
  return d / (floor === undefined ? s || 1 : Math.max(s, floor));
}

export function assertClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, floor = 1e-12): void {
  const e = relError(actual, expected, floor);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(3)} > ${tol.toExponential(1)}`);
}

/** sum_i r_i * y_i: turns a vector output into the scalar the finite differences look at. */
export function dot(r: ArrayLike<number>, y: ArrayLike<number>): number {
  assert.equal(r.length, y.length);
  let s = 0;
  for (let i = 0; i < r.length; i++) s += r[i] * y[i];
  return s;
}

/** Central differences of the scalar `loss()` with respect to every element of `x` (perturbed in place, then restored). */
export function numericGrad(loss: () => number, x: Float64Array, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const lp = loss();
    x[i] = v - h;
    const lm = loss();
    x[i] = v;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

/** Asserts that an analytic gradient matches central differences to `tol` (relative, max-norm). */
export function checkGrad(what: string, loss: () => number, x: Float64Array, analytic: ArrayLike<number>, tol = 1e-6): number {
  const numeric = numericGrad(loss, x);
  const e = relError(analytic, numeric, 1e-10);
  if (process.env.GRADCHECK_VERBOSE) console.log(`gradcheck ${what}: ${e.toExponential(2)}`);
  assert.ok(e <= tol, `${what}: analytic vs numeric gradient, relative error ${e.toExponential(3)} > ${tol.toExponential(1)}`);
  return e;
}
