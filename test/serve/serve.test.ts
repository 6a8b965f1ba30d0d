/**
 * `wrn serve` end to end on 127.0.0.1 with a random port: every endpoint, the fixture's logits through
 * /v2 infer, bad input and overload, dynamic batching under 200 concurrent requests, health during a
 * forward pass, and SIGTERM draining.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { readSafetensors } from '../../src/io/safetensors.js';
import { relError } from '../helpers/index.js';
import { CIFAR10, serve, writeTinyModel, type Served } from './helpers.js';

const FIX = path.resolve(process.cwd(), '../shared/fixtures');
const WEIGHTS = path.join(FIX, 'wrn-10-2.safetensors');
const present = existsSync(WEIGHTS);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'wrn-serve-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const SLOW = path.join(tmp, 'slow.safetensors');
const SLOW_ROW = 3 * 32 * 32;

interface Tensor { name: string; datatype: string; shape: number[]; data: (number | string)[] }

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

const post = (url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> =>
  json(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

function inferBody(x: ArrayLike<number>, shape: number[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { inputs: [{ name: 'input', datatype: 'FP32', shape, data: Array.from(x) }], ...extra };
}

async function png(w: number, h: number, colour: string): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: colour } }).png().toBuffer();
}

function classify(url: string, image: Buffer, query = ''): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'x.png');
  return json(`${url}/classify${query}`, { method: 'POST', body: form });
}

describe('wrn serve', { skip: present ? false : `fixtures not found in ${FIX}` }, () => {
  let main: Served;
  let slow: Served;
  let io: Map<string, { shape: number[]; data: ArrayLike<number> }>;

  before(async () => {
    io = readSafetensors(path.join(FIX, 'wrn-10-2.io.safetensors')).tensors as unknown as Map<string, { shape: number[]; data: ArrayLike<number> }>;
    // main: the default backend, generous queue. slow: a WRN-10-1 on 32x32 inputs on the TypeScript
    // backend (forward passes of a few hundred ms at batch 8 even on a quiet machine: 16x16 finished
    // before the queue had filled), a queue of 8 and a 1 MB body cap, for
    // overload, health during a forward pass and SIGTERM.
    writeTinyModel(SLOW, { channels: 3, size: 32, labels: CIFAR10, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], seed: 3 });
    [main, slow] = await Promise.all([
      serve(['--weights', WEIGHTS, '--name', 'fixture', '--max-batch', '8', '--batch-window-ms', '10']),
      serve(['--weights', SLOW, '--name', 'slow', '--backend', 'js', '--max-batch', '8', '--max-queue', '8', '--max-body-mb', '1', '--batch-window-ms', '0']),
    ]);
  });
  after(async () => {
    await main?.stop();
    await slow?.stop();
  });

  test('health, server and model metadata, unknown model and route', async () => {
    assert.deepEqual((await json(`${main.url}/v2/health/live`)).body, { live: true });
    assert.deepEqual((await json(`${main.url}/v2/health/ready`)).body, { ready: true });
    assert.equal((await json(`${main.url}/v2/models/fixture/ready`)).status, 200);
    const server = await json(`${main.url}/v2`);
    assert.deepEqual(server.body.extensions, ['classification']);
    const meta = await json(`${main.url}/v2/models/fixture`);
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.body.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 32, 32] }]);
    assert.deepEqual(meta.body.outputs, [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }]);
    const params = meta.body.parameters as { labels: string[]; max_batch_size: number; arch: string };
    assert.equal(params.labels.length, 10);
    assert.equal(params.max_batch_size, 8);
    assert.equal(params.arch, 'wrn-10-2');
    const unknown = await json(`${main.url}/v2/models/resnet/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.error), /model 'resnet' not found; this server serves 'fixture'/);
    const none = await json(`${main.url}/nothing`);
    assert.equal(none.status, 404);
    assert.match(String(none.body.error), /no route GET \/nothing/);
  });

  test('/v2 infer reproduces the PyTorch fixture logits (1e-4), alone or batched, and classifies Triton-style', async () => {
    const x = io.get('input')!;
    const want = io.get('logits_eval')!.data;
    const r = await post(`${main.url}/v2/models/fixture/infer`, inferBody(x.data, x.shape, { id: 'req-1' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.id, 'req-1');
    assert.equal(r.body.model_name, 'fixture');
    const out = (r.body.outputs as Tensor[])[0];
    assert.deepEqual([out.name, out.datatype, out.shape], ['logits', 'FP32', [4, 10]]);
    assert.ok(relError(out.data as number[], want) < 1e-4, `relative error ${relError(out.data as number[], want)}`);

    // The same rows one request each, all at once: whichever batch each lands in, the logits agree.
    const per = 3 * 32 * 32;
    const rows = await Promise.all([0, 1, 2, 3].map((i) => post(`${main.url}/v2/models/fixture/infer`,
      inferBody(Array.from(x.data).slice(i * per, (i + 1) * per), [1, 3, 32, 32]))));
    const alone = rows.flatMap((q) => (q.body.outputs as Tensor[])[0].data as number[]);
    assert.ok(relError(alone, out.data as number[]) < 1e-5, `batched vs alone ${relError(alone, out.data as number[])}`);

    // Nested data is accepted too; classification: k strings "score:index:label" per row, best first.
    const nested: number[][][][] = [];
    for (let c = 0; c < 3; c++) {
      nested.push([]);
      for (let h = 0; h < 32; h++) nested[c].push(Array.from(x.data).slice(c * 1024 + h * 32, c * 1024 + h * 32 + 32) as unknown as number[][]);
    }
    const cls = await post(`${main.url}/v2/models/fixture/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32], data: [nested] }],
      outputs: [{ name: 'logits', parameters: { classification: 3 } }],
    });
    assert.equal(cls.status, 200, JSON.stringify(cls.body));
    const c0 = (cls.body.outputs as Tensor[])[0];
    assert.deepEqual([c0.datatype, c0.shape], ['BYTES', [1, 3]]);
    const row0 = Array.from(want).slice(0, 10);
    const best = row0.indexOf(Math.max(...row0));
    const [score, index, label] = String(c0.data[0]).split(':');
    assert.equal(Number(index), best);
    assert.equal(label, String(best));
    assert.ok(Math.abs(Number(score) - row0[best]) < 1e-4);
  });

  test('bad tensors: 400 naming the field and what was expected', async () => {
    const u = `${main.url}/v2/models/fixture/infer`;
    const ok = { name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32], data: new Array(3072).fill(0) };
    const cases: [unknown, RegExp][] = [
      [{ inputs: [{ ...ok, datatype: 'INT8' }] }, /"inputs\[0\]\.datatype" is "INT8", expected "FP32"/],
      [{ inputs: [{ ...ok, shape: [1, 3, 28, 28] }] }, /"inputs\[0\]\.shape" is \[1,3,28,28\], expected \[N,3,32,32\] with N in 1\.\.8/],
      [{ inputs: [{ ...ok, shape: [9, 3, 32, 32] }] }, /expected \[N,3,32,32\] with N in 1\.\.8/],
      [{ inputs: [{ ...ok, data: new Array(100).fill(0) }] }, /holds 100 numbers, expected 3072 finite numbers/],
      [{ inputs: [{ ...ok, data: [...new Array(3071).fill(0), 'x'] }] }, /something other than numbers/],
      [{ inputs: [{ ...ok, name: 'x' }] }, /"inputs\[0\]\.name" is "x", expected "input"/],
      [{ inputs: [] }, /"inputs": expected an array of exactly one tensor/],
      [{ inputs: [ok], outputs: [{ name: 'logits', parameters: { classification: 11 } }] }, /classification" is 11, expected an integer in 1\.\.10/],
      [{ inputs: [ok], outputs: [{ name: 'probs' }] }, /"outputs\[0\]\.name": expected "logits"/],
      ['{"inputs": [', /JSON/i],
    ];
    for (const [body, msg] of cases) {
      const r = await post(u, body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)} -> ${r.status}`);
      assert.match(String(r.body.error), msg);
    }
  });

  test('/classify: top-k, and bad uploads get 400/415', async () => {
    const r = await classify(main.url, await png(64, 48, '#3080c0'), '?top=3');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const preds = r.body.predictions as { label: string; index: number; probability: number }[];
    assert.equal(preds.length, 3);
    assert.ok(preds[0].probability >= preds[1].probability && preds[1].probability >= preds[2].probability);
    // A raw image/* body works as well as a multipart form.
    const raw = await json(`${main.url}/classify`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(await png(10, 10, "#ffffff")) });
    assert.equal(raw.status, 200);
    assert.equal((raw.body.predictions as unknown[]).length, 5);

    const bad = await classify(main.url, Buffer.from('this is not an image'));
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /image: unreadable image .*expected a PNG, JPEG or WebP image/);
    const top = await classify(main.url, await png(8, 8, '#000000'), '?top=0');
    assert.equal(top.status, 400);
    assert.match(String(top.body.error), /\?top=0: expected an integer in 1\.\.10/);
    const type = await post(`${main.url}/classify`, { image: 'x' });
    assert.equal(type.status, 415);
    assert.match(String(type.body.error), /expected multipart\/form-data with one image file, or an image\/\* body/);
  });

  test('200 concurrent /classify requests all succeed, and some forward passes batch several', async () => {
    const images = await Promise.all([0, 1, 2, 3].map((i) => png(40 + i, 30, ['#ff0000', '#00ff00', '#0000ff', '#808080'][i])));
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => classify(main.url, images[i % 4])));
    assert.deepEqual(rs.filter((r) => r.status !== 200).map((r) => r.body), []);
    // Same image, same answer, whatever batch it was in.
    type P = { label: string; probability: number }[];
    for (let i = 4; i < 200; i++) {
      const [a, b] = [rs[i].body.predictions as P, rs[i % 4].body.predictions as P];
      assert.deepEqual(a.map((p) => p.label), b.map((p) => p.label));
      for (let k = 0; k < a.length; k++) assert.ok(Math.abs(a[k].probability - b[k].probability) < 1e-6, `request ${i}: ${a[k].probability} vs ${b[k].probability}`);
    }
    const metrics = await (await fetch(`${main.url}/metrics`)).text();
    const count = Number(/wrn_batch_size_count (\d+)/.exec(metrics)?.[1]);
    const single = Number(/wrn_batch_size_bucket\{le="1"\} (\d+)/.exec(metrics)?.[1]);
    assert.ok(count > 0 && single < count, `batches: ${count}, of one image: ${single}`);
    assert.match(metrics, /wrn_http_requests_total\{method="POST",route="\/classify",status="200"\} \d+/);
    assert.match(metrics, /wrn_http_request_duration_seconds_bucket\{le="0\.1",route="\/classify"\}/);
    assert.match(metrics, /wrn_queue_depth 0/);
  });

  test('body over the cap: 413; queue full: 503 with Retry-After; health answers within 100 ms during a forward pass', async () => {
    const big = await post(`${slow.url}/v2/models/slow/infer`, 'x'.repeat(1.5 * 2 ** 20));
    assert.equal(big.status, 413);
    assert.match(String(big.body.error), /request body larger than the 1048576 bytes accepted/);
    const bigFile = await classify(slow.url, Buffer.alloc(1.5 * 2 ** 20, 7));
    assert.equal(bigFile.status, 413);
    assert.match(String(bigFile.body.error), /request body larger than the 1048576 bytes accepted/);

    const u = `${slow.url}/v2/models/slow/infer`;
    const eight = inferBody(new Float32Array(8 * SLOW_ROW), [8, 3, 32, 32]);
    const t0 = performance.now();
    const running = post(u, eight);
    let done = false;
    void running.then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 30));
    // While that batch runs, the next 8 rows fill the queue and a 9th is refused.
    const queued = post(u, eight);
    await new Promise((r) => setTimeout(r, 30));
    const refused = await post(u, inferBody(new Float32Array(SLOW_ROW), [1, 3, 32, 32]));
    // Health three times while the batch runs. Were the forward pass on the event loop, every one
    // would wait for it; the best of three keeps the measurement about that, not about how busy this
    // shared machine's scheduler is.
    const healthMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const h0 = performance.now();
      const live = await json(`${slow.url}/v2/health/live`);
      assert.equal(live.status, 200);
      healthMs.push(performance.now() - h0);
    }
    const stillRunning = !done;
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.match(String(refused.body.error), /the queue is full \(8 of 8 images waiting\)/);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.ok(stillRunning, `the forward pass had finished (${(performance.now() - t0).toFixed(0)} ms) before health was asked`);
    assert.ok(Math.min(...healthMs) < 100, `health took ${healthMs.map((m) => m.toFixed(1)).join(', ')} ms during a forward pass`);
    assert.equal((await running).status, 200);
    assert.equal((await queued).status, 200);
  });

  test('SIGTERM while requests are queued and running: none is lost, exit code 0', async () => {
    const x = new Float32Array(SLOW_ROW);
    const inflight = Array.from({ length: 6 }, () => post(`${slow.url}/v2/models/slow/infer`, inferBody(x, [1, 3, 32, 32])));
    await new Promise((r) => setTimeout(r, 100));
    const code = slow.stop();
    const rs = await Promise.all(inflight);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    assert.equal(await code, 0);
    assert.match(slow.out(), /SIGTERM: draining in-flight requests[\s\S]*stopped/);
  });
});

