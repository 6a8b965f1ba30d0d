import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { register } from '../../src/cli/commands/compare.js';
import { runCompare, runDir, type CompareOptions } from '../../src/compare/compare.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import type { MeasureOptions, Throughput } from '../../src/plan/measure.js';

/**
 * A tiny learnable dataset: 1x8x8 uint8 images, two classes (bright top half vs bright bottom half, with noise),
 * 96 training and 32 test images, stored as per-split `train_images`/`train_labels` (I64) and `test_...`.
 */
function writeTinyDataset(file: string): void {
  let s = 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
  const make = (n: number) => {
    const images = new Uint8Array(n * 64);
    const labels = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 2;
      labels[i] = BigInt(c);
      for (let p = 0; p < 64; p++) {
        const on = c === 0 ? p < 32 : p >= 32;
        images[i * 64 + p] = Math.min(255, Math.floor((on ? 150 : 50) + rnd() * 90));
      }
    }
    return { images, labels };
  };
  const tr = make(96);
  const te = make(32);
  writeSafetensors(file, {
    train_images: { data: tr.images, shape: [96, 1, 8, 8] }, train_labels: { data: tr.labels, shape: [96] },
    test_images: { data: te.images, shape: [32, 1, 8, 8] }, test_labels: { data: te.labels, shape: [32] },
  });
}

/** Runs `wrn compare ...` in-process and returns what it printed. */
async function wrnCompare(args: string[]): Promise<string> {
  const program = new Command();
  program.exitOverride();
  register(program);
  const out: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  try {
    await program.parseAsync(['compare', ...args], { from: 'user' });
  } finally {
    console.log = log;
  }
  return out.join('\n');
}

const RECIPE = { backend: 'js', batch: 16, valSize: 16, workers: 0 } as const;
const FLAGS = ['--backend', 'js', '--batch', '16', '--val-size', '16', '--workers', '0'];

let root: string;
let data: string;

