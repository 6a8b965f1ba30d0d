/**
 * The JsBackend wrapper end to end: through the autograd ops in src/ops, `backward()` and the
 * engine, against float64 finite differences of the same network built from the raw kernels.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BatchNormOptions, Storage } from '../../src/backend/backend.js';
import { JsBackend, JsStorage } from '../../src/backend/js/index.js';
import { activationForward } from '../../src/backend/js/activation.js';
import { batchNormInfer, batchNormTrain } from '../../src/backend/js/batchNorm.js';
import { conv2dForward } from '../../src/backend/js/conv2d.js';
import { dropoutForward } from '../../src/backend/js/dropout.js';
import { add as addK } from '../../src/backend/js/elementwise.js';
import { linearForward } from '../../src/backend/js/linear.js';
import { softmaxCrossEntropy } from '../../src/backend/js/loss.js';
import { globalAvgPool as gapK, maxPool2d as maxPoolK } from '../../src/backend/js/pool.js';
import { backward } from '../../src/core/autograd.js';
import { noGrad, setBackend, tidy } from '../../src/core/engine.js';
import { Tensor } from '../../src/core/tensor.js';
import { activation, add, batchNorm, conv2d, crossEntropy, dropout, globalAvgPool, linear, maxPool2d } from '../../src/ops/index.js';
import { assertClose, numericGrad, randn, rng } from '../helpers/index.js';

describe('JsBackend basics', () => {
  const b = new JsBackend();
  test('name, precision, describe', () => {
    assert.equal(b.name, 'js');
    assert.equal(b.precision, 'fp32');
    assert.match(b.describe(), /^js/);
    b.setPrecision('fp32');
    assert.throws(() => b.setPrecision('bf16'), /only runs fp32.*--backend native/);
    assert.equal(b.precision, 'fp32');
  });
  test('upload copies; read returns the values; zeros; size', () => {
    const src = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const s = b.upload(src, [2, 3]);
    src[0] = 99;
    assert.equal(s.size, 6);
    assert.deepEqual(Array.from(b.read(s, [2, 3])), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(b.read(b.zeros([3]), [3])), [0, 0, 0]);
    assert.equal(b.upload(new Float32Array([7]), []).size, 1);
    assert.throws(() => b.upload(new Float32Array(5), [2, 3]), /5 elements/);
  });
  test('use after dispose and double dispose throw', () => {
    const s = b.upload(Float32Array.from([1, 2]), [2]);
    b.dispose(s);
    assert.ok((s as JsStorage).disposed);
    assert.throws(() => b.read(s, [2]), /after dispose/);
    assert.throws(() => b.add(s, s, [2]), /after dispose/);
    assert.throws(() => b.dispose(s), /twice/);
    const x = b.upload(Float32Array.from([3, 1, 2, 0]), [1, 1, 2, 2]);
    const { saved } = b.maxPool2d(x, [1, 1, 2, 2], 2, 2, 0);
    b.dispose(saved);
    assert.throws(() => b.maxPool2dBackward(b.upload(new Float32Array([1]), [1]), [1, 1, 2, 2], saved), /after dispose/);
  });
  test('foreign storages and mismatched shapes are rejected', () => {
    const foreign: Storage = { size: 2 };
    assert.throws(() => b.read(foreign, [2]), /another backend/);
    const s = b.upload(Float32Array.from([1, 2]), [2]);
    assert.throws(() => b.addInPlace(s, b.zeros([3]), [2]), /3 elements/);
    assert.throws(() => b.sgdStep(s, b.zeros([2]), b.zeros([2]), [2],
      { lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0, nesterov: true, firstStep: true }), /Nesterov/);
  });
  test('addInPlace and sgdStep update in place; batchNormTrain updates running stats in place', () => {
    const a = b.upload(Float32Array.from([1, 2]), [2]);
    b.addInPlace(a, b.upload(Float32Array.from([10, 20]), [2]), [2]);
    assert.deepEqual(Array.from(b.read(a, [2])), [11, 22]);
    const p = b.upload(Float32Array.from([1]), [1]);
    const buf = b.zeros([1]);
    b.sgdStep(p, b.upload(Float32Array.from([0.5]), [1]), buf, [1], { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });
    assert.ok(Math.abs(b.read(p, [1])[0] - 0.95) < 1e-7);
    assert.equal(b.read(buf, [1])[0], 0.5);
    const rm = b.zeros([1]);
    const rv = b.upload(Float32Array.from([1]), [1]);
    const { y, saved } = b.batchNormTrain(b.upload(Float32Array.from([1, 2, 3, 4]), [4, 1]), [4, 1],
      b.upload(Float32Array.from([1]), [1]), b.zeros([1]), rm, rv, { momentum: 0.1, eps: 1e-5, activation: 'identity' });
    assert.equal(saved.kind, 'batchNorm');
    assert.ok(Math.abs(b.read(rm, [1])[0] - 0.25) < 1e-7);
    assert.ok(Math.abs(b.read(rv, [1])[0] - (0.9 + 0.1 * 5 / 3)) < 1e-6);
    assert.equal(y.size, 4);
  });
});

// ------------------------------------------------------------------------------------------------
// A small network through the ops, float32 autograd vs float64 finite differences of the kernels.

const BN_OPTS: BatchNormOptions = { momentum: 0.1, eps: 1e-5, activation: 'relu' };
const SMOOTHING = 0.1;

interface Net64 {
  x: Float64Array; w1: Float64Array; g: Float64Array; bt: Float64Array; fw: Float64Array; fb: Float64Array;
}
const X_SHAPE = [2, 3, 6, 5];
const W1_SHAPE = [4, 3, 3, 3];
const FC_SHAPE = [5, 4];
const LABELS = Int32Array.from([3, 1]);

/** conv 3x3 -> BN(train)+ReLU -> global average pool -> linear -> cross-entropy, all float64 kernels. */
function lossNet64(p: Net64, stats?: { rm: Float64Array; rv: Float64Array }): number {
  const y1 = conv2dForward(p.x, X_SHAPE, p.w1, W1_SHAPE, { stride: 1, padding: 1 });
  const h = [2, 4, 6, 5];
  const bn = batchNormTrain(y1, h, p.g, p.bt, stats?.rm ?? new Float64Array(4), stats?.rv ?? new Float64Array(4), BN_OPTS);
  const pooled = gapK(bn.y, h);
  const logits = linearForward(pooled, [2, 4], p.fw, FC_SHAPE, p.fb);
  return softmaxCrossEntropy(logits, [2, 5], LABELS, SMOOTHING).loss;
}

