/**
 * Forward values of the js kernels against hand-computed numbers, naive loops and a few values
 * taken from PyTorch 1.13 / Python's math module (embedded as literals; nothing runs Python here).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BatchNormOptions, type SgdOptions, dropoutKeep } from '../../src/backend/backend.js';
import { activationForward, gelu, silu } from '../../src/backend/js/activation.js';
import { batchNormInfer, batchNormTrain } from '../../src/backend/js/batchNorm.js';
import { conv2dBackwardData, conv2dBackwardWeights, conv2dForward, convGeometry } from '../../src/backend/js/conv2d.js';
import { dropoutForward } from '../../src/backend/js/dropout.js';
import { erf, erfc } from '../../src/backend/js/erf.js';
import { linearForward } from '../../src/backend/js/linear.js';
import { softmaxCrossEntropy } from '../../src/backend/js/loss.js';
import { gemm } from '../../src/backend/js/matmul.js';
import { globalAvgPool, maxPool2d, maxPool2dBackward } from '../../src/backend/js/pool.js';
import { sgdStep } from '../../src/backend/js/sgd.js';
import { assertClose, randn, rng } from '../helpers/index.js';

// ---------------------------------------------------------------- gemm
function naiveGemm(
  ta: boolean, tb: boolean, M: number, N: number, K: number, alpha: number,
  A: Float64Array, aOff: number, lda: number, B: Float64Array, bOff: number, ldb: number,
  beta: number, C: Float64Array, cOff: number, ldc: number,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) {
        const a = ta ? A[aOff + p * lda + i] : A[aOff + i * lda + p];
        const b = tb ? B[bOff + j * ldb + p] : B[bOff + p * ldb + j];
        s += a * b;
      }
      const c = cOff + i * ldc + j;
      C[c] = alpha * s + (beta === 0 ? 0 : beta * C[c]);
    }
  }
}

describe('gemm vs naive triple loop', () => {
  // Sizes straddle the blocking (MC 128, KC 256, NC 2048) and the 4x4 tile edges.
  const sizes: [number, number, number][] = [[133, 9, 259], [5, 2051, 7], [1, 1, 1], [4, 4, 4], [7, 13, 300]];
  for (const [M, N, K] of sizes) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      test(`${M}x${N}x${K} transA=${ta} transB=${tb}`, () => {
        const r = rng(M + N + K);
        const pad = 3; // leading dimensions larger than the rows, and nonzero offsets
        const lda = (ta ? M : K) + pad;
        const ldb = (tb ? K : N) + pad;
        const ldc = N + pad;
        const A = randn(r, 2 + (ta ? K : M) * lda);
        const B = randn(r, 5 + (tb ? N : K) * ldb);
        const C0 = randn(r, 1 + M * ldc);
        for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
          const got = C0.slice();
          const want = C0.slice();
          gemm(ta, tb, M, N, K, alpha, A, 2, lda, B, 5, ldb, beta, got, 1, ldc);
          naiveGemm(ta, tb, M, N, K, alpha, A, 2, lda, B, 5, ldb, beta, want, 1, ldc);
          assertClose(`alpha ${alpha} beta ${beta}`, got, want, 1e-13);
        }
      });
    }
  }
  test('beta = 0 ignores NaN in C; K = 0 only scales C', () => {
    const C = new Float64Array([NaN, NaN, NaN, NaN]);
    gemm(false, false, 2, 2, 1, 1, new Float64Array([1, 2]), 0, 1, new Float64Array([3, 4]), 0, 2, 0, C, 0, 2);
    assert.deepEqual(Array.from(C), [3, 4, 6, 8]);
    const D = new Float64Array([1, 2, 3, 4]);
    gemm(false, false, 2, 2, 0, 1, new Float64Array(0), 0, 1, new Float64Array(0), 0, 2, 0.5, D, 0, 2);
    assert.deepEqual(Array.from(D), [0.5, 1, 1.5, 2]);
  });
  test('float32 storage: sums run in float64', () => {
    const K = 3000;
    const A = new Float32Array(K).fill(0.1);
    const B = new Float32Array(K).fill(1);
    const C = new Float32Array(1);
    gemm(false, false, 1, 1, K, 1, A, 0, K, B, 0, 1, 0, C, 0, 1);
    assert.ok(Math.abs(C[0] - K * Math.fround(0.1)) < 1e-4, `got ${C[0]}`);
  });
});

// ---------------------------------------------------------------- convolution
interface ConvSpec { xShape: number[]; wShape: number[]; stride: number; padding: number }

function naiveConv(x: Float64Array, w: Float64Array, s: ConvSpec): Float64Array {
  const [n, c, h, wd] = s.xShape;
  const [o, , kh, kw] = s.wShape;
  const g = convGeometry(s.xShape, s.wShape, s);
  const y = new Float64Array(n * o * g.oh * g.ow);
  for (let b = 0; b < n; b++) for (let oc = 0; oc < o; oc++) for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
    let acc = 0;
    for (let ic = 0; ic < c; ic++) for (let ki = 0; ki < kh; ki++) for (let kj = 0; kj < kw; kj++) {
      const iy = oy * s.stride - s.padding + ki;
      const ix = ox * s.stride - s.padding + kj;
      if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
      acc += x[((b * c + ic) * h + iy) * wd + ix] * w[((oc * c + ic) * kh + ki) * kw + kj];
    }
    y[((b * o + oc) * g.oh + oy) * g.ow + ox] = acc;
  }
  return y;
}

/** dx and dw by the same direct loops (scatter form), independent of im2col. */
function naiveConvBackward(x: Float64Array, w: Float64Array, dy: Float64Array, s: ConvSpec): { dx: Float64Array; dw: Float64Array } {
  const [n, c, h, wd] = s.xShape;
  const [o, , kh, kw] = s.wShape;
  const g = convGeometry(s.xShape, s.wShape, s);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let b = 0; b < n; b++) for (let oc = 0; oc < o; oc++) for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
    const d = dy[((b * o + oc) * g.oh + oy) * g.ow + ox];
    for (let ic = 0; ic < c; ic++) for (let ki = 0; ki < kh; ki++) for (let kj = 0; kj < kw; kj++) {
      const iy = oy * s.stride - s.padding + ki;
      const ix = ox * s.stride - s.padding + kj;
      if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
      const xi = ((b * c + ic) * h + iy) * wd + ix;
      const wi = ((oc * c + ic) * kh + ki) * kw + kj;
      dx[xi] += w[wi] * d;
      dw[wi] += x[xi] * d;
    }
  }
  return { dx, dw };
}

