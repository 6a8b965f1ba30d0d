import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { readSafetensors } from '../../src/io/safetensors.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { DivergedError, PAPER_DEFAULTS, train, type TrainConfig } from '../../src/train/trainer.js';
import { writeTinyDataset } from '../shared/tinyData.js';

const WRN = path.resolve('bin/wrn.js');
const data = writeTinyDataset();
const root = path.dirname(data);

function config(out: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...PAPER_DEFAULTS, arch: 'wrn-10-1', data, out, epochs: 2, batch: 32, valSize: 32, dropout: 0.3,
    backend: 'js', workers: 1, ...over,
  };
}

function wrn(...args: string[]): string {
  return execFileSync(process.execPath, [WRN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function sameTensors(a: string, b: string): void {
  const ta = readSafetensors(a).tensors;
  const tb = readSafetensors(b).tensors;
  assert.deepEqual([...ta.keys()].sort(), [...tb.keys()].sort());
  for (const [k, t] of ta) {
    assert.deepEqual(Buffer.from((tb.get(k)!.data as Float32Array).buffer), Buffer.from((t.data as Float32Array).buffer), `${k} differs`);
  }
}

test('a run SIGKILLed mid-epoch and resumed ends bit-exactly like an uninterrupted one (js backend)', async () => {
  const full = path.join(root, 'full');
  await train(config(full));
  const killed = path.join(root, 'killed');
  const cfgFile = path.join(root, 'killed.json');
  writeFileSync(cfgFile, JSON.stringify(config(killed)));
  const child = spawnSync(process.execPath, [path.resolve('dist/test/train/killAt.js'), cfgFile, '1', '3']);
  assert.equal(child.signal, 'SIGKILL', `the child should have been killed mid-epoch: ${child.stderr}`);
  assert.equal(readCheckpoint(killed).state.epoch, 1, 'the checkpoint after epoch 1 survives the kill');
  const out = wrn('train', '--resume', killed);
  assert.match(out, /resuming .* after epoch 1/);
  sameTensors(path.join(full, 'last.safetensors'), path.join(killed, 'last.safetensors'));
  sameTensors(path.join(full, 'checkpoint.safetensors'), path.join(killed, 'checkpoint.safetensors'));
  const rows = readFileSync(path.join(killed, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number });
  assert.deepEqual(rows.map((r) => r.epoch), [1, 2]);
  for (const f of ['best.safetensors', 'curves.svg', 'curves.png', 'test.json', 'config.json']) assert.ok(existsSync(path.join(killed, f)), f);
});

test('a NaN loss stops the run with a clear message and leaves the last good checkpoint intact', async () => {
  const out = path.join(root, 'nan');
  await assert.rejects(train(config(out), {
    afterStep: ({ epoch, batch, model }) => {
      if (epoch === 1 && batch === 2) {
        const fc = model.stateDict().get('fc.weight')!;
        fc.assign(new Float32Array(fc.size).fill(NaN));
      }
    },
  }), (e: Error) => e instanceof DivergedError && /loss became NaN in epoch 2/.test(e.message) && /after epoch 1\) is intact/.test(e.message));
  const ck = readCheckpoint(out);
  assert.equal(ck.state.epoch, 1);
  for (const [k, t] of ck.model) assert.ok(t.data.every(Number.isFinite), `${k} in the checkpoint is finite`);
});

test('the trained model learns the tiny task; eval and predict work on it', async () => {
  const out = path.join(root, 'learn');
  // No crop/flip here: a flip turns class 0 into class 1 on this task.
  const r = await train(config(out, { epochs: 3, dropout: 0, augment: { crop: 0, padMode: 'zero', flip: false, cutout: 0 } }));
  assert.ok(r.test && r.test.accuracy >= 0.9, `test accuracy ${r.test?.accuracy}`);
  const weights = path.join(out, 'best.safetensors');
  const meta = readSafetensors(weights).metadata;
  assert.equal(meta.arch, 'wrn-10-1');
  assert.equal(meta.classes, '4');
  assert.equal(JSON.parse(meta.mean).length, 1);

  const ev = JSON.parse(wrn('eval', '--weights', weights, '--data', data, '--json', '--backend', 'js')) as { accuracy: number; confusion: number[][] };
  assert.equal(ev.accuracy, r.test!.accuracy);
  assert.equal(ev.confusion.flat().reduce((a, b) => a + b, 0), 64);
  assert.ok(existsSync(path.join(out, 'confusion-test.png')));

  // An image of class 3: the bottom-right quadrant bright.
  const px = Buffer.alloc(64);
  for (let y = 4; y < 8; y++) for (let x = 4; x < 8; x++) px[y * 8 + x] = 220;
  const png = path.join(root, 'class3.png');
  await sharp(px, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(png);
  const line = JSON.parse(wrn('predict', '--weights', weights, '--json', '--top', '2', '--backend', 'js', png)) as { top: { label: string; probability: number }[]; probs: number[] };
  assert.equal(line.top.length, 2);
  assert.equal(line.top[0].label, '3');
  assert.ok(Math.abs(line.probs.reduce((a, b) => a + b, 0) - 1) < 1e-5);
});

test('bad input to train/eval/predict is one line naming the problem, with a non-zero exit', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [WRN, ...args], { encoding: 'utf8' });
  const cases: [string[], RegExp][] = [
    [['train', '--arch', 'wrn-11-1', '--data', data], /depth must be 6N\+4/],
    [['train', '--arch', 'wrn-10-1', '--data', data, '--lr', 'abc'], /--lr: expected a number/],
    [['train', '--arch', 'wrn-10-1', '--data', '/nonexistent/dir', '--backend', 'js'], /nonexistent/],
    [['train', '--resume', root], /no config.json/],
    [['eval', '--weights', '/nope.safetensors'], /nope.safetensors/],
    [['predict', '--weights', data, data], /.+/],
  ];
  for (const [args, re] of cases) {
    const r = run(...args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace for: ${args.join(' ')}\n${r.stderr}`);
  }
});

test('wrn predict on the PyTorch fixture reproduces its eval logits', { skip: !existsSync('../shared/fixtures/wrn-10-2.io.safetensors') && 'no ../shared/fixtures' }, () => {
  const io = '../shared/fixtures/wrn-10-2.io.safetensors';
  const lines = wrn('predict', '--weights', '../shared/fixtures/wrn-10-2.safetensors', io, '--json', '--backend', 'js').trim().split('\n');
  const ref = readSafetensors(io).tensors.get('logits_eval')!.data as Float32Array;
  const got = lines.flatMap((l) => (JSON.parse(l) as { logits: number[] }).logits);
  assert.equal(got.length, ref.length);
  const scale = Math.max(...Array.from(ref, Math.abs));
  got.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) <= 1e-4 * scale, `logit ${i}: ${v} vs ${ref[i]}`));
});