test('conv + batchNorm(relu) + globalAvgPool + linear + crossEntropy: loss, every gradient, running stats', () => {
  setBackend(new JsBackend());
  const r = rng(21);
  const f32 = (a: Float64Array) => Float32Array.from(a);
  // float32-representable float64 copies, so both sides see identical inputs
  const p64: Net64 = {
    x: Float64Array.from(f32(randn(r, 180))), w1: Float64Array.from(f32(randn(r, 108, 0.3))),
    g: Float64Array.from(f32(randn(r, 4, 0.2).map((v) => 1 + v))), bt: Float64Array.from(f32(randn(r, 4, 0.2))),
    fw: Float64Array.from(f32(randn(r, 20, 0.5))), fb: Float64Array.from(f32(randn(r, 5, 0.1))),
  };
  const rm0 = Float32Array.from([0.1, -0.1, 0.2, 0]);
  const rv0 = Float32Array.from([1, 0.5, 2, 1.5]);

  const x = Tensor.fromArray(f32(p64.x), X_SHAPE, true);
  const w1 = Tensor.fromArray(f32(p64.w1), W1_SHAPE, true);
  const bn = {
    weight: Tensor.fromArray(f32(p64.g), [4], true), bias: Tensor.fromArray(f32(p64.bt), [4], true),
    runningMean: Tensor.fromArray(rm0, [4]), runningVar: Tensor.fromArray(rv0, [4]),
  };
  const fw = Tensor.fromArray(f32(p64.fw), FC_SHAPE, true);
  const fb = Tensor.fromArray(f32(p64.fb), [5], true);

  const lossValue = tidy(() => {
    const h = batchNorm(conv2d(x, w1, { stride: 1, padding: 1 }), bn, true, BN_OPTS);
    const loss = crossEntropy(linear(globalAvgPool(h), fw, fb), LABELS, SMOOTHING);
    backward(loss);
    return loss.item();
  });

  const stats = { rm: Float64Array.from(rm0), rv: Float64Array.from(rv0) };
  const want = lossNet64(p64, stats);
  assert.ok(Math.abs(lossValue - want) <= 1e-5 * Math.abs(want), `loss ${lossValue} vs ${want}`);
  assertClose('running mean', bn.runningMean.toArray(), stats.rm, 1e-5);
  assertClose('running var', bn.runningVar.toArray(), stats.rv, 1e-5);

  const loss64 = () => lossNet64(p64);
  const pairs: [string, Tensor, Float64Array][] = [
    ['x', x, p64.x], ['conv weight', w1, p64.w1], ['bn weight', bn.weight, p64.g], ['bn bias', bn.bias, p64.bt],
    ['fc weight', fw, p64.fw], ['fc bias', fb, p64.fb],
  ];
  for (const [name, t, a64] of pairs) {
    assert.ok(t.grad, `${name} has no gradient`);
    assertClose(`${name} gradient`, t.grad.toArray(), numericGrad(loss64, a64), 2e-4);
  }

  // eval mode uses the running statistics (batchNormInfer), and records nothing under noGrad
  const evalLogits = noGrad(() => tidy(() => {
    const out = linear(globalAvgPool(batchNorm(conv2d(x, w1, { stride: 1, padding: 1 }), bn, false, BN_OPTS)), fw, fb);
    assert.equal(out.gradFn, null);
    return out.toArray();
  }));
  const y1 = conv2dForward(p64.x, X_SHAPE, p64.w1, W1_SHAPE, { stride: 1, padding: 1 });
  const inferred = batchNormInfer(y1, [2, 4, 6, 5], p64.g, p64.bt, stats.rm, stats.rv, BN_OPTS);
  assertClose('eval logits', evalLogits, linearForward(gapK(inferred, [2, 4, 6, 5]), [2, 4], p64.fw, FC_SHAPE, p64.fb), 1e-5);
});

