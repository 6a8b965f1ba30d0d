/**
 * `wrn export --onnx --int8`: the QDQ model of a quantized WRN, run by onnxruntime-node, against our int8
 * logits: argmax equal on >= 99% of a test batch, every logit within one quantization step (one step of
 * the largest activation scale in every pooled feature, through the head's BN scale and the classifier).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import { setBackend } from '../../src/core/engine.js';
import { Rng } from '../../src/core/random.js';
import { randnF32 as randn } from '../helpers/index.js';
import { ort } from '../helpers/ort.js';
import { randomizeStatistics } from './randomNet.js';
import { writeOnnx } from '../../src/io/onnx.js';
import { createModel } from '../../src/models/registry.js';
import { buildInt8Model, quantizeNetwork } from '../../src/quant/index.js';
import { buildQdqOnnx } from '../../src/quant/onnxQdq.js';
import { defaultWeightBits } from '../../src/quant/index.js';
import { argmaxRows } from '../../src/train/step.js';

const { backend: native, reason } = loadNativeBackend();
const skip = !native ? `native backend unavailable: ${reason}` : !ort ? 'onnxruntime-node is not installed' : false;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-qdq-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));


test('QDQ ONNX through onnxruntime-node matches our int8 logits (wrn-16-1, 128 images)', { skip }, async () => {
  setBackend(native!);
  const net = createModel('wrn-16-1', { classes: 10, inChannels: 3, seed: 4 });
  const r = new Rng(11);
  randomizeStatistics(net, r);
  const calib = Array.from({ length: 4 }, () => ({ x: randn(r, 16 * 3 * 32 * 32), labels: new Int32Array(16), shape: [16, 3, 32, 32] }));
  const w = await quantizeNetwork(net, 'test', () => calib, { method: 'percentile', weightBits: defaultWeightBits(), calibration: { data: 'random', split: 'train', seed: 0 } });
  const cfg = { arch: 'wrn-16-1', classes: 10, inChannels: 3, activation: 'relu' as const };
  const file = path.join(tmp, 'm.onnx');
  writeOnnx(file, buildQdqOnnx(w, cfg, 'test', { dynamicBatch: true, inputSize: 32 }));
  const ours = buildInt8Model(w, cfg, 'test');
  const n = 128;
  const x = randn(r, n * 3 * 32 * 32);
  const mine = ours.logits(x, [n, 3, 32, 32]);
  ours.dispose();
  const sess = await ort!.InferenceSession.create(file);
  const theirs = (await sess.run({ input: new ort!.Tensor('float32', x, [n, 3, 32, 32]) })).logits.data;

  const fcW = w.tensors.get('fc.weight')!.data as Float32Array;
  const headA = w.tensors.get('bn.scale')!.data as Float32Array;
  const sMax = Math.max(...Object.values(w.info.activationScales));
  let step = 0;
  for (let k = 0; k < 10; k++) {
    let s = 0;
    for (let c = 0; c < headA.length; c++) s += Math.abs(fcW[k * headA.length + c] * headA[c]);
    step = Math.max(step, s * sMax);
  }
  let worst = 0;
  let spread = 0;
  for (let i = 0; i < mine.length; i++) {
    worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
    spread = Math.max(spread, Math.abs(mine[i]));
  }
  const a = argmaxRows(mine, n, 10);
  const b = argmaxRows(theirs, n, 10);
  const agree = a.filter((v, i) => v === b[i]).length / n;
  assert.ok(agree >= 0.99, `argmax agreement ${agree}`);
  assert.ok(worst <= step, `max logit difference ${worst} > one quantization step ${step} (logits up to ${spread})`);
  assert.ok(step < 0.2 * spread, `the step bound ${step} is tight enough to mean something (logits up to ${spread})`);
  net.dispose();
});