before(() => {
  root = mkdtempSync(path.join(tmpdir(), 'wrn-compare-'));
  data = path.join(root, 'tiny.safetensors');
  writeTinyDataset(data);
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('wrn compare', () => {
  test('trains archs x seeds, writes the table and the plots; a second invocation with one more arch skips the finished runs', async () => {
    const out = path.join(root, 'cmp');
    const first = await wrnCompare(['--archs', 'wrn-10-1', '--data', data, '--epochs', '1', '--seeds', '1', '--out', out, ...FLAGS]);
    assert.match(first, /\[1\/1\] wrn-10-1 seed 1: training 1 epoch/);
    const done = path.join(runDir(out, 'wrn-10-1', 1), 'test.json');
    const metrics = path.join(runDir(out, 'wrn-10-1', 1), 'metrics.jsonl');
    assert.ok(existsSync(done));
    const stamp = [statSync(done).mtimeMs, statSync(metrics).mtimeMs];

    const second = await wrnCompare(['--archs', 'wrn-10-1,preact-resnet-8', '--data', data, '--epochs', '1', '--seeds', '1', '--out', out, ...FLAGS]);
    assert.match(second, /\[1\/2\] wrn-10-1 seed 1: finished earlier, skipped/);
    assert.match(second, /\[2\/2\] preact-resnet-8 seed 1: training 1 epoch/);
    assert.deepEqual([statSync(done).mtimeMs, statSync(metrics).mtimeMs], stamp, 'the finished run was not retrained');

    // The printed table, the Markdown / JSON tables and the plots.
    assert.match(second, /arch\s+params\s+MACs\s+epochs\s+seeds\s+train img\/s\s+wall time\s+best val acc %\s+test acc %/);
    assert.match(second, /wrn-10-1\s+77,042/);
    const md = readFileSync(path.join(out, 'compare.md'), 'utf8');
    assert.match(md, /\| wrn-10-1 \| 77,042 \|/);
    assert.match(md, /\| preact-resnet-8 \|/);
    assert.match(md, /train-test gap/);
    const j = JSON.parse(readFileSync(path.join(out, 'compare.json'), 'utf8')) as {
      summary: { arch: string; params: number; test_acc: { mean: number } | null; train_test_gap: { mean: number } | null }[];
      runs: unknown[]; plots: Record<string, { svg: string; png: string }>; plot_errors: string[];
    };
    assert.deepEqual(j.summary.map((s) => s.arch), ['wrn-10-1', 'preact-resnet-8']);
    assert.equal(j.runs.length, 2);
    for (const s of j.summary) {
      assert.ok(s.test_acc && s.test_acc.mean >= 0 && s.test_acc.mean <= 1);
      assert.ok(s.train_test_gap !== null);
    }
    assert.deepEqual(j.plot_errors, []);
    for (const base of ['acc-vs-params', 'acc-vs-time', 'curves-val-acc', 'curves-train-loss']) {
      for (const ext of ['svg', 'png']) assert.ok(existsSync(path.join(out, `${base}.${ext}`)), `${base}.${ext}`);
    }
  });

  test('an interrupted run resumes from its checkpoint; finished runs are never retrained', async () => {
    const out = path.join(root, 'resume');
    const opts: CompareOptions = { archs: ['wrn-10-1', 'preact-resnet-8'], data, seeds: [3], epochs: 2, out, recipe: RECIPE };
    // Kill the comparison after epoch 1 of the second run (the checkpoint is written before epochEnd fires).
    let epochs = 0;
    await assert.rejects(runCompare({
      ...opts,
      events: {
        epochEnd: (r) => {
          epochs++;
          if (r.arch === 'preact-resnet-8') throw new Error('killed');
        },
      },
    }), /killed/);
    assert.equal(epochs, 3);
    const d1 = runDir(out, 'wrn-10-1', 3);
    const d2 = runDir(out, 'preact-resnet-8', 3);
    assert.ok(existsSync(path.join(d1, 'test.json')));
    assert.ok(existsSync(path.join(d2, 'checkpoint.safetensors')) && !existsSync(path.join(d2, 'test.json')));
    const firstEpoch = readFileSync(path.join(d2, 'metrics.jsonl'), 'utf8').split('\n')[0];
    const stamp = statSync(path.join(d1, 'test.json')).mtimeMs;

    const started: { arch: string; resumed: boolean }[] = [];
    const skipped: string[] = [];
    const infos: string[] = [];
    const { runs } = await runCompare({
      ...opts,
      events: {
        info: (l) => infos.push(l),
        runStart: (r) => started.push({ arch: r.arch, resumed: r.resumed }),
        runSkip: (r) => skipped.push(r.arch),
      },
    });
    assert.deepEqual(skipped, ['wrn-10-1']);
    assert.deepEqual(started, [{ arch: 'preact-resnet-8', resumed: true }]);
    assert.ok(infos.some((l) => /resuming .* after epoch 1/.test(l)), infos.join('\n'));
    assert.equal(statSync(path.join(d1, 'test.json')).mtimeMs, stamp);
    const rows = readFileSync(path.join(d2, 'metrics.jsonl'), 'utf8').trim().split('\n');
    assert.equal(rows.length, 2);
    assert.equal(rows[0], firstEpoch, 'epoch 1 was kept, not retrained');
    assert.deepEqual(runs.map((r) => [r.arch, r.epochs]), [['wrn-10-1', 2], ['preact-resnet-8', 2]]);
    assert.ok(runs.every((r) => r.testAcc !== null && r.wallSeconds > 0));

    // A changed recipe is refused for an existing comparison.
    await assert.rejects(runCompare({ ...opts, recipe: { ...RECIPE, lr: 0.05 } }), /started with another recipe \(lr: 0.1 -> 0.05\)/);
  });

  test('--minutes picks each architecture\'s epoch count from a timing once and keeps it', async () => {
    const out = path.join(root, 'minutes');
    const calls: string[] = [];
    const fake = (arch: string, o: MeasureOptions): Throughput => {
      calls.push(arch);
      // 80 training images at 40 img/s + 16 validation images at 160 img/s = 2.1 s, x1.1 = 2.31 s per epoch.
      return { trainImgPerS: 40, inferImgPerS: 160, batch: o.batch ?? 16, trainSteps: 1, inferSteps: 1, backend: 'fake' };
    };
    const opts: CompareOptions = { archs: ['wrn-10-1'], data, seeds: [0], minutes: 0.05, out, recipe: RECIPE, measureFn: fake };
    const { state, runs } = await runCompare(opts);
    // (3 s - 2 * 32 / 160 s of testing) / 2.31 s per epoch -> 1 epoch.
    assert.equal(state.epochsByArch['wrn-10-1'], 1);
    assert.equal(runs[0]!.epochs, 1);
    assert.deepEqual(calls, ['wrn-10-1']);
    await runCompare(opts);
    assert.deepEqual(calls, ['wrn-10-1'], 'the saved epoch count is reused');
  });

  test('bad input', async () => {
    await assert.rejects(wrnCompare(['--archs', 'wrn-10-1', '--data', data, ...FLAGS]), /exactly one of --epochs N and --minutes M/);
    await assert.rejects(wrnCompare(['--archs', 'wrn-9-1', '--data', data, '--epochs', '1', ...FLAGS]), /--archs: WRN depth 9 does not fit/);
    await assert.rejects(wrnCompare(['--archs', 'wrn-10-1,wrn-10-1', '--data', data, '--epochs', '1', ...FLAGS]), /listed twice/);
    await assert.rejects(wrnCompare(['--data', data, '--epochs', '1']), /--archs is required/);
  });
});