test('maxPool2d + gelu + dropout + residual add + strided 1x1 conv through autograd', () => {
  setBackend(new JsBackend());
  const r = rng(22);
  const xs = [1, 2, 9, 8];
  const ws = [3, 2, 1, 1];
  const x64 = Float64Array.from(Float32Array.from(randn(r, 144)));
  const w64 = Float64Array.from(Float32Array.from(randn(r, 6)));
  const fw64 = Float64Array.from(Float32Array.from(randn(r, 15)));
  const labels = Int32Array.from([2]);
  // maxpool 3/2/1: [1,2,5,4]; h = pool + dropout(gelu(pool)); 1x1 conv stride 2 -> [1,3,3,2]; avgpool; linear(no bias)
  const lossOf = (x: Float64Array, w: Float64Array, fw: Float64Array) => {
    const pool = maxPoolK(x, xs, 3, 2, 1).y;
    const h = addK(pool, dropoutForward(activationForward('gelu', pool), 0.25, 17));
    const c = conv2dForward(h, [1, 2, 5, 4], w, ws, { stride: 2, padding: 0 });
    return softmaxCrossEntropy(linearForward(gapK(c, [1, 3, 3, 2]), [1, 3], fw, [5, 3], null), [1, 5], labels, 0).loss;
  };
  const x = Tensor.fromArray(Float32Array.from(x64), xs, true);
  const w = Tensor.fromArray(Float32Array.from(w64), ws, true);
  const fw = Tensor.fromArray(Float32Array.from(fw64), [5, 3], true);
  const got = tidy(() => {
    const pool = maxPool2d(x, 3, 2, 1);
    const h = add(pool, dropout(activation('gelu', pool), 0.25, 17));
    const loss = crossEntropy(linear(globalAvgPool(conv2d(h, w, { stride: 2, padding: 0 })), fw, null), labels);
    backward(loss);
    return loss.item();
  });
  const want = lossOf(x64, w64, fw64);
  assert.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `loss ${got} vs ${want}`);
  assertClose('x gradient', x.grad!.toArray(), numericGrad(() => lossOf(x64, w64, fw64), x64), 2e-4);
  assertClose('conv weight gradient', w.grad!.toArray(), numericGrad(() => lossOf(x64, w64, fw64), w64), 2e-4);
  assertClose('fc weight gradient', fw.grad!.toArray(), numericGrad(() => lossOf(x64, w64, fw64), fw64), 2e-4);
});

test('tidy disposes intermediates; disposed tensors throw', () => {
  setBackend(new JsBackend());
  const x = Tensor.fromArray(Float32Array.from([1, -2, 3, -4]), [1, 1, 2, 2]);
  let inner: Tensor | null = null;
  const kept = tidy(() => {
    inner = activation('relu', x);
    return activation('silu', inner);
  });
  assert.ok(inner !== null && (inner as Tensor).isDisposed);
  assert.throws(() => (inner as unknown as Tensor).toArray(), /after dispose/);
  assert.equal(kept.isDisposed, false);
  kept.dispose();
});
