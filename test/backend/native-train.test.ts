/**
 * End to end on the oneDNN backend: a whole WRN training step (train-mode forward, loss, backward,
 * two Nesterov SGD steps) against the reference JsBackend on the same seeded model and batch, in
 * fp32 and in bf16 (bf16 convolutions and activations, fp32 master weights, BN statistics and loss).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Backend, Precision } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js/index.js';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import { backward } from '../../src/core/autograd.js';
import { noGrad, setBackend, tidy } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import { Tensor } from '../../src/core/tensor.js';
import { createModel } from '../../src/models/index.js';
import { crossEntropy } from '../../src/ops/index.js';
import { SGD } from '../../src/optim/sgd.js';
import { relError } from '../helpers/index.js';

const { backend: native, reason } = loadNativeBackend();
if (!native && process.env.CI) {
  test('native backend is built and loads (CI)', () => assert.fail(`CI is set but the native backend is unavailable: ${reason}`));
}

/** Cosine similarity: whether a bf16 gradient points where the fp32 one does. */
function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}

interface Run {
  logits: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
  running: Map<string, Float32Array>;
  params: Map<string, Float32Array>;
  /** Eval-mode logits after the 2 steps, on another batch size (inference primitives, Winograd weights). */
  evalLogits: Float32Array;
}

function run(backend: Backend, arch: string, dropout: number): Run {
  setBackend(backend);
  const r = new Rng(42);
  const n = 4;
  const shape = [n, 3, 16, 16];
  const x = Float32Array.from({ length: n * 3 * 16 * 16 }, () => r.normal());
  const labels = Int32Array.from({ length: n }, () => r.int(10));
  const model = createModel(arch, { classes: 10, inChannels: 3, dropout, seed: 7 });
  model.train();
  const params = model.namedParameters();
  const opt = new SGD(params, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const out: Run = { logits: new Float32Array(0), loss: 0, grads: new Map(), running: new Map(), params: new Map(), evalLogits: new Float32Array(0) };
  for (const step of [1, 2]) {
    tidy(() => {
      const logits = model.forward(Tensor.fromArray(x, shape));
      const loss = crossEntropy(logits, labels);
      if (step === 1) {
        out.logits = logits.toArray();
        out.loss = loss.item();
      }
      backward(loss);
    });
    if (step === 1) {
      for (const [k, p] of params) out.grads.set(k, p.grad!.toArray());
      for (const [k, b] of model.namedBuffers()) out.running.set(k, b.toArray());
    }
    noGrad(() => opt.step());
    opt.zeroGrad();
  }
  for (const [k, p] of params) out.params.set(k, p.toArray());
  // Weights trained in the training primitives' layouts must reach the inference primitives' layouts
  // (oneDNN has no direct reorder from every blocked layout into Winograd's: this once failed).
  model.eval();
  out.evalLogits = noGrad(() => tidy(() => model.forward(Tensor.fromArray(x.subarray(0, 3 * 3 * 16 * 16), [3, 3, 16, 16])).toArray()));
  opt.dispose();
  model.dispose();
  return out;
}

/**
 * fp32: elementwise relative error. bf16: values within 2e-2; gradients through a batch-4 train-mode
 * network carry tens of percent of max-relative error in bf16, PyTorch's own CPU autocast included
 * (scripts/reference/bf16_autocast_error.py, three seeds: gradients median 0.33-0.35, max 0.52-0.66;
 * parameters after 2 steps median 0.011, max 0.43-0.48). So bf16 is held to finite bounds about 1.5x
 * PyTorch's worst (gradients 1.0, parameters 0.75) and, the sharper check, to point the same way as fp32
 * (cosine similarity >= 0.95).
 */
const cases: { precision: Precision; tol: { value: number; grad: number; param: number }; minCosine: number }[] = [
  { precision: 'fp32', tol: { value: 1e-4, grad: 1e-3, param: 1e-4 }, minCosine: 0 },
  { precision: 'bf16', tol: { value: 2e-2, grad: 1.0, param: 0.75 }, minCosine: 0.95 },
];

describe('native training step vs JsBackend', { skip: native ? false : `native backend unavailable: ${reason}` }, () => {
  for (const arch of ['wrn-10-2']) {
    const reference = run(new JsBackend(), arch, 0);
    for (const { precision, tol, minCosine } of cases) {
      const bf16 = native!.info().bf16;
      test(`${arch} ${precision}: logits, loss, gradients, running stats, parameters after 2 SGD steps, then eval logits`, { skip: precision === 'bf16' && !bf16 ? 'no bf16 on this CPU' : false }, () => {
        native!.setPrecision(precision);
        try {
          const got = run(native!, arch, 0);
          const check = (what: string, a: Float32Array, b: Float32Array, t: number) => {
            const e = relError(a, b);
            assert.ok(e <= t, `${precision} ${what}: relative error ${e.toExponential(2)} > ${t}`);
          };
          check('train logits', got.logits, reference.logits, tol.value);
          check('loss', new Float32Array([got.loss]), new Float32Array([reference.loss]), tol.value);
          for (const [k, g] of reference.grads) {
            check(`grad ${k}`, got.grads.get(k)!, g, tol.grad);
            const c = cosine(got.grads.get(k)!, g);
            assert.ok(c >= minCosine, `${precision} grad ${k}: cosine similarity ${c.toFixed(4)} < ${minCosine}`);
          }
          for (const [k, b] of reference.running) check(`running ${k}`, got.running.get(k)!, b, tol.value);
          check('eval logits after 2 steps', got.evalLogits, reference.evalLogits, precision === 'fp32' ? 1e-3 : 5e-2);
          for (const [k, p] of reference.params) {
            check(`param ${k} after 2 steps`, got.params.get(k)!, p, tol.param);
            if (minCosine > 0) {
              const c = cosine(got.params.get(k)!, p);
              assert.ok(c >= 0.95, `${precision} param ${k} after 2 steps: cosine similarity ${c.toFixed(4)} < 0.95`);
            }
          }
        } finally {
          native!.setPrecision('fp32');
        }
      });
    }
  }

  test('dropout masks agree with the reference backend inside a network (fp32)', () => {
    const a = run(new JsBackend(), 'wrn-10-1', 0.3);
    const b = run(native!, 'wrn-10-1', 0.3);
    assert.ok(relError(b.logits, a.logits) <= 1e-4, 'logits with dropout');
    for (const [k, g] of a.grads) assert.ok(relError(b.grads.get(k)!, g) <= 1e-3, `grad ${k} with dropout`);
  });
});
