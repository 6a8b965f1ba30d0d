import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { idxBytes, bytes, tempDir } from './helpers.js';

const WRN = resolve(process.cwd(), 'bin/wrn.js');

function wrn(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WRN, ...args], { encoding: 'utf8', env: { ...process.env, WRN_NO_DOWNLOAD: '1', WRN_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('wrn data', () => {
  const d = tempDir();
  const n = 30;
  writeFileSync(join(d, 'train-images-idx3-ubyte'), idxBytes([n, 6, 5], bytes(n * 30, 2)));
  writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), idxBytes([n], Uint8Array.from({ length: n }, (_, i) => i % 10), true));
  writeFileSync(join(d, 't10k-images-idx3-ubyte'), idxBytes([4, 6, 5], bytes(4 * 30, 3)));
  writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idxBytes([4], Uint8Array.from([0, 1, 2, 3])));

  test('--json: per split images, shape, classes, mean/std', () => {
    const r = wrn(['data', d, '--json', '--val-size', '10']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j.splits), ['train', 'val', 'test']);
    assert.equal(j.splits.train.images, 20);
    assert.equal(j.splits.val.images, 10);
    assert.deepEqual(j.splits.test.shape, [1, 6, 5]);
    assert.equal(j.classes.length, 10);
    assert.equal(j.normalization.mean.length, 1);
    assert.deepEqual(j.normalization.mean, j.splits.train.mean);
  });

  test('text output', () => {
    const r = wrn(['data', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /train\s+30\s+1x6x5\s+uint8\s+10/);
    assert.match(r.stdout, /normalisation \(train\): mean \[/);
  });

  test('bad input: one line naming the file, non-zero exit, no stack trace', () => {
    for (const [args, re] of [
      [['data', join(d, 'nope')], /nope: no such file or directory/],
      [['data', join(d, 'train-images-idx3-ubyte'), '--label', 'x'], /--label: expected one of fine, coarse, got 'x'/],
    ] as const) {
      const r = wrn([...args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const bad = tempDir();
    const b = idxBytes([n, 6, 5], bytes(n * 30, 2));
    b[1] = 7;
    writeFileSync(join(bad, 'train-images-idx3-ubyte'), b);
    writeFileSync(join(bad, 'train-labels-idx1-ubyte'), idxBytes([n], new Uint8Array(n)));
    const r = wrn(['data', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^wrn: .*train-images-idx3-ubyte: wrong magic number 00 07 08 03/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
