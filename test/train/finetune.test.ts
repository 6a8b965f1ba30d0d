/**
 * Fine-tuning (`wrn train --init W --freeze-stages K --head-lr-mult M`): strict loading except the
 * classifier, RGB weights adapted to greyscale data, frozen stages and their BN statistics bitwise
 * unchanged, and one clear line for each bad --init.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { JsBackend } from '../../src/backend/js/index.js';
import { setBackend } from '../../src/core/engine.js';
import { saveWeights } from '../../src/inference/weights.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createModel } from '../../src/models/index.js';
import { PAPER_DEFAULTS, train, type TrainConfig } from '../../src/train/trainer.js';
import { writeTinyDataset } from '../shared/tinyData.js';

setBackend(new JsBackend());
const data = writeTinyDataset(128, 32);
const root = path.dirname(data);

/** Pretrained weights with metadata: `arch`, `inChannels`, classes named c0..c9 (or as given). */
function pretrained(arch: string, inChannels = 3, labels = Array.from({ length: 10 }, (_, i) => `c${i}`)): string {
  const file = path.join(root, `${arch}-${inChannels}ch-${labels.length}.safetensors`);
  const net = createModel(arch, { classes: labels.length, inChannels, seed: 11 });
  // Non-trivial BN statistics, so that "unchanged" means something.
  for (const [k, t] of net.stateDict()) if (k.endsWith('running_var')) t.assign(Float32Array.from({ length: t.size }, (_, i) => 1 + (i % 5) / 10));
  saveWeights(file, net, {
    arch, classes: labels.length, inChannels, inputSize: 32, mean: new Array<number>(inChannels).fill(0.25), std: new Array<number>(inChannels).fill(0.5),
    labels, activation: 'relu', dropout: 0,
  });
  net.dispose();
  return file;
}

function config(out: string, over: Partial<TrainConfig>): TrainConfig {
  return { ...PAPER_DEFAULTS, arch: 'wrn-10-1', data, out, epochs: 1, batch: 32, valSize: 32, dropout: 0.3, backend: 'js', workers: 1, ...over };
}

test('frozen backbone from RGB weights on greyscale data: only the new classifier changes', async () => {
  const init = pretrained('wrn-10-1');
  const lines: string[] = [];
  const out = path.join(root, 'frozen');
  const r = await train(config(out, { init, freezeStages: 3, headLrMult: 10 }), { info: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.startsWith('classifier replaced: the weights classify 10 classes')), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('conv1 adapted to greyscale input')), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('frozen: the stem and layer1, layer2, layer3')), lines.join('\n'));
  assert.deepEqual(r.meta.mean, [0.25], "the weights' normalisation, averaged over RGB");
  const before = readSafetensors(init).tensors;
  const after = readSafetensors(path.join(out, 'last.safetensors')).tensors;
  for (const [k, t] of after) {
    if (k.startsWith('fc.')) {
      assert.deepEqual(t.shape, [4, ...t.shape.slice(1)].slice(0, t.shape.length));
      continue;
    }
    const b = before.get(k)!.data as Float32Array;
    const expected = k === 'conv1.weight'
      ? Float32Array.from({ length: t.data.length }, (_, i) => { const o = Math.floor(i / 9); const j = i % 9; return Math.fround(Math.fround(b[o * 27 + j] + b[o * 27 + 9 + j]) + b[o * 27 + 18 + j]); })
      : b;
    assert.deepEqual(t.data, expected, `${k} frozen`);
  }
});

test('full fine-tune with the same classes keeps the classifier and trains everything', async () => {
  const init = pretrained('wrn-10-1', 1, ['0', '1', '2', '3']);
  const lines: string[] = [];
  const out = path.join(root, 'full');
  await train(config(out, { init }), { info: (l) => lines.push(l) });
  assert.ok(!lines.some((l) => l.startsWith('classifier replaced')), lines.join('\n'));
  const before = readSafetensors(init).tensors;
  const after = readSafetensors(path.join(out, 'last.safetensors')).tensors;
  for (const k of ['conv1.weight', 'layer1.0.conv1.weight', 'layer3.0.bn2.running_mean', 'fc.weight']) {
    assert.notDeepEqual(after.get(k)!.data, before.get(k)!.data, `${k} trains`);
  }
});

function wrnTrain(...args: string[]): string {
  const r = spawnSync(process.execPath, ['bin/wrn.js', 'train', '--data', data, '--epochs', '1', '--val-size', '16', '--backend', 'js', '--out', path.join(root, 'bad'), ...args], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stdout);
  assert.ok(!/\n\s+at /.test(r.stderr), r.stderr);
  return r.stderr.trim().split('\n').at(-1) ?? '';
}

test('bad --init: another architecture, channels that cannot be adapted, a missing file, too many frozen stages', () => {
  const other = pretrained('wrn-16-1');
  assert.equal(wrnTrain('--arch', 'wrn-10-1', '--init', other), `wrn: --init ${other}: the weights are wrn-16-1, this run trains wrn-10-1 (use --arch wrn-16-1)`);
  const twoCh = pretrained('wrn-10-1', 2);
  assert.equal(wrnTrain('--arch', 'wrn-10-1', '--init', twoCh),
    `wrn: --init ${twoCh}: conv1 takes 2 input channel(s), the data has 1; only RGB weights on greyscale data can be adapted`);
  assert.equal(wrnTrain('--arch', 'wrn-10-1', '--init', 'nope.pth'), 'wrn: --init nope.pth: no such weights file');
  assert.equal(wrnTrain('--arch', 'wrn-10-1', '--freeze-stages', '4'), '--freeze-stages 4: wrn-10-1 has 3 stages (layer1, layer2, layer3), expected 0..3'.replace(/^/, 'wrn: '));
});
