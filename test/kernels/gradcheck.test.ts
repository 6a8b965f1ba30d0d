/**
 * Every backward kernel of the js backend against central finite differences, in float64, on small
 * random shapes. The scalar under test is L = sum(r * f(x)) for a fixed random r, so the analytic
 * gradient is the backward kernel applied to dy = r.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ACTIVATIONS, type Activation, type BatchNormOptions } from '../../src/backend/backend.js';
import { activationBackward, activationForward } from '../../src/backend/js/activation.js';
import { batchNormBackward, batchNormTrain } from '../../src/backend/js/batchNorm.js';
import { conv2dBackwardData, conv2dBackwardWeights, conv2dForward, convGeometry } from '../../src/backend/js/conv2d.js';
import { dropoutBackward, dropoutForward } from '../../src/backend/js/dropout.js';
import { linearBackward, linearForward } from '../../src/backend/js/linear.js';
import { softmaxCrossEntropy } from '../../src/backend/js/loss.js';
import { globalAvgPool, globalAvgPoolBackward, maxPool2d, maxPool2dBackward } from '../../src/backend/js/pool.js';
import { checkGrad, dot, randn, rng, uniform } from '../helpers/index.js';

interface ConvCase { n: number; c: number; h: number; w: number; o: number; kh: number; kw: number; stride: number; padding: number }

const CONV_CASES: ConvCase[] = [
  { n: 2, c: 3, h: 5, w: 4, o: 4, kh: 1, kw: 1, stride: 1, padding: 0 }, // pointwise path (no im2col)
  { n: 2, c: 3, h: 7, w: 6, o: 2, kh: 1, kw: 1, stride: 2, padding: 0 }, // strided shortcut
  { n: 2, c: 3, h: 6, w: 5, o: 4, kh: 3, kw: 3, stride: 1, padding: 1 },
  { n: 2, c: 2, h: 7, w: 8, o: 3, kh: 3, kw: 3, stride: 2, padding: 1 },
  { n: 1, c: 2, h: 5, w: 7, o: 2, kh: 3, kw: 3, stride: 1, padding: 0 },
  { n: 1, c: 2, h: 11, w: 9, o: 3, kh: 7, kw: 7, stride: 2, padding: 3 }, // ImageNet stem
  { n: 1, c: 1, h: 8, w: 7, o: 2, kh: 7, kw: 7, stride: 1, padding: 3 },
  { n: 2, c: 2, h: 6, w: 9, o: 2, kh: 2, kw: 3, stride: 2, padding: 1 }, // non-square kernel
  { n: 1, c: 2, h: 4, w: 4, o: 2, kh: 3, kw: 3, stride: 2, padding: 3 }, // more padding than image
];

describe('conv2d backward vs finite differences', () => {
  for (const k of CONV_CASES) {
    test(`x[${k.n},${k.c},${k.h},${k.w}] w[${k.o},${k.c},${k.kh},${k.kw}] stride ${k.stride} padding ${k.padding}`, () => {
      const r = rng(k.h * 100 + k.kh * 10 + k.stride);
      const xShape = [k.n, k.c, k.h, k.w];
      const wShape = [k.o, k.c, k.kh, k.kw];
      const opts = { stride: k.stride, padding: k.padding };
      const g = convGeometry(xShape, wShape, opts);
      const x = randn(r, k.n * k.c * k.h * k.w);
      const w = randn(r, k.o * k.c * k.kh * k.kw);
      const dy = randn(r, k.n * k.o * g.oh * g.ow);
      const loss = () => dot(dy, conv2dForward(x, xShape, w, wShape, opts));
      checkGrad('dx', loss, x, conv2dBackwardData(dy, w, wShape, xShape, opts));
      checkGrad('dw', loss, w, conv2dBackwardWeights(dy, x, xShape, wShape, opts));
    });
  }
});

function bnCase(act: Activation, shape: number[], seed: number) {
  const r = rng(seed);
  const c = shape[1];
  const n = shape.reduce((a, b) => a * b, 1);
  const x = randn(r, n, 2);
  for (let i = 0; i < n; i++) x[i] += 0.5 * ((i >> 1) % c); // per-channel offsets, so the mean matters
  const gamma = uniform(r, c, 0.5, 1.5);
  const beta = randn(r, c, 0.3);
  const dy = randn(r, n);
  const opts: BatchNormOptions = { momentum: 0.1, eps: 1e-5, activation: act };
  const forward = () => batchNormTrain(x, shape, gamma, beta, new Float64Array(c), new Float64Array(c).fill(1), opts);
  return { x, gamma, beta, dy, opts, forward, shape };
}

describe('batchNorm (training) backward vs finite differences', () => {
  for (const act of ACTIVATIONS) {
    for (const shape of [[3, 2, 3, 2], [4, 3, 1, 1], [5, 3]]) {
      test(`fused ${act}, x [${shape.join(',')}]`, () => {
        const k = bnCase(act, shape, 7 + shape.length);
        const f = k.forward();
        const g = batchNormBackward(k.dy, k.x, f.y, shape, k.gamma, k.beta, f.mean, f.invstd, k.opts);
        const loss = () => dot(k.dy, k.forward().y);
        checkGrad('dx', loss, k.x, g.dx);
        checkGrad('dgamma', loss, k.gamma, g.dgamma);
        checkGrad('dbeta', loss, k.beta, g.dbeta);
      });
    }
  }
});

describe('activations backward vs finite differences', () => {
  for (const act of ACTIVATIONS) {
    test(act, () => {
      const r = rng(3);
      const x = randn(r, 200, 3);
      // keep away from ReLU's kink, where the finite difference is meaningless
      for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) < 1e-3) x[i] = 0.5;
      x[0] = 9; x[1] = -9; x[2] = 30; x[3] = -30; // saturated tails
      const dy = randn(r, x.length);
      const y = activationForward(act, x);
      checkGrad(act, () => dot(dy, activationForward(act, x)), x, activationBackward(act, dy, x, y));
    });
  }
});

test('dropout backward vs finite differences (p = 0.3 and p = 0)', () => {
  const r = rng(4);
  for (const p of [0.3, 0]) {
    const x = randn(r, 150);
    const dy = randn(r, x.length);
    checkGrad(`dropout p=${p}`, () => dot(dy, dropoutForward(x, p, 99)), x, dropoutBackward(dy, p, 99));
  }
});

describe('pooling backward vs finite differences', () => {
  for (const [kernel, stride, padding, h, w] of [[3, 2, 1, 7, 6], [2, 2, 0, 6, 5], [3, 1, 1, 4, 5], [3, 3, 0, 9, 7]]) {
    test(`maxPool2d kernel ${kernel} stride ${stride} padding ${padding} on ${h}x${w}`, () => {
      const r = rng(kernel * 10 + stride);
      const shape = [2, 2, h, w];
      const x = randn(r, 2 * 2 * h * w);
      const f = maxPool2d(x, shape, kernel, stride, padding);
      const dy = randn(r, f.y.length);
      checkGrad('dx', () => dot(dy, maxPool2d(x, shape, kernel, stride, padding).y), x, maxPool2dBackward(dy, shape, f.argmax));
    });
  }
  test('globalAvgPool', () => {
    const r = rng(5);
    const shape = [2, 3, 4, 5];
    const x = randn(r, 120);
    const dy = randn(r, 6);
    checkGrad('dx', () => dot(dy, globalAvgPool(x, shape)), x, globalAvgPoolBackward(dy, shape));
  });
});

describe('linear backward vs finite differences', () => {
  for (const bias of [true, false]) {
    test(bias ? 'with bias' : 'without bias', () => {
      const r = rng(bias ? 6 : 7);
      const [n, fin, fout] = [5, 7, 6];
      const x = randn(r, n * fin);
      const w = randn(r, fout * fin);
      const b = bias ? randn(r, fout) : null;
      const dy = randn(r, n * fout);
      const g = linearBackward(dy, x, [n, fin], w, [fout, fin], bias);
      const loss = () => dot(dy, linearForward(x, [n, fin], w, [fout, fin], b));
      checkGrad('dx', loss, x, g.dx);
      checkGrad('dw', loss, w, g.dw);
      if (b) {
        assert.ok(g.db);
        checkGrad('db', loss, b, g.db);
      } else {
        assert.equal(g.db, null);
      }
    });
  }
});

describe('softmax cross-entropy gradient vs finite differences', () => {
  for (const [smoothing, scale] of [[0, 1], [0.1, 1], [0.3, 4], [0, 20]]) {
    test(`label smoothing ${smoothing}, logits scale ${scale}`, () => {
      const r = rng(8 + scale);
      const [n, k] = [6, 5];
      const logits = randn(r, n * k, scale);
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 3) % k);
      const { dlogits } = softmaxCrossEntropy(logits, [n, k], labels, smoothing);
      checkGrad('dlogits', () => softmaxCrossEntropy(logits, [n, k], labels, smoothing).loss, logits, dlogits);
    });
  }
});

describe('the gradient check itself can fail', () => {
  test('a gradient off by 1e-4 in one element is rejected', () => {
    const r = rng(9);
    const xShape = [1, 2, 5, 5];
    const wShape = [2, 2, 3, 3];
    const opts = { stride: 1, padding: 1 };
    const x = randn(r, 50);
    const w = randn(r, 36);
    const dy = randn(r, 50);
    const dx = conv2dBackwardData(dy, w, wShape, xShape, opts);
    dx[17] += 1e-4 * Math.max(...Array.from(dx, Math.abs));
    assert.throws(() => checkGrad('dx', () => dot(dy, conv2dForward(x, xShape, w, wShape, opts)), x, dx), /relative error/);
  });
  test('batch-norm backward that ignores the batch statistics is rejected', () => {
    const k = bnCase('identity', [3, 2, 2, 2], 10);
    const f = k.forward();
    const wrong = new Float64Array(k.x.length);
    for (let i = 0; i < wrong.length; i++) {
      const ch = Math.floor(i / 4) % 2;
      wrong[i] = k.dy[i] * k.gamma[ch] * f.invstd[ch];
    }
    assert.throws(() => checkGrad('dx', () => dot(k.dy, k.forward().y), k.x, wrong), /relative error/);
  });
});
