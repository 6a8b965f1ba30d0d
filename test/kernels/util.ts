/** Helpers shared by the kernel tests: seeded random arrays, finite differences, error measures. */
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/random.js';

export function rng(seed: number): Rng {
  return new Rng(seed);
}

export function randn(r: Rng, n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = r.normal() * scale;
  return a;
}

export function uniform(r: Rng, n: number, lo: number, hi: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r.next();
  return a;
}

/** max|a - b| / max(max|b|, floor). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-12): number {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const di = Math.abs(a[i] - b[i]);
    if (!(di <= d)) d = di; // NaN-propagating max
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, floor);
}

export function assertClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, floor = 1e-12): void {
  const e = relErr(actual, expected, floor);
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
  const e = relErr(analytic, numeric, 1e-10);
  if (process.env.GRADCHECK_VERBOSE) console.log(`gradcheck ${what}: ${e.toExponential(2)}`);
  assert.ok(e <= tol, `${what}: analytic vs numeric gradient, relative error ${e.toExponential(3)} > ${tol.toExponential(1)}`);
  return e;
}
