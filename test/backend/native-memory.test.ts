/**
 * 1000 training steps of a small WRN (wrn-10-1, batch 8, 16x16, dropout 0.3) on the native backend in a
 * child process: after warm-up the addon makes no new OS allocations, holds no more handles, and the
 * RSS stays flat. Native memory is freed by dispose(), not by the garbage collector.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import type { MemCheckResult } from '../../src/bench/memcheck.js';

const { backend, reason } = loadNativeBackend();
const skip = backend ? false : process.env.CI ? false : `native backend unavailable: ${reason}`;

test('native: 1000 training steps do not grow RSS, handles or OS allocations', { skip, timeout: 300_000 }, () => {
  assert.ok(backend, `CI is set but the native backend is unavailable: ${reason}`);
  const script = path.resolve(process.cwd(), 'dist/src/bench/memcheck.js');
  const r = spawnSync(process.execPath, ['--expose-gc', script, '1000', 'wrn-10-1', '8', '16', 'fp32'], {
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `memcheck failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as MemCheckResult;
  const rss = res.samples.map((s) => `${s.step}:${s.rss_mb.toFixed(1)}`).join(' ');
  assert.equal(res.native_live_objects_growth, 0, `live native handles grew by ${res.native_live_objects_growth}`);
  assert.equal(res.native_os_allocs_after_warmup, 0, `the allocator made ${res.native_os_allocs_after_warmup} OS allocations after warm-up`);
  assert.ok(res.rss_growth_mb < 8, `RSS grew ${res.rss_growth_mb.toFixed(1)} MiB after warm-up (${rss})`);
});

test('native: storages a caller never disposes are freed once garbage-collected (safety net)', { skip }, async () => {
  assert.ok(backend, `CI is set but the native backend is unavailable: ${reason}`);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const before = backend.memoryStats().liveObjects;
  (() => {
    for (let i = 0; i < 100; i++) backend.upload(new Float32Array(1000), [10, 100]);
  })();
  assert.equal(backend.memoryStats().liveObjects, before + 100);
  for (let i = 0; i < 10 && backend.memoryStats().liveObjects > before; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(backend.memoryStats().liveObjects, before, 'leaked storages were not finalized');
  // Disposed storages are freed at once and their finalizer is detached (no double free later).
  const s = backend.upload(new Float32Array(4), [4]);
  backend.dispose(s);
  assert.equal(backend.memoryStats().liveObjects, before);
  gc();
  await new Promise((r) => setImmediate(r));
  assert.equal(backend.memoryStats().liveObjects, before);
});
