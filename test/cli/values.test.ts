/**
 * Issue 16, "Values", "Run directories" and "No stack traces": each hostile or absurd value given to the
 * real CLI fails with exit 1, one line on stderr naming the flag or key and the expectation, no stack
 * frames, within seconds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeTinyDataset } from '../shared/tinyData.js';

const WRN = path.resolve('bin/wrn.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'wrn-cli-'));

function wrn(args: string[], env: Record<string, string> = {}): { code: number | null; stderr: string; stdout: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [WRN, ...args], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, WRN_DEBUG: '', WRN_NO_DOWNLOAD: '1', ...env },
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout, ms: performance.now() - t0 };
}

function config(name: string, body: unknown): string {
  const file = path.join(tmp, name);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

/** Exit 1, exactly one stderr line that names `flag` and matches `expect`, no stack frame, in seconds. */
function refuses(args: string[], flag: string, expect: RegExp): void {
  const r = wrn(args);
  const what = `wrn ${args.join(' ')}`;
  assert.equal(r.code, 1, `${what}: exit ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line expected:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: stack frame`);
  assert.ok(lines[0]!.includes(flag), `${what}: '${flag}' not named in: ${lines[0]}`);
  assert.match(lines[0]!, expect, what);
  assert.ok(r.ms < 10_000, `${what}: took ${r.ms.toFixed(0)} ms`);
}

