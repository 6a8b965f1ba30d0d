import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { totalmem } from 'node:os';
import { checkMemory, checkResumeFlags, claimRunDir, expectedInput, memoryLimit, stepBytes } from '../../src/cli/checks.js';
import * as F from '../../src/cli/flags.js';
import { recipeFrom } from '../../src/cli/recipe.js';
import { UserError } from '../../src/cli/userError.js';
import { PAPER_DEFAULTS } from '../../src/train/trainer.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'wrn-flags-'));

/** Parses ARGS with FLAGS declared on a fresh command, as the CLI does; returns readFlags' values. */
function parse<G extends F.Flags>(flags: G, args: string[]): F.Values<G> {
  let out: F.Values<G> | undefined;
  const cmd = F.addFlags(new Command('t').exitOverride(), flags).action((_o: unknown, c: Command) => {
    out = F.readFlags(flags, c);
  });
  cmd.parse(args, { from: 'user' });
  return out!;
}

const GROUPS = { ARCH: F.ARCH, MODEL_SHAPE: F.MODEL_SHAPE, DATA: F.DATA, RECIPE: F.RECIPE, COMPUTE: F.COMPUTE, OUTPUT: F.OUTPUT,
  RUN: F.RUN, CONFIG: F.CONFIG, COMPARE: F.COMPARE, BENCH: F.BENCH, EVAL: F.EVAL, PREDICT: F.PREDICT, EXPORT: F.EXPORT,
  CONVERT: F.CONVERT, PLAN: F.PLAN, DATASET: F.DATASET };

describe('flag groups', () => {
  test('every group declares with commander under its own keys', () => {
    for (const [name, g] of Object.entries(GROUPS)) assert.doesNotThrow(() => F.addFlags(new Command(name), g), name);
    assert.throws(() => F.addFlags(new Command('x'), { lr: F.RECIPE.labelSmoothing }), /stored by commander as 'labelSmoothing', declared as 'lr'/);
  });

  test('flags are converted, validated and typed; absent ones are undefined or their default', () => {
    const flags = { ...F.RECIPE, ...F.COMPUTE, batch: F.withDefault(F.RECIPE.batch, 64) };
    const v = parse(flags, ['--lr', '0.05', '--epochs', '3', '--no-flip', '--precision', 'bf16']);
    assert.equal(v.lr, 0.05);
    assert.equal(v.epochs, 3);
    assert.equal(v.flip, false);
    assert.equal(v.precision, 'bf16');
    assert.equal(v.batch, 64);
    assert.equal(v.wd, undefined);
    assert.equal(v.backend, undefined);
  });

  test('a bad value is one UserError naming the flag, the expectation and what it got', () => {
    const cases: [string[], RegExp][] = [
      [['--lr', 'abc'], /^--lr: expected a number in \(0, 100\], got 'abc'$/],
      [['--lr', '-0.1'], /^--lr: expected a number in \(0, 100\]/],
      [['--epochs', '2.5'], /^--epochs: expected an integer in \[1, 100000\], got '2.5'$/],
      [['--epochs', '1e6'], /^--epochs: expected an integer in \[1, 100000\]/],
      [['--batch', '0x10'], /^--batch: expected an integer/],
      [['--activation', 'tanh'], /^--activation: expected one of relu, silu, gelu, identity, got 'tanh'$/],
    ];
    for (const [args, re] of cases) {
      assert.throws(() => parse(F.RECIPE, args), (e: unknown) => e instanceof UserError && re.test(e.message), args.join(' '));
    }
    assert.throws(() => parse({ ...F.DATA }, ['--workers', String(F.MAX_WORKERS + 1)]), /--workers: expected an integer in \[0, \d+\] \(this machine has \d+ cores\)/);
    assert.throws(() => parse({ ...F.DATA }, ['--channels', '2']), /--channels: expected 1 or 3, got '2'/);
    assert.throws(() => parse({ weights: F.required(F.EVAL.weights) }, []), /--weights is required/);
  });

  test('architecture names are checked without building anything big', () => {
    const t0 = performance.now();
    assert.throws(() => F.checkValue(F.ARCH.arch, 'wrn-600000004-1', '--arch'), /too deep/);
    assert.throws(() => F.checkValue(F.ARCH.arch, `wrn-${'9'.repeat(400)}-1`, '--arch'), /too deep/);
    assert.throws(() => F.checkValue(F.ARCH.arch, 'wrn-16-0', '--arch'), /widening factor 0/);
    assert.throws(() => F.checkValue(F.ARCH.arch, 'resnet-9', '--arch'), /unknown architecture/);
    assert.equal(F.checkValue(F.ARCH.arch, 'wrn-1204-1', '--arch'), 'wrn-1204-1');
    assert.ok(performance.now() - t0 < 5000);
  });
});

