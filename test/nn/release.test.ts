/**
 * Inference frees activations as it goes: a forward without autograd holds a few activations at a
 * time instead of all of them until its tidy() ends, and computes the same values.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Backend } from '../../src/backend/backend.js';
import { JsBackend, JsStorage } from '../../src/backend/js/index.js';
import { backward } from '../../src/core/autograd.js';
import { noGrad, setBackend, tidy } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import { Tensor } from '../../src/core/tensor.js';
import { createModel, TorchvisionResNet, type Network } from '../../src/models/index.js';
import { crossEntropy } from '../../src/ops/index.js';
import { randnF32 } from '../helpers/index.js';

/** The reference backend, counting the storages alive now and at most. */
function countingBackend(): { backend: Backend; live: () => number; peak: () => number; resetPeak: () => void } {
  const inner = new JsBackend();
  const alive = new Set<object>();
  let peak = 0;
  const note = (v: unknown): void => {
    if (v instanceof JsStorage) alive.add(v);
    else if (Array.isArray(v)) v.forEach(note);
    peak = Math.max(peak, alive.size);
  };
  const backend = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'dispose') alive.delete(args[0] as object);
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        note(r);
        return r;
      };
    },
  });
  return { backend, live: () => alive.size, peak: () => peak, resetPeak: () => (peak = alive.size) };
}

function forward(model: Network, x: Float32Array, shape: number[]): Float32Array {
  return tidy(() => model.forward(Tensor.fromArray(x, shape)).toArray());
}

const cases: [string, () => Network, number[]][] = [
  ['wrn-16-2 (pre-activation blocks, Sequential stages)', () => createModel('wrn-16-2', { classes: 10, inChannels: 3, dropout: 0.3, seed: 3 }), [2, 3, 8, 8]],
  ['torchvision Bottleneck ResNet', () => new TorchvisionResNet({ arch: 'resnet-tiny', layers: [1, 2, 1, 1], classes: 10, rng: new Rng(3) }), [1, 3, 32, 32]],
];

describe('inference releases intermediates', () => {
  for (const [name, make, shape] of cases) {
    test(name, () => {
      const c = countingBackend();
      setBackend(c.backend);
      try {
        const model = make();
        model.eval();
        const r = new Rng(1);
        const x = randnF32(r, shape.reduce((a, b) => a * b, 1));
        const before = c.live();

        // With autograd recording (as in a training step), every activation stays until tidy() ends.
        c.resetPeak();
        const recorded = forward(model, x, shape);
        const heldRecording = c.peak() - before;
        assert.equal(c.live(), before, 'tidy() frees everything the forward made');

        c.resetPeak();
        const inferred = noGrad(() => forward(model, x, shape));
        const heldInference = c.peak() - before;
        assert.equal(c.live(), before, 'nothing leaks');
        assert.deepEqual(inferred, recorded, 'same logits');
        assert.ok(heldInference <= 6, `inference held ${heldInference} storages at once (recording: ${heldRecording})`);
        assert.ok(heldRecording > 3 * heldInference, `recording held ${heldRecording}, inference ${heldInference}`);
        model.dispose();
      } finally {
        setBackend(new JsBackend());
      }
    });
  }
});

describe('training releases what no backward reads', () => {
  /** Peak live storages over a train-mode forward + backward, and the gradients. */
  function trainOnce(early: boolean): { peak: number; grads: Map<string, Float32Array> } {
    const c = countingBackend();
    setBackend(c.backend);
    try {
      const model = createModel('wrn-16-2', { classes: 10, inChannels: 3, dropout: 0.3, seed: 5 });
      model.train();
      model.releaseActivations = early;
      const r = new Rng(2);
      const x = randnF32(r, 2 * 3 * 8 * 8);
      const before = c.live();
      c.resetPeak();
      tidy(() => backward(crossEntropy(model.forward(Tensor.fromArray(x, [2, 3, 8, 8])), Int32Array.from([3, 7]))));
      const peak = c.peak() - before;
      const grads = new Map([...model.namedParameters()].map(([k, p]) => [k, p.grad!.toArray()]));
      model.dispose();
      return { peak, grads };
    } finally {
      setBackend(new JsBackend());
    }
  }

  test('wrn-16-2: same gradients, each residual branch output (6 blocks, 3 shortcuts) freed in the forward', () => {
    const kept = trainOnce(false);
    const freed = trainOnce(true);
    assert.deepEqual([...freed.grads.keys()], [...kept.grads.keys()]);
    for (const [k, g] of kept.grads) assert.deepEqual(freed.grads.get(k), g, `grad ${k}`);
    assert.ok(freed.peak <= kept.peak - 9, `peak live storages ${freed.peak} with early release, ${kept.peak} without`);
  });
});