describe('im2col convolution vs naive direct convolution', () => {
  const r = rng(11);
  const specs: ConvSpec[] = [];
  // random shapes: kernel 1/3/5/7, stride 1/2/3, padding 0..3, non-square inputs
  for (let t = 0; t < 14; t++) {
    const k = [1, 3, 5, 7][t % 4];
    const kw = t === 13 ? 2 : k;
    const stride = 1 + (t % 3);
    const padding = Math.min(3, t % 4 === 0 ? 0 : (t >> 1) % 4);
    const h = k + 1 + r.int(9);
    const w = k + 1 + r.int(9);
    specs.push({ xShape: [1 + r.int(3), 1 + r.int(5), h, w], wShape: [1 + r.int(6), 0, k, kw], stride, padding });
  }
  specs.push({ xShape: [2, 16, 8, 8], wShape: [20, 0, 3, 3], stride: 1, padding: 1 });
  specs.push({ xShape: [2, 19, 6, 7], wShape: [33, 0, 1, 1], stride: 1, padding: 0 });
  for (const s of specs) {
    s.wShape[1] = s.xShape[1];
    test(`x [${s.xShape.join(',')}] w [${s.wShape.join(',')}] stride ${s.stride} padding ${s.padding}`, () => {
      const x = randn(r, s.xShape.reduce((a, b) => a * b));
      const w = randn(r, s.wShape.reduce((a, b) => a * b));
      const y = conv2dForward(x, s.xShape, w, s.wShape, s);
      const yRef = naiveConv(x, w, s);
      assertClose('forward (float64)', y, yRef, 1e-13);
      const dy = randn(r, y.length);
      const ref = naiveConvBackward(x, w, dy, s);
      assertClose('backward data', conv2dBackwardData(dy, w, s.wShape, s.xShape, s), ref.dx, 1e-13);
      assertClose('backward weights', conv2dBackwardWeights(dy, x, s.xShape, s.wShape, s), ref.dw, 1e-13);
      // float32 storage, as the backend runs it
      const y32 = conv2dForward(Float32Array.from(x), s.xShape, Float32Array.from(w), s.wShape, s);
      assert.ok(y32 instanceof Float32Array);
      assertClose('forward (float32)', y32, yRef, 1e-5);
    });
  }
  test('bad shapes are rejected with a clear message', () => {
    assert.throws(() => conv2dForward(new Float64Array(16), [1, 1, 4, 4], new Float64Array(18), [1, 2, 3, 3], { stride: 1, padding: 1 }), /channels/);
    assert.throws(() => conv2dForward(new Float64Array(4), [1, 1, 2, 2], new Float64Array(9), [1, 1, 3, 3], { stride: 1, padding: 0 }), /does not fit/);
    assert.throws(() => conv2dForward(new Float64Array(15), [1, 1, 4, 4], new Float64Array(9), [1, 1, 3, 3], { stride: 1, padding: 0 }), /15 elements/);
  });
});

