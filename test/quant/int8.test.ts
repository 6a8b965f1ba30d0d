/**
 * The int8 inference path: one u8s8 convolution against an fp32 reference within the bound its scales
 * imply; a whole quantized WRN against its fp32 self; calibration determinism; the int8 file round trip;
 * `wrn quantize` / int8 loading on bad input (one line each).
 *
 * Without the addon the native parts are skipped with the reason, except under CI.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { int8Addon, type QConvDesc } from '../../src/backend/native/int8.js';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import { setBackend } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import { randnF32 as randn } from '../helpers/index.js';
import { randomizeStatistics } from './randomNet.js';
import { createModel } from '../../src/models/registry.js';
import type { Network } from '../../src/models/network.js';
import { ActivationStats, threshold } from '../../src/quant/calibration.js';
import { buildInt8Model, quantizeNetwork, readInt8Weights, sampleIndices, writeInt8Weights } from '../../src/quant/index.js';
import { quantizeWeights } from '../../src/quant/weights.js';
import { saveWeights } from '../../src/inference/weights.js';
import { argmaxRows } from '../../src/train/step.js';
import { predictLogits, type Batch } from '../../src/inference/predict.js';
import type { ModelMeta } from '../../src/inference/modelMeta.js';

const { backend: native, reason } = loadNativeBackend();
if (!native && process.env.CI) test('native backend loads (CI)', () => assert.fail(`native backend unavailable: ${reason}`));
const skip = native ? false : `native backend unavailable: ${reason}`;
const addon = native ? int8Addon() : null;
const bits = addon && !(addon instanceof Error) && addon.int8Info().vnni ? 8 : 7;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-int8-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const CLI = path.resolve('bin/wrn.js');


/** Direct fp32 convolution, NCHW / OIHW, for the reference. */
function conv(x: Float32Array, [n, c, h, w]: number[], wt: Float32Array, [o, , kh, kw]: number[], stride: number, pad: number, bias: Float32Array): { y: Float32Array; absIn: Float32Array; shape: number[] } {
  const oh = Math.floor((h + 2 * pad - kh) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - kw) / stride) + 1;
  const y = new Float32Array(n * o * oh * ow);
  const absIn = new Float32Array(y.length); // sum of |x| over each output's receptive field
  for (let b = 0; b < n; b++) for (let oc = 0; oc < o; oc++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    let s = 0;
    let a = 0;
    for (let ic = 0; ic < c; ic++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
      const hi = i * stride - pad + u;
      const wj = j * stride - pad + v;
      if (hi < 0 || hi >= h || wj < 0 || wj >= w) continue;
      const xv = x[((b * c + ic) * h + hi) * w + wj];
      s += xv * wt[((oc * c + ic) * kh + u) * kw + v];
      a += Math.abs(xv);
    }
    const k = ((b * o + oc) * oh + i) * ow + j;
    y[k] = s + bias[oc];
    absIn[k] = a;
  }
  return { y, absIn, shape: [n, o, oh, ow] };
}