describe('--config', () => {
  const flags = { ...F.ARCH, ...F.DATA, ...F.RECIPE, ...F.COMPUTE, ...F.RUN, ...F.CONFIG };
  const write = (name: string, body: string): string => {
    const f = path.join(tmp, name);
    writeFileSync(f, body);
    return f;
  };

  test('keys are the flags in camelCase; flags win over the file, the file over defaults', () => {
    const file = write('ok.json', JSON.stringify({ arch: 'wrn-16-2', lr: 0.05, labelSmoothing: 0.1, flip: false, epochs: 7 }));
    const v = parse(flags, ['--config', file, '--epochs', '3']);
    assert.equal(v.arch, 'wrn-16-2');
    assert.equal(v.lr, 0.05);
    assert.equal(v.labelSmoothing, 0.1);
    assert.equal(v.flip, false);
    assert.equal(v.epochs, 3);
  });

  test('values are checked with the same bounds, types are not coerced, unknown keys and non-config flags are refused', () => {
    const cases: [unknown, RegExp][] = [
      [{ arch: 16 }, /key 'arch': expected an architecture name/],
      [{ epochs: 0 }, /key 'epochs': expected an integer in \[1, 100000\], got 0/],
      [{ lr: 'abc' }, /key 'lr': expected a number in \(0, 100\], got 'abc'/],
      [{ lr: '0.1' }, /key 'lr': expected a number/],
      [{ batch: 1.5 }, /key 'batch': expected an integer/],
      [{ workers: 100000 }, /key 'workers': expected an integer in \[0, /],
      [{ flip: 'no' }, /key 'flip': expected true or false/],
      [{ momentum: 0.9 }, /unknown key 'momentum'/],
      [{ resume: 'runs/x' }, /unknown key 'resume'/],
      [{ config: 'other.json' }, /unknown key 'config'/],
      [null, /expected a JSON object, got null/],
    ];
    for (const [body, re] of cases) {
      const file = write('case.json', JSON.stringify(body));
      assert.throws(() => F.readConfig(file, flags), (e: unknown) => e instanceof UserError && re.test(e.message), JSON.stringify(body));
    }
  });

  test('a huge file is refused by its size, not read', () => {
    const file = write('huge.json', `{"data": "${'x'.repeat(2 << 20)}"}`);
    assert.throws(() => F.readConfig(file, flags), /larger than 1048576 bytes/);
  });
});

describe('checks across values', () => {
  test('the memory estimate grows with the batch, training needs more than inference, and the error names it', () => {
    const a = { arch: 'wrn-16-4', inChannels: 3, size: 32, classes: 10, precision: 'fp32' } as const;
    const t1 = stepBytes({ ...a, mode: 'train', batch: 1 });
    const t2 = stepBytes({ ...a, mode: 'train', batch: 2 });
    assert.equal(t2.total - t1.total, t1.perImage);
    assert.ok(t1.perImage > stepBytes({ ...a, mode: 'infer', batch: 1 }).perImage);
    assert.equal(stepBytes({ ...a, mode: 'train', batch: 1, precision: 'bf16' }).perImage * 2, t1.perImage);
    // 2,748,890 parameters: weights, gradients and momentum.
    assert.equal(t1.fixed, 3 * 4 * 2748890);
    assert.doesNotThrow(() => checkMemory({ ...a, mode: 'train', batch: 128, flags: '--batch 128' }, 64 * 2 ** 30));
    assert.throws(() => checkMemory({ ...a, mode: 'train', batch: 128, flags: '--batch 128' }, 2 ** 20),
      /--batch 128: one wrn-16-4 training step on 3x32x32 images needs at least [\d.]+ MiB \([\d.]+ MiB per image \+ [\d.]+ MiB of weights\), more than this machine's 1.00 MiB/);
  });

  test('the memory limit is the machine\'s or a lower container limit', () => {
    assert.ok(memoryLimit() > 0 && memoryLimit() <= totalmem());
  });

  test('input shapes of named datasets are known; unknown files get the smallest plausible shape', () => {
    assert.deepEqual(expectedInput('fashion-mnist', undefined, undefined), { inChannels: 1, size: 28 });
    assert.deepEqual(expectedInput('CIFAR100', 64, 1), { inChannels: 3, size: 32 });
    assert.deepEqual(expectedInput(tmp, undefined, undefined), { inChannels: 3, size: 32 });
    assert.deepEqual(expectedInput(path.join(tmp, 'x.safetensors'), 96, undefined), { inChannels: 1, size: 96 });
  });

  test('--overwrite removes only the old run\'s files', () => {
    const dir = path.join(tmp, 'run');
    mkdirSync(dir);
    for (const f of ['config.json', 'metrics.jsonl', 'best.safetensors', 'confusion-test.png', 'notes.txt']) writeFileSync(path.join(dir, f), '{}');
    assert.throws(() => claimRunDir(dir, false), /already holds a run \(config.json\)/);
    claimRunDir(dir, true);
    assert.deepEqual(readdirSync(dir), ['notes.txt']);
    assert.doesNotThrow(() => claimRunDir(dir, false));
    assert.doesNotThrow(() => claimRunDir(path.join(tmp, 'fresh'), false));
    writeFileSync(path.join(tmp, 'file'), '');
    assert.throws(() => claimRunDir(path.join(tmp, 'file'), true), /exists and is not a directory/);
  });

  test('--resume accepts only flags that do not change what the run computes', () => {
    assert.doesNotThrow(() => checkResumeFlags('r', ['--resume', '--backend', '--workers']));
    assert.throws(() => checkResumeFlags('r', ['--resume', '--lr', '--backend', '--seed']), /--resume r: --lr, --seed would change the recipe/);
  });

  test('the recipe with no flags is the paper\'s; dropout stays unset for the architecture to decide', () => {
    const v = parse({ ...F.RECIPE, ...F.DATA, ...F.COMPUTE }, []);
    // Fine-tuning (--init, --freeze-stages, --head-lr-mult) is not part of the recipe: train adds it.
    const { dropout: _d, init: _i, freezeStages: _f, headLrMult: _h, ...paper } = PAPER_DEFAULTS;
    assert.deepEqual(recipeFrom(v), paper);
    assert.equal(recipeFrom({ ...v, dropout: 0 }).dropout, 0);
    assert.deepEqual(recipeFrom({ ...v, crop: 0, pad: 'zero' }).augment, { ...PAPER_DEFAULTS.augment, crop: 0, padMode: 'zero' });
  });
});