// ---------------------------------------------------------------- batch norm
describe('batch norm values', () => {
  const opts = (activation: BatchNormOptions['activation'] = 'identity'): BatchNormOptions => ({ momentum: 0.1, eps: 1e-5, activation });

  test('hand example: biased variance to normalise, unbiased variance for running_var', () => {
    // one channel, values 1,2,3,4 (N=2, H=1, W=2): mean 2.5, biased var 1.25, unbiased var 5/3
    const x = new Float64Array([1, 2, 3, 4]);
    const rm = new Float64Array([0.2]);
    const rv = new Float64Array([1.5]);
    const r = batchNormTrain(x, [2, 1, 1, 2], new Float64Array([2]), new Float64Array([0.5]), rm, rv, opts());
    const is = 1 / Math.sqrt(1.25 + 1e-5);
    assertClose('y', r.y, [1, 2, 3, 4].map((v) => 2 * (v - 2.5) * is + 0.5), 1e-15);
    assert.equal(r.mean[0], 2.5);
    assertClose('invstd', r.invstd, [is], 1e-15);
    assertClose('running_mean', rm, [0.9 * 0.2 + 0.1 * 2.5], 1e-15);
    assertClose('running_var', rv, [0.9 * 1.5 + 0.1 * (5 / 3)], 1e-15);
    assert.notEqual(Math.abs(rv[0] - (0.9 * 1.5 + 0.1 * 1.25)) < 1e-9, true, 'running_var must use the unbiased variance');
  });

  test('training forward with each fused activation vs naive two-pass, several channels, float32 running stats', () => {
    const rg = rng(12);
    const shape = [3, 4, 5, 2];
    const [n, c, h, w] = shape;
    const hw = h * w;
    const x = randn(rg, n * c * hw, 3);
    const gamma = randn(rg, c);
    const beta = randn(rg, c);
    for (const act of ['relu', 'silu', 'gelu', 'identity'] as const) {
      const rm = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
      const rv = Float32Array.from([1, 2, 3, 4]);
      const r = batchNormTrain(x, shape, gamma, beta, rm, rv, opts(act));
      const f = { relu: (z: number) => Math.max(0, z), silu, gelu, identity: (z: number) => z }[act];
      const want = new Float64Array(x.length);
      for (let ch = 0; ch < c; ch++) {
        const vals: number[] = [];
        for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) vals.push(x[(b * c + ch) * hw + i]);
        const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
        const varB = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length;
        for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) {
          const k = (b * c + ch) * hw + i;
          want[k] = f(gamma[ch] * (x[k] - mean) / Math.sqrt(varB + 1e-5) + beta[ch]);
        }
        const m = vals.length;
        assertClose(`running_mean[${ch}]`, [rm[ch]], [0.9 * [0.1, 0.2, 0.3, 0.4][ch] + 0.1 * mean], 1e-6);
        assertClose(`running_var[${ch}]`, [rv[ch]], [0.9 * (ch + 1) + 0.1 * varB * m / (m - 1)], 1e-6);
      }
      assertClose(`y (${act})`, r.y, want, 1e-13);
    }
  });

  test('inference uses the running statistics', () => {
    const x = new Float64Array([-1, 0, 1, 2, 3, 4]);
    const y = batchNormInfer(x, [1, 2, 3], new Float64Array([2, -1]), new Float64Array([0.5, 0]),
      new Float64Array([1, 3]), new Float64Array([4, 0.25]), { momentum: 0.1, eps: 0, activation: 'relu' });
    // channel 0: relu(2 * (x - 1) / 2 + 0.5); channel 1: relu(-(x - 3) / 0.5)
    assert.deepEqual(Array.from(y), [0, 0, 0.5, 2, 0, 0]);
  });

  test('training with one value per channel throws, as PyTorch does', () => {
    assert.throws(() => batchNormTrain(new Float64Array(2), [1, 2, 1, 1], new Float64Array(2), new Float64Array(2),
      new Float64Array(2), new Float64Array(2), opts()), /more than 1 value per channel/);
  });
});

