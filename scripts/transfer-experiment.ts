/**
 * Issue 14's transfer experiment: pretrain WRN-16-4 on Fashion-MNIST classes 0-4, then learn classes
 * 5-9 from 500 training images (100 per class) three ways, same budget (epochs, batch, augmentation):
 * frozen backbone + new head, full fine-tune, and from scratch; seeds 1, 2, 3. Every run is a
 * `wrn train` command (printed); the table goes to OUT/results.{json,md}.
 *
 *   node dist/scripts/transfer-experiment.js [OUT=docs/results/transfer] [--pretrain-images N] [--pretrain-epochs E]
 *     [--epochs E] [--test-images N] [--parallel]
 * (--parallel runs a method's three seeds at once; wall times then include the contention.)
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveDataset } from '../src/data/resolve.js';
import type { Dataset } from '../src/data/dataset.js';
import { writeSafetensors } from '../src/io/safetensors.js';

const args = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const OUT = args[0] && !args[0].startsWith('--') ? args[0] : 'docs/results/transfer';
const PRE_IMAGES = flag('--pretrain-images', 15000);
const PRE_EPOCHS = flag('--pretrain-epochs', 2);
const EPOCHS = flag('--epochs', 15);
const TEST = flag('--test-images', 2000);
const SEEDS = [1, 2, 3];
const WORK = path.join('runs', path.basename(OUT));

/** Images of `classes` (relabelled 0..k-1), at most `perClass` of each (Infinity: all), in dataset order. */
function pick(ds: Dataset, classes: number[], perClass: number, total = Infinity): { images: Uint8Array; labels: Int32Array; n: number } {
  const per = ds.shape[1] * ds.shape[2] * ds.shape[3];
  const taken = new Map(classes.map((c) => [c, 0]));
  const idx: number[] = [];
  for (let i = 0; i < ds.shape[0] && idx.length < total; i++) {
    const c = ds.labels[i];
    if (!taken.has(c) || taken.get(c)! >= perClass) continue;
    taken.set(c, taken.get(c)! + 1);
    idx.push(i);
  }
  const images = new Uint8Array(idx.length * per);
  idx.forEach((i, j) => images.set((ds.images as Uint8Array).subarray(i * per, (i + 1) * per), j * per));
  return { images, labels: Int32Array.from(idx, (i) => classes.indexOf(ds.labels[i])), n: idx.length };
}

function writeSplitFile(file: string, train: ReturnType<typeof pick>, test: ReturnType<typeof pick>, names: string[], hw: number[]): void {
  writeSafetensors(file, {
    train_images: { data: train.images, shape: [train.n, ...hw] }, train_labels: { data: train.labels, shape: [train.n] },
    test_images: { data: test.images, shape: [test.n, ...hw] }, test_labels: { data: test.labels, shape: [test.n] },
  }, { classes: JSON.stringify(names) });
}

function trainCommand(out: string, extra: readonly string[]): string[] {
  const cmd = ['bin/wrn.js', 'train', '--arch', 'wrn-16-4', '--schedule', 'cosine', '--dropout', '0', '--val-size', '0', '--out', out, ...extra];
  console.log(`$ node ${cmd.join(' ')}`);
  return cmd;
}

function result(out: string, text: string, seconds: number, log: string): { acc: number; seconds: number } {
  writeFileSync(log, text);
  const acc = (JSON.parse(readFileSync(path.join(out, 'test.json'), 'utf8')) as { test_acc: number }).test_acc;
  console.log(`  ${out}: test accuracy ${(100 * acc).toFixed(2)}%, ${seconds.toFixed(1)} s`);
  return { acc, seconds };
}

