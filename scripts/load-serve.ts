/**
 * Load test of `wrn serve` (a script, not a test; loopback only, bounded): autocannon against
 * /classify (multipart JPEG) and /v2/models/NAME/infer (FP32 JSON) with 1, 8 and 32 connections,
 * req/s, p50/p99 latency, errors, server RSS before/after; then the same 32 connections against a
 * server with --max-batch 1 (what dynamic batching gains); then the same model through
 * onnxruntime-node in-process, batch 1 and batch 32, as the reference. Writes load.json and load.md.
 *
 *   node dist/scripts/load-serve.js [--arch wrn-16-4] [--duration 20] [--connections 1,8,32] [--out docs/results/serve]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { JsBackend } from '../src/backend/js/index.js';
import { withBackend } from '../src/core/engine.js';
import { buildOnnx } from '../src/io/onnx.js';
import { saveWeights } from '../src/inference/weights.js';
import type { ModelMeta } from '../src/inference/modelMeta.js';
import { createModel } from '../src/models/registry.js';

const args = new Map<string, string>();
for (let i = 2; i + 1 < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const arch = args.get('arch') ?? 'wrn-16-4';
const duration = Number(args.get('duration') ?? 20);
const connections = (args.get('connections') ?? '1,8,32').split(',').map(Number);
const out = path.resolve(args.get('out') ?? 'docs/results/serve');
const BIN = path.resolve('bin/wrn.js');
const LABELS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const tmp = mkdtempSync(path.join(os.tmpdir(), 'wrn-load-'));
const weights = path.join(tmp, 'model.safetensors');
const meta: ModelMeta = { arch, classes: 10, inChannels: 3, inputSize: 32, mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26], labels: LABELS, activation: 'relu', dropout: 0 };
// Random weights: speed does not depend on them. The reference backend holds them for saving/export.
const onnx = withBackend(new JsBackend(), () => {
  const m = createModel(arch, { classes: 10, inChannels: 3, seed: 1 });
  saveWeights(weights, m, meta);
  const bytes = buildOnnx(m, { dynamicBatch: true, inputSize: 32 });
  m.dispose();
  return bytes;
});

interface Server { url: string; proc: ChildProcess; stop(): Promise<void> }

function serve(extra: string[]): Promise<Server> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--weights', weights, '--name', 'model', '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`wrn serve exited (${code}): ${text}`)));
    proc.stdout!.on('data', (b: Buffer) => {
      text += b.toString();
      const url = /listening on (\S+)/.exec(text)?.[1];
      if (url && text.includes('ready: ')) {
        resolve({ url, proc, stop: () => new Promise((r) => { proc.removeAllListeners('exit'); proc.on('exit', () => r()); proc.kill('SIGTERM'); }) });
      }
    });
  });
}

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

// A 256x192 JPEG photo-like image for /classify, a normalised random tensor for /v2 infer.
const jpeg = await sharp({ create: { width: 256, height: 192, channels: 3, background: '#5080b0' } })
  .composite([{ input: Buffer.from('<svg width="256" height="192"><circle cx="128" cy="96" r="60" fill="#d04020"/></svg>') }])
  .jpeg({ quality: 90 }).toBuffer();
const boundary = 'wrnloadboundary';
const multipart = Buffer.concat([
  Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
  jpeg, Buffer.from(`\r\n--${boundary}--\r\n`),
]);
let seed = 7;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const inferJson = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32], data: Array.from({ length: 3072 }, () => Number(rand().toFixed(4))) }] });

const routes = {
  '/classify': { path: '/classify', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipart },
  '/v2 infer': { path: '/v2/models/model/infer', headers: { 'content-type': 'application/json' }, body: Buffer.from(inferJson) },
} as const;

interface Row { server: string; route: string; connections: number; reqPerS: number; p50: number; p99: number; errors: number; non2xx: number; requests: number; rssBeforeMiB: number; rssAfterMiB: number }

async function hammer(s: Server, label: string, route: keyof typeof routes, c: number): Promise<Row> {
  const r = routes[route];
  const before = rssMiB(s.proc.pid!);
  const res = await autocannon({ url: s.url + r.path, method: 'POST', headers: r.headers, body: r.body, connections: c, duration, timeout: 30 });
  const row: Row = {
    server: label, route, connections: c, reqPerS: res.requests.average, p50: res.latency.p50, p99: res.latency.p99,
    errors: res.errors + res.timeouts, non2xx: res.non2xx, requests: res.requests.total, rssBeforeMiB: before, rssAfterMiB: rssMiB(s.proc.pid!),
  };
  console.log(JSON.stringify(row));
  return row;
}

const started = new Date().toISOString();
const load = [os.loadavg()[0]];
const rows: Row[] = [];
const batched = await serve(['--max-batch', '32', '--batch-window-ms', '5']);
for (const route of Object.keys(routes) as (keyof typeof routes)[]) {
  for (const c of connections) rows.push(await hammer(batched, 'max-batch 32', route, c));
}
await batched.stop();
load.push(os.loadavg()[0]);
const single = await serve(['--max-batch', '1']);
const cmax = Math.max(...connections);
for (const route of Object.keys(routes) as (keyof typeof routes)[]) rows.push(await hammer(single, 'max-batch 1', route, cmax));
await single.stop();
load.push(os.loadavg()[0]);

// onnxruntime-node in-process, the same model: sequential batch 1, and batch 32.
const ort = await import('onnxruntime-node');
const session = await ort.InferenceSession.create(Buffer.from(onnx), { intraOpNumThreads: os.availableParallelism(), graphOptimizationLevel: 'all' });
const reference: { batch: number; imgPerS: number; p50: number; p99: number }[] = [];
for (const batch of [1, 32]) {
  const x = new ort.Tensor('float32', Float32Array.from({ length: batch * 3072 }, rand), [batch, 3, 32, 32]);
  for (let i = 0; i < 5; i++) await session.run({ input: x });
  const times: number[] = [];
  const end = performance.now() + (duration * 1000) / 2;
  while (performance.now() < end) {
    const t = performance.now();
    await session.run({ input: x });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  reference.push({ batch, imgPerS: (batch * times.length * 1000) / total, p50: times[Math.floor(times.length * 0.5)], p99: times[Math.floor(times.length * 0.99)] });
  console.log(JSON.stringify(reference[reference.length - 1]));
}
load.push(os.loadavg()[0]);
rmSync(tmp, { recursive: true, force: true });

mkdirSync(out, { recursive: true });
const info = { started, arch, duration, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg1: load, node: process.version };
writeFileSync(path.join(out, 'load.json'), `${JSON.stringify({ info, rows, reference }, null, 2)}\n`);
const md = [
  `# wrn serve load test (${arch}, 3x32x32, random weights)`,
  '',
  `${started}; ${info.cpus} CPUs (${info.cpu}); ${duration} s per row; 1-minute load average at the start, after the batched server, after the unbatched one, at the end: ${load.map((l) => l.toFixed(1)).join(', ')}.`,
  'Command: `node dist/scripts/load-serve.js' + (process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : '') + '`',
  '',
  '| server | route | connections | req/s | p50 ms | p99 ms | errors | non-2xx | RSS MiB before → after |',
  '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.server} | ${r.route} | ${r.connections} | ${r.reqPerS.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} | ${r.rssBeforeMiB.toFixed(0)} → ${r.rssAfterMiB.toFixed(0)} |`),
  '',
  '| onnxruntime-node in-process | img/s | p50 ms per run | p99 ms per run |',
  '|---|---:|---:|---:|',
  ...reference.map((r) => `| batch ${r.batch} | ${r.imgPerS.toFixed(1)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`),
  '',
].join('\n');
writeFileSync(path.join(out, 'load.md'), md);
console.log(md);