// ---------------------------------------------------------------- activations, erf
describe('erf and activations vs Python math (float64)', () => {
  // math.erf / math.erfc of CPython (correctly rounded or within an ulp or two)
  const ERF_TABLE: [number, number][] = [
    [0, 0.0], [1e-10, 1.1283791670955126e-10], [0.001, 0.0011283787909692365], [0.1, 0.1124629160182849],
    [0.3, 0.3286267594591274], [0.46875, 0.49261347321793797], [0.5, 0.5204998778130465], [0.75, 0.7111556336535151],
    [1, 0.8427007929497149], [1.5, 0.9661051464753108], [2, 0.9953222650189527], [2.5, 0.999593047982555],
    [3, 0.9999779095030014], [3.9, 0.9999999652077514], [4, 0.9999999845827421], [4.5, 0.9999999998033839],
    [5, 0.9999999999984626], [6, 1.0], [8, 1.0], [-0.2, -0.22270258921047847], [-1.3, -0.9340079449406524],
    [-3.3, -0.9999969422902035], [-5.5, -0.9999999999999927],
  ];
  const ERFC_TABLE: [number, number][] = [
    [0.5, 0.4795001221869535], [1, 0.15729920705028513], [2, 0.004677734981047265], [3, 2.2090496998585438e-05],
    [5, 1.5374597944280351e-12], [8, 1.1224297172982928e-29], [10, 2.088487583762545e-45],
    [20, 5.3958656116079005e-176], [-1, 1.842700792949715], [-3, 1.9999779095030015],
  ];
  const GELU_TABLE: [number, number][] = [
    [-6, -5.919525869479969e-09], [-3, -0.00404969409489031], [-1, -0.15865525393145707], [-0.5, -0.15426876936299344],
    [0, 0.0], [0.5, 0.34573123063700656], [1, 0.8413447460685429], [3, 2.99595030590511], [6, 5.999999994080474],
  ];
  const SILU_TABLE: [number, number][] = [
    [-20, -4.122307236380407e-08], [-3, -0.14227761953270035], [-1, -0.2689414213699951], [0, 0.0],
    [0.5, 0.3112296656009273], [1, 0.7310585786300049], [3, 2.8577223804672998], [20, 19.999999958776925],
  ];
  const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));
  test('erf: relative error < 1e-14', () => {
    for (const [x, want] of ERF_TABLE) assert.ok(rel(erf(x), want) < 1e-14, `erf(${x}) = ${erf(x)}, want ${want}`);
    assert.ok(Number.isNaN(erf(NaN)));
    assert.equal(erf(Infinity), 1);
    assert.equal(erf(-Infinity), -1);
  });
  test('erfc: relative error < 1e-13, also deep in the tail', () => {
    for (const [x, want] of ERFC_TABLE) assert.ok(rel(erfc(x), want) < 1e-13, `erfc(${x}) = ${erfc(x)}, want ${want}`);
  });
  test('GELU (exact erf form) and SiLU', () => {
    // GELU(-6) suffers the same cancellation in 1 + erf in both implementations: compare absolutely there.
    for (const [x, want] of GELU_TABLE) assert.ok(Math.abs(gelu(x) - want) <= 1e-7 * Math.abs(want) + 1e-16, `gelu(${x}) = ${gelu(x)}, want ${want}`);
    for (const [x, want] of SILU_TABLE) assert.ok(rel(silu(x), want) < 1e-12, `silu(${x}) = ${silu(x)}, want ${want}`);
  });
  test('ReLU and identity arrays; float32 in, float32 out', () => {
    const x = Float32Array.from([-2, -0.5, 0, 0.5, 2]);
    const y = activationForward('relu', x);
    assert.ok(y instanceof Float32Array);
    assert.deepEqual(Array.from(y), [0, 0, 0, 0.5, 2]);
    assert.deepEqual(Array.from(activationForward('identity', x)), Array.from(x));
    assert.ok(Number.isNaN(activationForward('relu', new Float64Array([NaN]))[0]), 'ReLU propagates NaN as PyTorch does');
  });
});

