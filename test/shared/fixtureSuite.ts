/**
 * The PyTorch golden-file test body (../shared/fixtures/wrn-10-2.*), written once and run on every
 * backend (candle-style): eval logits, train logits and loss, every gradient, BN running stats, and
 * the parameters after two SGD steps (lr 0.1, Nesterov 0.9, wd 5e-4).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Backend } from '../../src/backend/backend.js';
import { backward } from '../../src/core/autograd.js';
import { noGrad, setBackend, tidy } from '../../src/core/engine.js';
import { Tensor } from '../../src/core/tensor.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createModel } from '../../src/models/index.js';
import { crossEntropy } from '../../src/ops/index.js';
import { SGD } from '../../src/optim/sgd.js';
import { relError } from '../helpers/index.js';

export const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');
/** Fixtures this repository makes itself (test/backend/fixtures/make_tie_free_fixture.py). */
export const LOCAL_FIXTURES = path.resolve(process.cwd(), 'test/backend/fixtures');

function f32(t: { data: ArrayLike<number> | BigInt64Array }): Float32Array {
  if (t.data instanceof BigInt64Array) return Float32Array.from(t.data, Number);
  return Float32Array.from(t.data as ArrayLike<number>);
}

export function runFixtureSuite(backendName: string, makeBackend: () => Backend, name = 'wrn-10-2', tolerance: { value: number; grad: number | null } = { value: 1e-4, grad: 1e-3 }, dir = FIXTURES): void {
  const weightsFile = path.join(dir, `${name}.safetensors`);
  const ioFile = path.join(dir, `${name}.io.safetensors`);
  const present = existsSync(weightsFile) && existsSync(ioFile);
  const what = tolerance.grad === null ? 'logits, loss, running stats; gradients not compared' : 'logits, loss, grads, running stats, 2 SGD steps';
  test(`${backendName}: reproduces PyTorch on ${name} (${what})`, { skip: present ? false : `fixtures not found in ${dir}` }, () => {
    const backend = makeBackend();
    setBackend(backend);
    const weights = readSafetensors(weightsFile);
    const io = readSafetensors(ioFile, { int64: 'int32' }).tensors;
    const get = (k: string) => {
      const t = io.get(k);
      assert.ok(t, `${ioFile}: missing '${k}'`);
      return t;
    };
    const meta = weights.metadata;
    const model = createModel(meta.arch, { classes: Number(meta.classes), inChannels: Number(meta.in_channels) });
    model.loadStateDict(new Map([...weights.tensors].map(([k, t]) => [k, { shape: t.shape, data: f32(t) }])), weightsFile);
    const input = get('input');
    const x = Tensor.fromArray(f32(input), input.shape).keep();
    const labels = Int32Array.from(get('target').data as Int32Array);
    const check = (what: string, actual: Float32Array, key: string, tol: number) => {
      const err = relError(actual, f32(get(key)));
      assert.ok(err <= tol, `${backendName} ${what} (${key}): relative error ${err.toExponential(2)} > ${tol}`);
    };

    model.eval();
    noGrad(() => tidy(() => check('eval logits', model.forward(x).toArray(), 'logits_eval', tolerance.value)));

    model.train();
    const params = model.namedParameters();
    const opt = new SGD(params, { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 5e-4 });
    for (const step of [1, 2]) {
      tidy(() => {
        const logits = model.forward(x);
        const loss = crossEntropy(logits, labels);
        if (step === 1) {
          check('train logits', logits.toArray(), 'logits_train', tolerance.value);
          check('loss', new Float32Array([loss.item()]), 'loss', tolerance.value);
        }
        backward(loss);
      });
      if (step === 1) {
        if (tolerance.grad !== null) for (const [k, p] of params) check('gradient', p.grad!.toArray(), `grad.${k}`, tolerance.grad);
        for (const [k, b] of model.namedBuffers()) check('running stat', b.toArray(), `running.${k}`, tolerance.value);
      }
      noGrad(() => opt.step());
      opt.zeroGrad();
      if (tolerance.grad !== null) for (const [k, p] of params) check(`params after SGD step ${step}`, p.toArray(), `sgd${step}.${k}`, tolerance.grad);
    }
    opt.dispose();
    model.dispose();
    x.dispose();
  });
}
