/** `wrn features`: values against the API, streamed output with labels, and one clear line per bad input. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { JsBackend } from '../../src/backend/js/index.js';
import { noGrad, setBackend, tidy } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import { Tensor } from '../../src/core/tensor.js';
import { saveWeights } from '../../src/inference/weights.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { createModel } from '../../src/models/index.js';
import { globalAvgPool } from '../../src/ops/index.js';
import { randnF32, relError } from '../helpers/index.js';

setBackend(new JsBackend());
const dir = mkdtempSync(path.join(os.tmpdir(), 'wrn-features-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const weights = path.join(dir, 'wrn-10-1.safetensors');
const net = createModel('wrn-10-1', { classes: 4, seed: 3 });
saveWeights(weights, net, {
  arch: 'wrn-10-1', classes: 4, inChannels: 3, inputSize: 8, mean: [0, 0, 0], std: [1, 1, 1], labels: ['a', 'b', 'c', 'd'], activation: 'relu', dropout: 0,
});
const x = randnF32(new Rng(5), 5 * 3 * 8 * 8);
const input = path.join(dir, 'input.safetensors');
writeSafetensors(input, { input: { data: x, shape: [5, 3, 8, 8] }, labels: { data: Int32Array.from([0, 1, 2, 3, 0]), shape: [5] } });

/** Runs the CLI; `error` is the last stderr line (the one before it may name the backend). */
function wrn(...args: string[]): { status: number | null; stderr: string; error: string } {
  const r = spawnSync(process.execPath, ['bin/wrn.js', ...args], { encoding: 'utf8' });
  assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
  return { status: r.status, stderr: r.stderr, error: r.stderr.trim().split('\n').at(-1) ?? '' };
}

describe('wrn features', () => {
  test('pooled layer2 and raw layer3 in batches of 2, labels copied; values as forwardStages computes them', () => {
    const out = path.join(dir, 'f.safetensors');
    const r = wrn('features', '--weights', weights, input, '--stages', 'layer3,layer2', '--pool', 'avg', '--batch', '2', '--out', out, '--backend', 'js');
    assert.equal(r.status, 0, r.stderr);
    const got = readSafetensors(out).tensors;
    assert.deepEqual([...got.keys()].sort(), ['labels', 'layer2', 'layer3']);
    assert.deepEqual(got.get('layer2')!.shape, [5, 32]);
    assert.deepEqual(Array.from(got.get('labels')!.data as Int32Array), [0, 1, 2, 3, 0]);
    net.eval();
    const expected = noGrad(() => tidy(() => net.forwardStages(Tensor.fromArray(x, [5, 3, 8, 8]), [1, 2]).map((t) => globalAvgPool(t).toArray())));
    assert.ok(relError(got.get('layer2')!.data as Float32Array, expected[0]) < 1e-6);
    assert.ok(relError(got.get('layer3')!.data as Float32Array, expected[1]) < 1e-6);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary file left');
  });

  const bad: [string, string[], RegExp][] = [
    ['an unknown stage name', ['--stages', 'layer4'], /^wrn: unknown stage 'layer4' for wrn-10-1: expected one of layer1, layer2, layer3 \(or 0\.\.2\)$/],
    ['input and --data together', ['--data', 'fashion-mnist'], /^wrn: give either an INPUT\.safetensors file or --data, not both$/],
    ['an unknown --pool', ['--pool', 'max'], /^wrn: --pool: expected one of avg, none, got 'max'$/],
  ];
  for (const [what, args, message] of bad) {
    test(`${what}: one line, exit 1, no output file`, () => {
      const out = path.join(dir, 'bad.safetensors');
      const r = wrn('features', '--weights', weights, input, '--out', out, ...args);
      assert.equal(r.status, 1);
      assert.match(r.error, message);
      assert.ok(!existsSync(out));
    });
  }

  test('greyscale input for RGB weights, and input that is not [N,C,H,W]: one line each', () => {
    const grey = path.join(dir, 'grey.safetensors');
    writeSafetensors(grey, { input: { data: new Float32Array(2 * 64), shape: [2, 1, 8, 8] } });
    let r = wrn('features', '--weights', weights, grey, '--out', path.join(dir, 'g.safetensors'));
    assert.equal(r.status, 1);
    assert.equal(r.error, `wrn: ${grey}: images have 1 channel(s), the weights ${weights} take 3`);
    const flat = path.join(dir, 'flat.safetensors');
    writeSafetensors(flat, { input: { data: new Float32Array(6), shape: [2, 3] } });
    r = wrn('features', '--weights', weights, flat, '--out', path.join(dir, 'g.safetensors'));
    assert.equal(r.error, `wrn: ${flat}: tensor 'input' has shape [2,3], expected [N,C,H,W]`);
  });
});