// ---------------------------------------------------------------- dropout
describe('dropout values', () => {
  test('mask is dropoutKeep(seed, i, p); kept values scaled by 1/(1-p); keep rate about 1-p', () => {
    const n = 20000;
    const x = randn(rng(13), n);
    const p = 0.3;
    const seed = 424242;
    const y = dropoutForward(x, p, seed);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (dropoutKeep(seed, i, p)) {
        kept++;
        assert.ok(Math.abs(y[i] - x[i] / (1 - p)) <= 1e-15 * Math.abs(x[i] / (1 - p)), `element ${i}`);
      } else {
        assert.equal(y[i], 0, `element ${i} should be dropped`);
      }
    }
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(kept - n * (1 - p)) < 4 * sd, `kept ${kept} of ${n}`);
    const y2 = dropoutForward(x, p, seed + 1);
    assert.notDeepEqual(Array.from(y2), Array.from(y), 'another seed gives another mask');
  });
  test('p = 0 is the identity; p outside [0, 1) throws', () => {
    const x = Float32Array.from([1, -2, 3]);
    assert.deepEqual(Array.from(dropoutForward(x, 0, 5)), [1, -2, 3]);
    assert.throws(() => dropoutForward(x, 1, 5), /\[0, 1\)/);
    assert.throws(() => dropoutForward(x, -0.1, 5), /\[0, 1\)/);
  });
});