function wrnTrain(out: string, extra: readonly string[], log: string): { acc: number; seconds: number } {
  const cmd = trainCommand(out, extra);
  const t0 = performance.now();
  const text = execFileSync(process.execPath, cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return result(out, text, (performance.now() - t0) / 1000, log);
}

async function wrnTrainAsync(out: string, extra: readonly string[], log: string): Promise<{ acc: number; seconds: number }> {
  const cmd = trainCommand(out, extra);
  const t0 = performance.now();
  const { stdout } = await promisify(execFile)(process.execPath, cmd, { encoding: 'utf8', maxBuffer: 1 << 26 });
  return result(out, stdout, (performance.now() - t0) / 1000, log);
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]): number => Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / Math.max(1, v.length - 1));

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  const fm = await resolveDataset('fashion-mnist', { valSize: 0 });
  const hw = fm.train.shape.slice(1);
  const source = path.join(WORK, 'fm-classes-0-4.safetensors');
  const target = path.join(WORK, 'fm-classes-5-9-500.safetensors');
  const first = [0, 1, 2, 3, 4];
  const second = [5, 6, 7, 8, 9];
  writeSplitFile(source, pick(fm.train, first, Infinity, PRE_IMAGES), pick(fm.test!, first, Infinity, TEST), first.map((c) => fm.classes[c]), hw);
  writeSplitFile(target, pick(fm.train, second, 100), pick(fm.test!, second, Infinity, TEST), second.map((c) => fm.classes[c]), hw);

  const pre = path.join(WORK, 'pretrain');
  const pretrain = existsSync(path.join(pre, 'test.json')) && !args.includes('--again')
    ? { acc: (JSON.parse(readFileSync(path.join(pre, 'test.json'), 'utf8')) as { test_acc: number }).test_acc, seconds: NaN }
    : wrnTrain(pre, ['--data', source, '--epochs', String(PRE_EPOCHS), '--batch', '128', '--lr', '0.1'], path.join(OUT, 'pretrain.log'));
  const weights = path.join(pre, 'last.safetensors');
  const common = ['--data', target, '--epochs', String(EPOCHS), '--batch', '64'];
  const methods: [string, string[]][] = [
    ['frozen backbone + new head', ['--init', weights, '--freeze-stages', '3', '--lr', '0.1']],
    ['full fine-tune', ['--init', weights, '--lr', '0.01', '--head-lr-mult', '10']],
    ['from scratch', ['--lr', '0.1']],
  ];
  const rows: { method: string; flags: string; acc: number[]; seconds: number[] }[] = [];
  for (const [method, flags] of methods) {
    const row = { method, flags: flags.join(' ').replace(weights, 'PRETRAINED'), acc: [] as number[], seconds: [] as number[] };
    const slug = method.split(' ')[0];
    const run = (seed: number) => [path.join(WORK, `${slug}-seed${seed}`), [...common, ...flags, '--seed', String(seed)], path.join(OUT, `${slug}-seed${seed}.log`)] as const;
    const results = args.includes('--parallel')
      ? await Promise.all(SEEDS.map((seed) => wrnTrainAsync(...run(seed))))
      : SEEDS.map((seed) => wrnTrain(...run(seed)));
    for (const r of results) {
      row.acc.push(r.acc);
      row.seconds.push(r.seconds);
    }
    rows.push(row);
  }
  const setup = { parallel: args.includes('--parallel'), pretrain: { images: PRE_IMAGES, epochs: PRE_EPOCHS, test_acc: pretrain.acc, seconds: pretrain.seconds }, epochs: EPOCHS, batch: 64, train_images: 500, test_images: TEST, seeds: SEEDS };
  writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify({ setup, rows }, null, 2)}\n`);
  const md = ['| method | flags | test acc % (mean ± std) | per seed | wall time s (mean ± std) |', '|---|---|---:|---|---:|',
    ...rows.map((r) => `| ${r.method} | \`${r.flags}\` | ${(100 * mean(r.acc)).toFixed(2)} ± ${(100 * std(r.acc)).toFixed(2)} | ` +
      `${r.acc.map((a) => (100 * a).toFixed(2)).join(', ')} | ${mean(r.seconds).toFixed(1)} ± ${std(r.seconds).toFixed(1)} |`)];
  writeFileSync(path.join(OUT, 'results.md'), `${md.join('\n')}\n`);
  console.log(md.join('\n'));
}

await main();
