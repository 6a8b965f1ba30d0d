/**
 * Loading never breaks the package: a missing or broken addon yields `{ backend: null, reason }` (the
 * CLI then falls back to the TypeScript backend), and the install script exits 0 without oneDNN.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const root = process.cwd();
const loader = path.resolve(root, 'dist/src/backend/native/index.js');

function load(env: Record<string, string>): { backend: boolean; reason: string | null } {
  const code = `import(${JSON.stringify(loader)}).then((m) => { const r = m.loadNativeBackend(); console.log(JSON.stringify({ backend: r.backend !== null, reason: r.reason })); })`;
  const r = spawnSync(process.execPath, ['-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as { backend: boolean; reason: string | null };
}

test('a missing addon gives null and a reason with the install hint', () => {
  const r = load({ WRN_NATIVE_ADDON: path.join(os.tmpdir(), 'no-such-dir', 'wrn_native.node') });
  assert.equal(r.backend, false);
  assert.match(r.reason ?? '', /not built .*apt-get install libdnnl-dev && npm run build:native/);
});

test('a broken addon gives null and a reason, not an exception', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wrn-native-'));
  try {
    const file = path.join(dir, 'wrn_native.node');
    writeFileSync(file, 'not a shared object');
    const r = load({ WRN_NATIVE_ADDON: file });
    assert.equal(r.backend, false);
    assert.match(r.reason ?? '', /failed to load/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker thread gets null and a reason while the main thread owns the addon', { skip: process.env.WRN_NATIVE_ADDON ? 'custom addon' : false }, () => {
  const code = `
    const { Worker } = require('node:worker_threads');
    import(${JSON.stringify(loader)}).then((m) => {
      const main = m.loadNativeBackend();
      if (!main.backend) { console.log(JSON.stringify({ skip: main.reason })); return; }
      const w = new Worker('import(' + JSON.stringify(${JSON.stringify(loader)}) + ').then((m) => { const r = m.loadNativeBackend(); require("node:worker_threads").parentPort.postMessage({ backend: r.backend !== null, reason: r.reason }); })', { eval: true });
      w.on('message', (msg) => { console.log(JSON.stringify(msg)); w.terminate(); });
    });`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim()) as { skip?: string; backend?: boolean; reason?: string };
  if (res.skip) return;
  assert.equal(res.backend, false);
  assert.match(res.reason ?? '', /one JavaScript thread/);
});

test('the install script succeeds without oneDNN and says how to get it', () => {
  const r = spawnSync(process.execPath, [path.resolve(root, 'scripts/build-native.mjs')], { env: { ...process.env, WRN_SKIP_NATIVE: '1' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'oneDNN not found: using the TypeScript backend; `sudo apt-get install libdnnl-dev && npm run build:native` for the fast one');
});

test('kernel names have one source: native/src/kernels.def, which the built addon exports exactly', async () => {
  const { checkExports, kernelNames, nativeAddonBuilt, nativeAddonPath } = await import('../../src/backend/native/addon.js');
  const names = kernelNames();
  assert.ok(names.includes('conv2d') && names.includes('sgdStep') && names.length >= 30, `parsed ${names.join(',')}`);
  assert.equal(new Set(names).size, names.length, 'a name listed twice');
  const fn = (): void => {};
  const full = Object.fromEntries(names.map((n) => [n, fn]));
  assert.equal(checkExports(full, names), null);
  const { conv2d: _dropped, ...lacking } = full;
  assert.match(checkExports({ ...lacking, setPrecision: fn }, names) ?? '', /lacks conv2d and has unknown setPrecision .*npm run build:native/);
  if (nativeAddonBuilt() && !process.env.WRN_NATIVE_ADDON) {
    const r = spawnSync(process.execPath, ['-p', `Object.keys(require(${JSON.stringify(nativeAddonPath())})).sort().join(',')`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), [...names].sort().join(','));
  }
});