// ---------------------------------------------------------------- pooling
describe('pooling values', () => {
  test('max pool 3/2/1 on an all-negative map: padding never wins', () => {
    const x = Float64Array.from({ length: 16 }, (_, i) => -1 - i); // -1 .. -16, row-major 4x4
    const r = maxPool2d(x, [1, 1, 4, 4], 3, 2, 1);
    assert.deepEqual(r.yShape, [1, 1, 2, 2]);
    // windows (rows,cols): [0..1]x[0..1], [0..1]x[1..3], [1..3]x[0..1], [1..3]x[1..3]
    assert.deepEqual(Array.from(r.y), [-1, -2, -5, -6]);
    assert.deepEqual(Array.from(r.argmax), [0, 1, 4, 5]);
  });
  test('ties go to the first maximum in the window; overlapping windows accumulate in backward', () => {
    const x = new Float64Array(9).fill(7); // 3x3 of equal values
    const r = maxPool2d(x, [1, 1, 3, 3], 2, 1, 0);
    assert.deepEqual(Array.from(r.argmax), [0, 1, 3, 4]);
    const dx = maxPool2dBackward(new Float64Array([1, 2, 3, 4]), [1, 1, 3, 3], r.argmax);
    assert.deepEqual(Array.from(dx), [1, 2, 0, 3, 4, 0, 0, 0, 0]);
    const x2 = new Float64Array([0, 5, 0, 0, 5, 0, 0, 0, 0]); // tie between (0,1) and (1,1): windows holding both take (0,1)
    const r2 = maxPool2d(x2, [1, 1, 3, 3], 2, 1, 0);
    assert.deepEqual(Array.from(r2.argmax), [1, 1, 4, 4]);
    const dx2 = maxPool2dBackward(new Float64Array([1, 2, 3, 4]), [1, 1, 3, 3], r2.argmax);
    assert.deepEqual(Array.from(dx2), [0, 3, 0, 0, 7, 0, 0, 0, 0]);
  });
  test('max pool vs naive loops on random input', () => {
    const rg = rng(14);
    const shape = [2, 3, 9, 8];
    const x = randn(rg, 2 * 3 * 9 * 8);
    const r = maxPool2d(x, shape, 3, 2, 1);
    const [oh, ow] = [5, 4];
    const want: number[] = [];
    for (let p = 0; p < 6; p++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
      let m = -Infinity;
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
        const iy = oy * 2 - 1 + ky;
        const ix = ox * 2 - 1 + kx;
        if (iy >= 0 && iy < 9 && ix >= 0 && ix < 8) m = Math.max(m, x[p * 72 + iy * 8 + ix]);
      }
      want.push(m);
    }
    assert.deepEqual(Array.from(r.y), want);
    assert.throws(() => maxPool2d(x, shape, 3, 2, 2), /padding/);
  });
  test('global average pool', () => {
    const y = globalAvgPool(new Float64Array([1, 2, 3, 4, 10, 20, 30, 40]), [1, 2, 2, 2]);
    assert.deepEqual(Array.from(y), [2.5, 25]);
  });
});

// ---------------------------------------------------------------- linear, loss
test('linear vs naive loops, with and without bias', () => {
  const rg = rng(15);
  const [n, fin, fout] = [6, 11, 5];
  const x = randn(rg, n * fin);
  const w = randn(rg, fout * fin);
  const b = randn(rg, fout);
  for (const bias of [b, null]) {
    const want = new Float64Array(n * fout);
    for (let i = 0; i < n; i++) for (let o = 0; o < fout; o++) {
      let s = bias ? bias[o] : 0;
      for (let k = 0; k < fin; k++) s += x[i * fin + k] * w[o * fin + k];
      want[i * fout + o] = s;
    }
    assertClose(bias ? 'with bias' : 'without bias', linearForward(x, [n, fin], w, [fout, fin], bias), want, 1e-14);
  }
});

