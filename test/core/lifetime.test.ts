/** Activation lifetimes: what a forward returns survives, the rest is freed after its last read. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JsBackend } from '../../src/backend/js/index.js';
import { noGrad, setBackend, tidy } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import type { Tensor } from '../../src/core/tensor.js';
import { ActivationLifetimes } from '../../src/nn/lifetimes.js';
import { activation, add, globalAvgPool } from '../../src/ops/index.js';
import { randomTensor } from '../helpers/index.js';

setBackend(new JsBackend());

test('intermediates are disposed once read for the last time; returned tensors and the input are not', () => {
  const lifetimes = new ActivationLifetimes();
  const made: Tensor[] = [];
  const fn = (x: Tensor): Tensor[] => {
    const a = activation('relu', x);
    const b = add(a, x);
    const c = activation('relu', b);
    const d = globalAvgPool(c);
    made.push(a, b, c, d);
    return [a, d];
  };
  noGrad(() => tidy(() => {
    const x = randomTensor(new Rng(1), [1, 2, 3, 3]);
    const [a, d] = lifetimes.run('f', x, fn);
    const [ma, mb, mc] = made.slice(-4);
    assert.equal(a, ma);
    assert.deepEqual([x.isDisposed, a.isDisposed, mb.isDisposed, mc.isDisposed, d.isDisposed], [false, false, true, true, false]);
    assert.equal(d.toArray().length, 2);
  }));
});

test('a forward that does not follow its plan keeps everything (values stay right)', () => {
  const lifetimes = new ActivationLifetimes();
  let extra = false;
  // The real run makes one tensor more than the planned (meta) run: the plan no longer applies.
  const fn = (x: Tensor): Tensor => {
    const a = activation('relu', x);
    const b = x.backend.name !== 'meta' && extra ? add(a, a) : a;
    return globalAvgPool(add(b, x));
  };
  noGrad(() => tidy(() => {
    const x = randomTensor(new Rng(2), [1, 2, 2, 2]);
    const expected = lifetimes.run('g', x, fn).toArray();
    extra = true;
    const y = lifetimes.run('g', x, fn);
    assert.equal(y.isDisposed, false);
    assert.equal(y.toArray().length, expected.length);
  }));
});
