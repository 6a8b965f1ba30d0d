/**
 * The backbone API (timm's conventions): feature maps per stage, featureInfo, forwardFeatures /
 * forwardHead, resetClassifier and freeze with frozen batch norm.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsBackend } from '../../src/backend/js/index.js';
import { MetaBackend } from '../../src/backend/meta.js';
import { noGrad, setBackend, tidy, withBackend } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import { createModel, FeatureExtractor, type Network } from '../../src/models/index.js';
import { SGD } from '../../src/optim/sgd.js';
import { trainStep } from '../../src/train/step.js';
import { randnF32, randomTensor } from '../helpers/index.js';

setBackend(new JsBackend());

/** Host copies of the whole state dict. */
function snapshot(m: Network): Map<string, Float32Array> {
  return new Map([...m.stateDict()].map(([k, t]) => [k, t.toArray()]));
}

describe('featureInfo', () => {
  test('CIFAR WRN: layer1..3, widths 16k/32k/64k, reductions 1, 2, 4', () => {
    const m = withBackend(new MetaBackend(), () => createModel('wrn-16-2'));
    assert.deepEqual(m.featureInfo, [
      { module: 'layer1', channels: 32, reduction: 1 }, { module: 'layer2', channels: 64, reduction: 2 }, { module: 'layer3', channels: 128, reduction: 4 },
    ]);
  });

  test("torchvision wide_resnet50_2: layer1..4, 256..2048 channels, reductions 4..32 (timm's values)", () => {
    const m = withBackend(new MetaBackend(), () => createModel('wide-resnet50-2'));
    assert.deepEqual(m.featureInfo.map((f) => [f.module, f.channels, f.reduction]), [
      ['layer1', 256, 4], ['layer2', 512, 8], ['layer3', 1024, 16], ['layer4', 2048, 32],
    ]);
  });

  test('pre-activation ResNet-164 (bottlenecks): 64, 128, 256 channels', () => {
    const m = withBackend(new MetaBackend(), () => createModel('preact-resnet-164'));
    assert.deepEqual(m.featureInfo.map((f) => f.channels), [64, 128, 256]);
  });

  test('featuresOnly: selected stages by index or name; unknown stage names are refused in one line', () => {
    const f = withBackend(new MetaBackend(), () => createModel('wide-resnet50-2', { featuresOnly: true, outIndices: ['layer2', 2] }));
    assert.ok(f instanceof FeatureExtractor);
    assert.deepEqual(f.featureInfo.map((i) => i.module), ['layer2', 'layer3']);
    assert.throws(() => withBackend(new MetaBackend(), () => createModel('wrn-16-2', { featuresOnly: true, outIndices: ['layer4'] })),
      { message: "unknown stage 'layer4' for wrn-16-2: expected one of layer1, layer2, layer3 (or 0..2)" });
  });
});

describe('feature maps and head', () => {
  const cases: [string, number[]][] = [['wrn-10-2', [2, 3, 16, 16]], ['preact-resnet-20', [2, 3, 16, 16]]];
  for (const [arch, shape] of cases) {
    test(`${arch}: forwardHead(forwardFeatures(x)) is forward(x); feature maps survive the release of intermediates`, () => {
      const net = createModel(arch, { classes: 7, seed: 2 });
      net.eval();
      const r = new Rng(4);
      noGrad(() => tidy(() => {
        const x = randomTensor(r, shape);
        const logits = net.forward(x).toArray();
        const feats = net.forwardFeatures(x);
        assert.deepEqual(net.forwardHead(feats).toArray(), logits);
        const pooled = net.forwardHead(feats, { preLogits: true });
        assert.deepEqual(pooled.shape, [2, net.fc.inFeatures]);
        // Every stage's map, kept by the caller while the forward frees everything else.
        const maps = net.forwardStages(x, [0, 1, 2]);
        net.releaseActivations = false;
        const reference = net.forwardStages(x, [0, 1, 2]).map((t) => t.toArray());
        net.releaseActivations = true;
        assert.deepEqual(maps.map((t) => t.isDisposed), [false, false, false]);
        assert.deepEqual(maps.map((t) => t.toArray()), reference);
        assert.deepEqual(maps.map((t) => t.shape[1]), net.featureInfo.map((f) => f.channels));
      }));
      net.dispose();
    });
  }

  test('a FeatureExtractor returns the maps of its stages only', () => {
    const f = createModel('wrn-10-1', { featuresOnly: true, outIndices: [0, 2], seed: 1 }).eval();
    const maps = noGrad(() => tidy(() => f.forward(randomTensor(new Rng(1), [1, 3, 8, 8])).map((t) => t.shape)));
    assert.deepEqual(maps, [[1, 16, 8, 8], [1, 64, 2, 2]]);
    f.dispose();
  });
});

describe('resetClassifier and freeze', () => {
  test('resetClassifier keeps every other parameter and buffer bitwise', () => {
    const net = createModel('wrn-10-2', { classes: 10, seed: 3 });
    const before = snapshot(net);
    net.resetClassifier(4, 9);
    const after = snapshot(net);
    assert.equal(net.config.classes, 4);
    assert.deepEqual(after.get('fc.weight')!.length, 4 * net.fc.inFeatures);
    assert.deepEqual([...after.keys()], [...before.keys()], 'same names, same order');
    for (const [k, v] of before) if (!k.startsWith('fc.')) assert.deepEqual(after.get(k), v, k);
    assert.ok(after.get('fc.bias')!.every((v) => v === 0), 'CIFAR nets keep their zero-bias head init');
    net.dispose();
  });

  /** Two SGD steps in train mode on random data; returns the state before and after. */
  function trainTwice(net: Network): { before: Map<string, Float32Array>; after: Map<string, Float32Array> } {
    const before = snapshot(net);
    const opt = new SGD(net.namedParameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    const r = new Rng(8);
    for (let i = 0; i < 2; i++) trainStep(net, opt, { x: randnF32(r, 4 * 3 * 8 * 8), labels: Int32Array.from([0, 1, 2, 3]), shape: [4, 3, 8, 8] });
    opt.dispose();
    return { before, after: snapshot(net) };
  }

  test('frozen stages (weights and BN statistics) are bitwise unchanged after training; the rest trains', () => {
    const net = createModel('wrn-10-2', { classes: 4, dropout: 0.3, seed: 5 });
    net.freeze({ trainableStages: 1 });
    const { before, after } = trainTwice(net);
    for (const [k, v] of before) {
      const frozen = k.startsWith('conv1.') || k.startsWith('layer1.') || k.startsWith('layer2.');
      if (frozen) assert.deepEqual(after.get(k), v, `${k} frozen`);
      else if (!k.endsWith('running_var') || k.startsWith('layer3')) assert.notDeepEqual(after.get(k), v, `${k} trains`);
    }
    assert.deepEqual(net.trainableParameters().map(([k]) => k.split('.')[0]).filter((v, i, a) => a.indexOf(v) === i), ['layer3', 'bn', 'fc']);
    net.dispose();
  });

  test('trainableStages 0: only the classifier trains (frozen backbone, final BN-act included)', () => {
    const net = createModel('wrn-10-2', { classes: 4, seed: 6 });
    net.freeze({ trainableStages: 0 });
    const { before, after } = trainTwice(net);
    for (const [k, v] of before) {
      if (k.startsWith('fc.')) assert.notDeepEqual(after.get(k), v, k);
      else assert.deepEqual(after.get(k), v, k);
    }
    assert.throws(() => net.freeze({ trainableStages: 5 }), /trainableStages 5, expected 0\.\.4/);
    net.dispose();
  });
});