describe('softmax cross-entropy values (PyTorch 1.13 F.cross_entropy)', () => {
  const logits = new Float64Array([1, 2, 3, 0.5, -1, 2]);
  const labels = Int32Array.from([2, 0]);
  test('no smoothing, smoothing 0.1, and its gradient', () => {
    assert.ok(Math.abs(softmaxCrossEntropy(logits, [2, 3], labels, 0).loss - 1.0744586305507688) < 1e-14);
    const r = softmaxCrossEntropy(logits, [2, 3], labels, 0.1);
    assert.ok(Math.abs(r.loss - 1.124458630550769) < 1e-14);
    assertClose('dlogits', r.dlogits, [
      0.02834861991852355, 0.10569756886073216, -0.13404618877925578,
      -0.3790214705966483, 0.0028896199686770582, 0.3761318506279713,
    ], 1e-14);
  });
  test('numerically stable for huge logits', () => {
    const r = softmaxCrossEntropy(Float32Array.from([1000, 0, -1000]), [1, 3], Int32Array.from([1]), 0);
    assert.equal(r.loss, 1000);
    assert.ok(Array.from(r.dlogits).every(Number.isFinite));
    assertClose('dlogits', r.dlogits, [1, -1, 0], 1e-7);
  });
  test('bad labels are rejected', () => {
    assert.throws(() => softmaxCrossEntropy(logits, [2, 3], Int32Array.from([0, 3]), 0), /label 3 of row 1/);
    assert.throws(() => softmaxCrossEntropy(logits, [2, 3], Int32Array.from([0]), 0), /1 labels for 2 rows/);
  });
});

// ---------------------------------------------------------------- SGD
describe('SGD step (torch.optim.SGD, values from PyTorch 1.13 in float64)', () => {
  const G = [[0.5, -0.25, 1.0], [0.2, 0.4, -0.6], [-0.3, 0.1, 0.05]];
  const run = (opts: Omit<SgdOptions, 'firstStep'>, withBuf: boolean) => {
    const p = new Float64Array([1, -2, 3]);
    const buf = withBuf ? new Float64Array([123, -456, 789]) : null; // garbage: step 1 must overwrite it
    const out: number[][] = [];
    G.forEach((g, i) => {
      sgdStep(p, new Float64Array(g), buf, { ...opts, firstStep: i === 0 });
      out.push(Array.from(p));
    });
    return out;
  };
  const check = (got: number[][], want: number[][]) => got.forEach((row, i) => assertClose(`step ${i + 1}`, row, want[i], 1e-14));
  test('plain SGD with weight decay, no momentum buffer', () => {
    check(run({ lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0.1, nesterov: false }, false),
      [[0.94, -1.955, 2.87], [0.9106, -1.9754500000000002, 2.9013], [0.9314939999999999, -1.9656955, 2.867287]]);
  });
  test('momentum with dampening (first step: buffer = gradient, undampened)', () => {
    check(run({ lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1, nesterov: false }, true),
      [[0.94, -1.955, 2.87], [0.8713, -1.924725, 2.76865], [0.8201134999999999, -1.892853875, 2.66109175]]);
  });
  test('Nesterov', () => {
    check(run({ lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.1, nesterov: true }, true),
      [[0.886, -1.9145, 2.753], [0.782566, -1.9176745000000002, 2.709393], [0.757580646, -1.8843262345000003, 2.579945233]]);
  });
  test('hand formula, one element, two steps', () => {
    // step 1: g = 0.5 + 0.1*1 = 0.6, buf = 0.6, p = 1 - 0.1*0.6 = 0.94
    // step 2: g = 0.2 + 0.1*0.94 = 0.294, buf = 0.9*0.6 + 0.5*0.294 = 0.687, p = 0.94 - 0.0687 = 0.8713
    const p = new Float64Array([1]);
    const buf = new Float64Array([0]);
    const o = { lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1, nesterov: false };
    sgdStep(p, new Float64Array([0.5]), buf, { ...o, firstStep: true });
    assert.ok(Math.abs(p[0] - 0.94) < 1e-15 && Math.abs(buf[0] - 0.6) < 1e-15);
    sgdStep(p, new Float64Array([0.2]), buf, { ...o, firstStep: false });
    assert.ok(Math.abs(p[0] - 0.8713) < 1e-15 && Math.abs(buf[0] - 0.687) < 1e-15);
  });
  test('invalid combinations throw', () => {
    const p = new Float64Array(1);
    const base = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true };
    assert.throws(() => sgdStep(p, new Float64Array(1), null, base), /momentum buffer/);
    assert.throws(() => sgdStep(p, new Float64Array(1), new Float64Array(1), { ...base, nesterov: true, dampening: 0.1 }), /Nesterov/);
  });
});
