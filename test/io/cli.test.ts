import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readSafetensors } from '../../src/io/safetensors.js';
import { decodeOnnx } from '../../src/io/onnx.js';

const FIX = path.resolve(process.cwd(), 'test/io/fixtures');
const BIN = path.resolve(process.cwd(), 'bin/wrn.js');
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-cli-io-'));
process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));

function wrn(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('wrn convert / wrn export', () => {
  test('convert xternalz .pth -> self-describing safetensors, then export to ONNX', () => {
    const st = path.join(tmpDir, 'x.safetensors');
    const c = wrn('convert', path.join(FIX, 'wrn-10-1.xternalz.pth'), st, '--labels', 'a,b,c,d,e,f,g,h,i,j', '--mean', '0.5,0.4,0.3', '--std', '0.2,0.2,0.2', '--dataset', 'cifar10');
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, /wrn-10-1, 10 classes, 3 input channels/);
    const got = readSafetensors(st);
    assert.equal(got.metadata.arch, 'wrn-10-1');
    assert.equal(got.metadata.labels, '["a","b","c","d","e","f","g","h","i","j"]');
    assert.equal(got.metadata.mean, '[0.5,0.4,0.3]');
    assert.equal(got.metadata.dataset, 'cifar10');
    const ref = readSafetensors(path.join(FIX, 'wrn-10-1.safetensors')).tensors;
    assert.deepEqual([...got.tensors.keys()].sort(), [...ref.keys()].sort());
    for (const [k, t] of ref) assert.deepEqual(got.tensors.get(k)?.data, t.data, k);

    const onnx = path.join(tmpDir, 'x.onnx');
    const e = wrn('export', '--weights', st, '--onnx', onnx, '--dynamic-batch', '--opset', '15');
    assert.equal(e.code, 0, e.err);
    const m = decodeOnnx(fs.readFileSync(onnx)) as { opset_import: { version: number }[]; metadata_props: { key: string; value: string }[] };
    assert.equal(m.opset_import[0].version, 15);
    const props = Object.fromEntries(m.metadata_props.map((p) => [p.key, p.value]));
    assert.equal(props.arch, 'wrn-10-1');
    assert.equal(props.input_size, '32');
    assert.equal(props.std, '[0.2,0.2,0.2]');
    assert.equal(props.labels, '["a","b","c","d","e","f","g","h","i","j"]');
  });

  test('convert with --from official and --dtype f16', () => {
    const st = path.join(tmpDir, 'o.safetensors');
    const c = wrn('convert', path.join(FIX, 'wrn-10-1.official.pth'), st, '--from', 'official', '--dtype', 'f16');
    assert.equal(c.code, 0, c.err);
    const got = readSafetensors(st).tensors;
    assert.equal(got.get('fc.weight')?.dtype, 'F16');
    const ref = readSafetensors(path.join(FIX, 'wrn-10-1.safetensors')).tensors.get('fc.weight')?.data as Float32Array;
    const f16 = got.get('fc.weight')?.data as Float32Array;
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(f16[i] - ref[i]) <= Math.abs(ref[i]) * 2 ** -10 + 1e-7);
  });

  // (each run starts the whole CLI: a few cases here, the rest at library level in pth/stateDict tests)
  test('bad input: one clear line, exit code 1', () => {
    const out = path.join(tmpDir, 'bad.safetensors');
    const cases: [string[], RegExp][] = [
      [['convert', path.join(FIX, 'malicious.pth'), out], /malicious\.pth: refusing to unpickle global 'posix\.system'/],
      [['convert', path.join(FIX, 'wrn-10-1.xternalz.pth'), out, '--from', 'keras'], /--from: expected one of auto, canonical, official, xternalz, torchvision, got 'keras'/],
      [['convert', path.join(FIX, 'wrn-10-1.xternalz.pth'), out, '--arch', 'wrn-10-2'], /does not fit the model/],
      [['export', '--weights', path.join(FIX, 'wrn-10-1.safetensors'), '--onnx', out, '--opset', '9'], /--opset: expected an integer in \[13, 21\], got '9'/],
    ];
    for (const [args, re] of cases) {
      const r = wrn(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.out} ${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
    assert.ok(!fs.existsSync(out));
  });
});
