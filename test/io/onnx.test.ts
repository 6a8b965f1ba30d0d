import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pythonHas, skipWithout } from '../shared/reference.js';
import { ort, type Ort, type OrtTensor } from '../helpers/ort.js';
import { JsBackend } from '../../src/backend/js/index.js';
import { noGrad, setBackend, tidy } from '../../src/core/engine.js';
import { Tensor } from '../../src/core/tensor.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { buildOnnx, decodeOnnx, exportOnnx, OnnxExportError } from '../../src/io/onnx.js';
import { createModel, TorchvisionResNet } from '../../src/models/index.js';
import { Rng } from '../../src/core/random.js';
import type { Network } from '../../src/models/network.js';

const SHARED = path.resolve(process.cwd(), '../shared/fixtures');
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-onnx-'));
process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));

const havePyOnnx = pythonHas('onnx');

function forward(model: Network, x: Float32Array, shape: number[]): Float32Array {
  model.eval();
  return noGrad(() => tidy(() => model.forward(Tensor.fromArray(x, shape)).toArray()));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function ortRun(file: string, x: Float32Array, shape: number[]): Promise<OrtTensor> {
  const sess = await (ort as Ort).InferenceSession.create(file);
  const out = await sess.run({ input: new (ort as Ort).Tensor('float32', x, shape) });
  return out.logits;
}

function randomInput(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

/** Randomises BN statistics so that eval mode is not trivial. */
function perturbBn(model: Network, seed: number): void {
  let s = seed;
  const r = (): number => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  for (const [k, t] of model.stateDict()) {
    if (k.endsWith('running_var')) t.assign(Float32Array.from({ length: t.size }, () => 0.5 + r()));
    else if (k.endsWith('running_mean') || k.endsWith('bias')) t.assign(Float32Array.from({ length: t.size }, () => r() * 0.4 - 0.2));
  }
}

describe('onnx export', () => {
  before(() => setBackend(new JsBackend()));

  test('structure: opset, IR, metadata, dynamic batch, initializers named as the state dict', () => {
    const model = createModel('wrn-10-2', { classes: 10 });
    const bytes = buildOnnx(model, { inputSize: 32, dynamicBatch: true, metadata: { arch: 'wrn-10-2', labels: '["a"]' } });
    const m = decodeOnnx(bytes) as {
      ir_version: number; opset_import: { version: number }[]; metadata_props: { key: string; value: string }[];
      graph: { node: { op_type: string }[]; initializer: { name: string; dims: number[] }[]; input: { type: { tensor_type: { shape: { dim: { dim_param?: string; dim_value?: number }[] } } } }[] };
    };
    assert.equal(m.ir_version, 8);
    assert.equal(m.opset_import[0].version, 17);
    assert.deepEqual(m.metadata_props, [{ key: 'arch', value: 'wrn-10-2' }, { key: 'labels', value: '["a"]' }]);
    assert.deepEqual(m.graph.input[0].type.tensor_type.shape.dim, [{ dim_param: 'batch' }, { dim_value: 3 }, { dim_value: 32 }, { dim_value: 32 }]);
    const inits = new Map(m.graph.initializer.map((t) => [t.name, t.dims]));
    for (const [k, t] of model.stateDict()) assert.deepEqual(inits.get(k), [...t.shape], k);
    const ops = new Set(m.graph.node.map((n) => n.op_type));
    assert.deepEqual([...ops].sort(), ['Add', 'BatchNormalization', 'Conv', 'Flatten', 'Gemm', 'GlobalAveragePool', 'Identity', 'Relu']);
    assert.throws(() => buildOnnx(model, { inputSize: 32, opset: 9 }), OnnxExportError);
  });

  test('golden WRN-10-2: onnxruntime logits == our forward == PyTorch', { skip: skipWithout(ort !== null, 'onnxruntime-node not installed') }, async () => {
    const w = readSafetensors(path.join(SHARED, 'wrn-10-2.safetensors'));
    const io = readSafetensors(path.join(SHARED, 'wrn-10-2.io.safetensors')).tensors;
    const model = createModel('wrn-10-2', { classes: 10 });
    model.loadStateDict(new Map([...w.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }])));
    const input = io.get('input');
    assert.ok(input);
    const x = input.data as Float32Array;
    const ours = forward(model, x, [...input.shape]);
    const file = path.join(tmpDir, 'wrn-10-2.onnx');
    exportOnnx(model, file, { inputSize: 32, dynamicBatch: true });
    const got = await ortRun(file, x, [...input.shape]);
    assert.deepEqual([...got.dims], [4, 10]);
    assert.ok(maxAbsDiff(got.data, ours) <= 1e-4, `ort vs ours ${maxAbsDiff(got.data, ours)}`);
    assert.ok(maxAbsDiff(got.data, io.get('logits_eval')?.data as Float32Array) <= 1e-4);
    // fixed batch 1
    const one = path.join(tmpDir, 'wrn-10-2-b1.onnx');
    exportOnnx(model, one, { inputSize: 32 });
    const r1 = await ortRun(one, x.subarray(0, 3 * 32 * 32), [1, 3, 32, 32]);
    assert.ok(maxAbsDiff(r1.data, ours.subarray(0, 10)) <= 1e-4);
  });

  for (const [arch, act, opts, size] of [
    ['wrn-16-1-b313', 'silu', { classes: 7, inChannels: 1, dropout: 0.3 }, 28],
    ['wrn-10-1', 'gelu', { classes: 5, inChannels: 2 }, 16],
    ['preact-resnet-20', 'relu', { classes: 4 }, 16],
  ] as const) {
    test(`${arch} (${act}, opset 13 and 17) matches under onnxruntime`, { skip: skipWithout(ort !== null, 'onnxruntime-node not installed') }, async () => {
      const model = createModel(arch, { ...opts, activation: act, seed: 5 });
      perturbBn(model, 7);
      const shape = [2, opts.inChannels ?? 3, size, size];
      const x = randomInput(shape.reduce((a, b) => a * b), 11);
      const ours = forward(model, x, shape);
      for (const opset of [13, 17]) {
        const file = path.join(tmpDir, `${arch}-${opset}.onnx`);
        exportOnnx(model, file, { inputSize: size, dynamicBatch: true, opset });
        const got = await ortRun(file, x, shape);
        assert.ok(maxAbsDiff(got.data, ours) <= 1e-4, `${arch} opset ${opset}: ${maxAbsDiff(got.data, ours)}`);
      }
    });
  }

  test('torchvision-style ResNet (MaxPool, Bottleneck, downsample) matches under onnxruntime', { skip: skipWithout(ort !== null, 'onnxruntime-node not installed') }, async () => {
    // torchvision's Bottleneck ResNet with one block per stage and narrow bottlenecks (resnet50 itself is slow on the JS backend)
    const model = new TorchvisionResNet({ arch: 'wide-resnet-tiny', layers: [1, 1, 1, 1], widthPerGroup: 16, classes: 3, rng: new Rng(1) });
    perturbBn(model, 3);
    const shape = [2, 3, 32, 32];
    const x = randomInput(2 * 3 * 32 * 32, 5);
    const ours = forward(model, x, shape);
    const file = path.join(tmpDir, 'resnet50.onnx');
    exportOnnx(model, file, { inputSize: 32, batchSize: 2 });
    const got = await ortRun(file, x, shape);
    const scale = Math.max(...Array.from(ours, Math.abs));
    assert.ok(maxAbsDiff(got.data, ours) <= 1e-4 * Math.max(1, scale), `resnet50: ${maxAbsDiff(got.data, ours)} (scale ${scale})`);
  });

  test('onnx.checker accepts the model (skips without Python onnx, outside CI)', { skip: skipWithout(havePyOnnx, '/usr/bin/python3 has no onnx') }, () => {
    const model = createModel('wrn-10-1', { classes: 10, activation: 'gelu' });
    const file = path.join(tmpDir, 'check.onnx');
    exportOnnx(model, file, { inputSize: 32, dynamicBatch: true, metadata: { arch: 'wrn-10-1' } });
    const out = execFileSync('/usr/bin/python3', ['-c', `
import onnx, sys
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(m.opset_import[0].version, {p.key: p.value for p in m.metadata_props}['arch'])
`, file], { encoding: 'utf8', timeout: 60000 });
    assert.equal(out.trim(), '17 wrn-10-1');
  });
});