describe('absurd values are refused before any work', () => {
  test('architecture names: depth bound and widen >= 1', () => {
    refuses(['summary', 'wrn-600000004-1'], 'wrn-600000004-1', /too deep: expected depth 6N\+4 with N <= 200/);
    refuses(['summary', 'wrn-16-0'], 'wrn-16-0', /widening factor 0 .*expected an integer in \[1, 64\]/);
    refuses(['summary', 'wrn-16-65'], 'wrn-16-65', /expected an integer in \[1, 64\]/);
    refuses(['summary', 'preact-resnet-100000'], 'preact-resnet-100000', /too deep/);
    refuses(['summary', 'wrn-11-1'], '<arch>', /depth must be 6N\+4/);
    refuses(['bench', '--arch', 'wrn-99999999999999999999-1'], '--arch', /too deep/);
  });

  test('a batch that needs more memory than the machine has names the estimate', () => {
    refuses(['bench', '--arch', 'wrn-16-4', '--batch', '1000000000'], '--batch 1000000000', /needs at least [\d.]+ TiB .* per image .*more than this machine's/);
    refuses(['train', '--arch', 'wrn-28-10', '--data', 'cifar10', '--batch', '100000'], '--batch 100000', /training step on 3x32x32 images needs at least/);
    refuses(['train', '--arch', 'wrn-16-4', '--data', path.join(tmp, 'folder-not-read'), '--batch', '64', '--image-size', '8192'],
      '--image-size 8192', /needs at least/);
    refuses(['bench', '--arch', 'wrn-16-4', '--batch', '0'], '--batch', /expected an integer in \[1, /);
  });

  test('workers are bounded by the cores', () => {
    refuses(['train', '--workers', '100000'], '--workers', new RegExp(`expected an integer in \\[0, ${availableParallelism()}\\] \\(this machine has`));
  });

  test('recipe values: epochs > 0, lr finite and > 0, enums', () => {
    const base = ['train', '--arch', 'wrn-10-1', '--data', 'fashion-mnist'];
    refuses([...base, '--epochs', '0'], '--epochs', /expected an integer in \[1, 100000\], got '0'/);
    refuses([...base, '--lr', 'abc'], '--lr', /expected a number in \(0, 100\], got 'abc'/);
    refuses([...base, '--lr', '0'], '--lr', /expected a number in \(0, 100\]/);
    refuses([...base, '--lr', 'Infinity'], '--lr', /expected a number/);
    refuses([...base, '--lr', ''], '--lr', /expected a number/);
    refuses([...base, '--dropout', '1'], '--dropout', /expected a number in \[0, 0.99\]/);
    refuses([...base, '--schedule', 'linear'], '--schedule', /expected one of paper, cosine, onecycle, got 'linear'/);
    refuses([...base, '--precision', 'fp8'], '--precision', /expected one of fp32, bf16/);
    refuses([...base, '--seed', '-1'], '--seed', /expected an integer in \[0, 4294967295\]/);
    refuses(['compare', '--archs', 'wrn-10-1,wrn-9-1', '--data', 'fashion-mnist', '--epochs', '1'], '--archs', /got 'wrn-9-1'/);
    refuses(['plan', '--params', 'lots'], '--params', /expected a positive number/);
    refuses(['eval', '--weights', 'x.safetensors', '--batch', '1e9'], '--batch', /expected an integer in \[1, 65536\]/);
  });

  test('--config files go through the same schema; unknown keys are refused', () => {
    refuses(['train', '--config', config('arch.json', { arch: 16 })], "key 'arch'", /expected an architecture name .*got 16/);
    refuses(['train', '--config', config('epochs.json', { epochs: 0 })], "key 'epochs'", /expected an integer in \[1, 100000\], got 0/);
    refuses(['train', '--config', config('lr.json', { lr: 'abc' })], "key 'lr'", /expected a number in \(0, 100\], got 'abc'/);
    refuses(['train', '--config', config('deep.json', { arch: 'wrn-600000004-1' })], "key 'arch'", /too deep/);
    refuses(['train', '--config', config('unknown.json', { arch: 'wrn-16-4', learningRate: 0.1 })], 'learningRate', /unknown key 'learningRate'; expected some of arch, data/);
    refuses(['train', '--config', config('array.json', [1, 2])], '--config', /expected a JSON object/);
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, '{"lr": ');
    refuses(['train', '--config', bad], '--config', /not valid JSON/);
    refuses(['train', '--config', path.join(tmp, 'none.json')], '--config', /no such file/);
    refuses(['compare', '--config', config('cmp.json', { seeds: [1, -2] })], "key 'seeds'", /expected an integer in \[0, 4294967295\], got -2/);
  });
});

describe('run directories', () => {
  const run = path.join(tmp, 'run');
  mkdirSync(run);
  writeFileSync(path.join(run, 'config.json'), JSON.stringify({ arch: 'wrn-10-1', data: 'fashion-mnist', epochs: 2, lr: 0.1 }));

  test('training into an --out that holds a run is refused unless --resume or --overwrite', () => {
    refuses(['train', '--arch', 'wrn-10-1', '--data', 'fashion-mnist', '--out', run], `--out ${run}`,
      /already holds a run \(config.json\); continue it with --resume .* replace it with --overwrite/);
  });

  test('--resume with flags that would change the recipe is refused, listing them', () => {
    refuses(['train', '--resume', run, '--lr', '0.5', '--epochs', '9', '--backend', 'js'], '--lr',
      /--epochs, --lr would change the recipe saved in .*only --backend and --workers may change/);
    refuses(['train', '--resume', run, '--config', config('r.json', {})], '--config', /would change the recipe/);
  });

  test('a run trained by the CLI resumes through the CLI; training into it again needs --overwrite', () => {
    const data = writeTinyDataset(64, 16);
    const out = path.join(tmp, 'tiny-run');
    const args = ['train', '--arch', 'wrn-10-1', '--data', data, '--epochs', '1', '--batch', '32', '--val-size', '16', '--backend', 'js', '--workers', '0', '--out', out];
    const first = wrn(args);
    assert.equal(first.code, 0, first.stderr);
    const resumed = wrn(['train', '--resume', out, '--workers', '0']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /test accuracy/);
    refuses(args, `--out ${out}`, /already holds a run/);
    assert.equal(wrn([...args, '--overwrite']).code, 0);
  });

  test('a resumed run\'s config.json is checked like a --config', () => {
    const broken = path.join(tmp, 'broken');
    mkdirSync(broken);
    writeFileSync(path.join(broken, 'config.json'), JSON.stringify({ arch: 'wrn-10-1', data: 'x', epochs: 2, lr: 'fast' }));
    refuses(['train', '--resume', broken], "config.json key 'lr'", /expected a number/);
  });
});

describe('no stack traces on user input; --debug shows them', () => {
  test('commander errors are one line too', () => {
    refuses(['train', '--bogus'], '--bogus', /unknown option/);
    refuses(['summary'], 'arch', /missing required argument/);
    refuses(['bench', '--arch'], '--arch', /argument missing/);
  });

  test('a file that is not what it claims gives one line from every command that reads it', () => {
    const junk = path.join(tmp, 'junk.safetensors');
    writeFileSync(junk, Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919 + 13) % 256)));
    const png = path.join(tmp, 'junk.png');
    writeFileSync(png, 'not an image');
    refuses(['eval', '--weights', junk, '--backend', 'js'], junk, /corrupt or not a safetensors file/);
    refuses(['predict', '--weights', junk, png, '--backend', 'js'], junk, /corrupt or not a safetensors file/);
    refuses(['export', '--weights', junk, '--onnx', path.join(tmp, 'x.onnx')], junk, /corrupt or not a safetensors file/);
    refuses(['convert', junk, path.join(tmp, 'y.safetensors')], junk, /./);
    refuses(['data', junk], junk, /./);
  });

  test('--debug and WRN_DEBUG=1 print the stack', () => {
    for (const r of [wrn(['summary', 'wrn-16-0', '--debug']), wrn(['summary', 'wrn-16-0'], { WRN_DEBUG: '1' })]) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /widening factor 0/);
      assert.match(r.stderr, /^\s+at /m, r.stderr);
    }
  });
});
