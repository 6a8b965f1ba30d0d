/**
 * Reproducible by default on the native backend: the same command with the same seed, thread count
 * and machine gives byte-identical weights from two separate processes (fresh HOME each), with the
 * backward-weights variants chosen by the table and with each variant forced. Before the variants
 * were chosen from a table, they were chosen by timings taken during the run, and two runs differed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import { writeTinyDataset } from '../shared/tinyData.js';

const { backend: native, reason } = loadNativeBackend();
const skip = native ? false : `native backend unavailable: ${reason}`;
const WRN = path.resolve('bin/wrn.js');
const data = writeTinyDataset(1024, 64, 3);

/** One training run in its own process; returns last.safetensors's bytes. */
function run(tag: string, env: Record<string, string>): Buffer {
  const dir = mkdtempSync(path.join(os.tmpdir(), `wrn-repro-${tag}-`));
  const out = path.join(dir, 'run');
  const r = spawnSync(process.execPath, [WRN, 'train', '--backend', 'native', '--arch', 'wrn-10-2', '--data', data,
    '--epochs', '1', '--batch', '32', '--val-size', '64', '--dropout', '0.3', '--seed', '5', '--workers', '1', '--out', out], {
    encoding: 'utf8',
    env: { ...process.env, HOME: dir, OMP_NUM_THREADS: '2', ...env },
  });
  assert.equal(r.status, 0, `${tag}: ${r.stderr}`);
  return readFileSync(path.join(out, 'last.safetensors'));
}

for (const [name, env] of [
  ['variants from the table', {}],
  ['variant 1 (planned for one thread) everywhere', { WRN_BWDW_VARIANT: '1' }],
  ['variant 2 (batch split, partial sums in thread order) everywhere', { WRN_BWDW_VARIANT: '2' }],
] as [string, Record<string, string>][]) {
  test(`two processes, one seed, two threads: byte-identical last.safetensors (${name})`, { skip }, () => {
    const a = run('a', env);
    const b = run('b', env);
    assert.ok(a.equals(b), `${name}: the two runs' weights differ`);
  });
}