describe('int8 convolution (oneDNN u8s8)', { skip }, () => {
  const cases = [
    { name: '3x3 stride 1', xs: [2, 16, 8, 8], ws: [32, 16, 3, 3], stride: 1, pad: 1 },
    { name: '3x3 stride 2', xs: [1, 32, 9, 9], ws: [16, 32, 3, 3], stride: 2, pad: 1 },
    { name: '1x1 shortcut stride 2', xs: [2, 24, 8, 8], ws: [48, 24, 1, 1], stride: 2, pad: 0 },
  ];
  for (const c of cases) {
    test(`${c.name}: f32 out within the weight-rounding bound, and equal to the dequantized reference`, () => {
      const a = addon as Exclude<typeof addon, Error | null>;
      const r = new Rng(7);
      const sIn = 0.02;
      // Saturated inputs (255) included: they are what overflows 16-bit pair sums without VNNI.
      const xq = Uint8Array.from({ length: c.xs.reduce((p, q) => p * q, 1) }, (_, i) => (i % 7 === 0 ? 255 : r.int(256)));
      const x = Float32Array.from(xq, (v) => v * sIn);
      const w = randn(r, c.ws.reduce((p, q) => p * q, 1), 0.1);
      const bias = randn(r, c.ws[0], 0.5);
      const q = quantizeWeights(w, c.ws[0], bits);
      const acc = Float32Array.from(q.scale, (s) => sIn * s);
      const desc: QConvDesc = {
        shape: c.ws as [number, number, number, number], weights: q.q, bias: Float32Array.from(bias, (b, o) => b / acc[o]), outputScales: acc,
        stride: c.stride, pad: c.pad, relu: false, u8Out: false, sum: false,
      };
      const got = a.int8Conv2d(xq, c.xs, desc);
      const ref = conv(x, c.xs, w, c.ws, c.stride, c.pad, bias);
      const deq = conv(x, c.xs, Float32Array.from(q.q, (v, i) => v * q.scale[Math.floor(i / (w.length / c.ws[0]))]), c.ws, c.stride, c.pad, bias);
      const per = ref.y.length / (c.xs[0] * c.ws[0]);
      let worst = 0;
      for (let i = 0; i < ref.y.length; i++) {
        const oc = Math.floor(i / per) % c.ws[0];
        const bound = ref.absIn[i] * q.scale[oc] / 2 + 1e-4 * (1 + Math.abs(ref.y[i]));
        const err = Math.abs(got[i] - ref.y[i]);
        worst = Math.max(worst, err / bound);
        assert.ok(err <= bound, `output ${i}: |${got[i]} - ${ref.y[i]}| = ${err} > bound ${bound}`);
        // Against the same arithmetic on the dequantized weights: only fp32 summation order differs.
        assert.ok(Math.abs(got[i] - deq.y[i]) <= 1e-4 * (1 + Math.abs(deq.y[i]) + ref.absIn[i] * q.scale[oc]), `output ${i}: ${got[i]} vs dequantized ${deq.y[i]}`);
      }
      assert.ok(worst > 0.01, 'the bound is not vacuous (some error is close to it)');
    });
  }

  test('u8 out with fused ReLU, and f32 out with the residual sum post-op', () => {
    const a = addon as Exclude<typeof addon, Error | null>;
    const r = new Rng(3);
    const xs = [1, 16, 6, 6];
    const ws = [16, 16, 3, 3];
    const sIn = 0.05;
    const sOut = 0.1;
    const xq = Uint8Array.from({ length: 576 }, () => r.int(256));
    const x = Float32Array.from(xq, (v) => v * sIn);
    const w = randn(r, 16 * 16 * 9, 0.05);
    const bias = randn(r, 16, 0.3);
    const q = quantizeWeights(w, 16, bits);
    const acc = Float32Array.from(q.scale, (s) => sIn * s);
    const deqW = Float32Array.from(q.q, (v, i) => v * q.scale[Math.floor(i / 144)]);
    const ref = conv(x, xs, deqW, ws, 1, 1, bias);
    const base = { shape: [16, 16, 3, 3] as const, weights: q.q, bias: Float32Array.from(bias, (b, o) => b / acc[o]), stride: 1, pad: 1 };
    const u8 = a.int8Conv2d(xq, xs, { ...base, outputScales: acc.map((v) => v / sOut), relu: true, u8Out: true, sum: false });
    for (let i = 0; i < u8.length; i++) {
      const want = Math.min(255, Math.max(0, ref.y[i] / sOut));
      assert.ok(Math.abs(u8[i] - want) <= 0.5 + 1e-3, `u8 output ${i}: ${u8[i]}, expected round(${want})`);
    }
    const init = randn(r, ref.y.length);
    const summed = a.int8Conv2d(xq, xs, { ...base, outputScales: acc, relu: false, u8Out: false, sum: true, init });
    for (let i = 0; i < summed.length; i++) assert.ok(Math.abs(summed[i] - (ref.y[i] + init[i])) <= 1e-4 * (1 + Math.abs(ref.y[i])), `sum output ${i}`);
  });
});

/** A random WRN with non-trivial BN statistics and head, so that int8 errors would show. */
function randomNet(arch: string, seed: number): Network {
  const net = createModel(arch, { classes: 10, inChannels: 3, seed });
  randomizeStatistics(net, new Rng(seed + 100));
  net.eval();
  return net;
}

function batches(seed: number, count: number, n = 16): Batch[] {
  const r = new Rng(seed);
  return Array.from({ length: count }, () => ({ x: randn(r, n * 3 * 32 * 32), labels: new Int32Array(n), shape: [n, 3, 32, 32] }));
}

const meta: ModelMeta = { arch: 'wrn-10-2', classes: 10, inChannels: 3, inputSize: 32, mean: [0, 0, 0], std: [1, 1, 1], labels: [...'0123456789'], activation: 'relu', dropout: 0 };

describe('quantized network', { skip }, () => {
  test('wrn-10-2 int8 logits track fp32 (argmax >= 90% on random data, logits within 10% of their range), file round-trips', async () => {
    setBackend(native!);
    const net = randomNet('wrn-10-2', 5);
    const calib = batches(1, 4);
    const w = await quantizeNetwork(net, 'test', () => calib, { method: 'minmax', weightBits: bits, calibration: { data: 'random', split: 'train', seed: 0 } });
    const m = buildInt8Model(w, meta, 'test');
    const [test] = batches(99, 1, 64);
    const ref = predictLogits(net, test.x, test.shape);
    const got = m.logits(test.x, test.shape);
    let range = 0;
    let err = 0;
    for (let i = 0; i < ref.length; i++) {
      range = Math.max(range, Math.abs(ref[i]));
      err = Math.max(err, Math.abs(got[i] - ref[i]));
    }
    const a = argmaxRows(ref, 64, 10);
    const b = argmaxRows(got, 64, 10);
    const agree = a.filter((v, i) => v === b[i]).length / 64;
    assert.ok(err <= 0.1 * range, `max logit error ${err} vs range ${range}`);
    assert.ok(agree >= 0.9, `argmax agreement ${agree}`);

    const file = path.join(tmp, 'rt-int8.safetensors');
    writeInt8Weights(file, w, meta);
    const back = readInt8Weights(file);
    assert.deepEqual(back.weights.info, w.info);
    assert.deepEqual([...back.weights.tensors.keys()].sort(), [...w.tensors.keys()].sort());
    for (const [k, t] of w.tensors) {
      const u = back.weights.tensors.get(k)!;
      assert.deepEqual(u.shape, t.shape, k);
      assert.equal(u.data.constructor, t.data.constructor, k);
      assert.deepEqual(Array.from(u.data), Array.from(t.data), k);
    }
    const m2 = buildInt8Model(back.weights, meta, file);
    assert.deepEqual(Array.from(m2.logits(test.x, test.shape)), Array.from(got), 'the reloaded file gives the same logits');
    m.dispose();
    m2.dispose();
    net.dispose();
  });

  test('calibration is deterministic for a seed (sample and scales), for every method', async () => {
    setBackend(native!);
    assert.deepEqual(Array.from(sampleIndices(1000, 50, 3)), Array.from(sampleIndices(1000, 50, 3)));
    assert.notDeepEqual(Array.from(sampleIndices(1000, 50, 3)), Array.from(sampleIndices(1000, 50, 4)));
    assert.equal(new Set(sampleIndices(1000, 1000, 3)).size, 1000);
    const net = randomNet('wrn-10-1', 2);
    for (const method of ['minmax', 'percentile', 'entropy'] as const) {
      const o = { method, weightBits: bits, calibration: { data: 'random', split: 'train', seed: 0 } } as const;
      const a = await quantizeNetwork(net, 'test', () => batches(1, 2), o);
      const b = await quantizeNetwork(net, 'test', () => batches(1, 2), o);
      assert.deepEqual(a.info.activationScales, b.info.activationScales, method);
      for (const s of Object.values(a.info.activationScales)) assert.ok(s > 0 && Number.isFinite(s), `${method}: scale ${s}`);
    }
    net.dispose();
  });
});

describe('CPUs without VNNI', { skip }, () => {
  test('ONEDNN_MAX_CPU_ISA=AVX512_CORE: int8 still runs, in int8, with 7-bit weights (never silently fp32)', () => {
    const out = execFileSync(process.execPath, [CLI, 'bench', '--arch', 'wrn-10-1', '--mode', 'infer', '--precision', 'int8', '--batch', '2', '--steps', '1', '--warmup', '0', '--json'],
      { encoding: 'utf8', env: { ...process.env, ONEDNN_MAX_CPU_ISA: 'AVX512_CORE' } });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { backend: string; precision: string };
    assert.equal(r.precision, 'int8');
    assert.match(r.backend, /^int8 \(oneDNN u8s8 convolutions, 7-bit weights, ISA (avx512_core|avx2|avx|sse41)\)$/);
  });

  test('8-bit weights are narrowed to 7 bits at load where there is no VNNI, and say so', async () => {
    setBackend(native!);
    const net = randomNet('wrn-10-1', 3);
    const w = await quantizeNetwork(net, 'test', () => batches(1, 1), { method: 'minmax', weightBits: 8, calibration: { data: 'random', split: 'train', seed: 0 } });
    const m = buildInt8Model(w, { ...meta, arch: 'wrn-10-1' }, 'test');
    if (bits === 7) {
      assert.equal(m.weightBits, 7);
      assert.match(m.notice ?? '', /no VNNI.*7 bits/);
    } else {
      assert.equal(m.weightBits, 8);
      assert.equal(m.notice, null);
    }
    m.dispose();
    net.dispose();
  });
});

test('percentile and entropy thresholds clip outliers; minmax keeps the maximum', () => {
  const s = new ActivationStats();
  const r = new Rng(1);
  const v = Float32Array.from({ length: 100000 }, () => Math.abs(r.normal()));
  v[0] = 50; // one outlier
  s.observeMax(v);
  s.observeHistogram(v);
  assert.equal(threshold(s, 'minmax'), 50);
  const p = threshold(s, 'percentile', 99.9);
  const e = threshold(s, 'entropy');
  assert.ok(p > 2.5 && p < 5, `percentile 99.9 of |N(0,1)|: ${p}`);
  assert.ok(e > 2 && e < 20, `entropy threshold ${e}`);
});

describe('wrn quantize and int8 loading on bad input', { skip }, () => {
  const run = (args: string[]): { code: number; err: string } => {
    try {
      execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return { code: 0, err: '' };
    } catch (e) {
      const x = e as { status: number; stderr: string };
      return { code: x.status, err: x.stderr };
    }
  };
  const oneLine = (r: { code: number; err: string }, re: RegExp): void => {
    assert.notEqual(r.code, 0);
    const lines = r.err.trim().split('\n').filter((l) => !l.startsWith('backend:'));
    assert.equal(lines.length, 1, `one line expected, got:\n${r.err}`);
    assert.match(lines[0], re);
  };

  test('no calibration data, an empty calibration folder, a non-WRN file, a js backend', async () => {
    setBackend(native!);
    const fp32 = path.join(tmp, 'w.safetensors');
    const net = randomNet('wrn-10-1', 1);
    saveWeights(fp32, net, { ...meta, arch: 'wrn-10-1' });
    oneLine(run(['quantize', '--weights', fp32, '--out', path.join(tmp, 'q.safetensors')]), /--calib is required/);
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    oneLine(run(['quantize', '--weights', fp32, '--calib', empty, '--out', path.join(tmp, 'q.safetensors')]), new RegExp(path.basename(empty)));
    const notWrn = path.join(tmp, 'notwrn.safetensors');
    fs.writeFileSync(notWrn, Buffer.from('not a safetensors file at all'));
    oneLine(run(['quantize', '--weights', notWrn, '--calib', 'fashion-mnist', '--out', path.join(tmp, 'q.safetensors')]), /notwrn\.safetensors/);
    // An int8 file refuses the js backend in one line.
    const w = await quantizeNetwork(net, 'test', () => batches(1, 1), { method: 'minmax', weightBits: bits, calibration: { data: 'random', split: 'train', seed: 0 } });
    const q = path.join(tmp, 'q8.safetensors');
    writeInt8Weights(q, w, { ...meta, arch: 'wrn-10-1' });
    const input = path.join(tmp, 'in.safetensors');
    const { writeSafetensors } = await import('../../src/io/safetensors.js');
    writeSafetensors(input, new Map([['input', { shape: [2, 3, 32, 32], data: randn(new Rng(1), 2 * 3 * 32 * 32) }]]));
    oneLine(run(['predict', '--weights', q, '--backend', 'js', input]), /int8 weights run on the oneDNN \(native\) backend only/);
    assert.equal(run(['predict', '--weights', q, '--backend', 'native', input]).code, 0);
    net.dispose();
  });
});
