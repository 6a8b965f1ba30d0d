import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  readSafetensors, writeSafetensors, openSafetensors, parseSafetensors, serializeSafetensors, SafetensorsError,
  findDuplicateJsonKey, type LoadedTensor, type TensorToWrite,
} from '../../src/io/safetensors.js';
import { floatToHalf, halfToFloat, floatToBf16, bf16ToFloat } from '../../src/io/half.js';

const FIX = path.resolve(process.cwd(), '../shared/fixtures');
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-st-'));
process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));

/** A raw file: header text (or object), data bytes, optional header-length override. */
function rawFile(name: string, header: string | object, data: Uint8Array = new Uint8Array(0), lenOverride?: bigint): string {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lenOverride ?? BigInt(h.length));
  const p = path.join(tmpDir, name);
  fs.writeFileSync(p, Buffer.concat([len, h, data]));
  return p;
}

function f32bytes(n: number): Uint8Array {
  return new Uint8Array(new Float32Array(n).map((_, i) => i).buffer);
}

describe('safetensors round trip', () => {
  test('all dtypes, metadata, empty and scalar tensors', () => {
    const p = path.join(tmpDir, 'rt.safetensors');
    const w = Float32Array.from({ length: 20 }, (_, i) => i * 0.5 - 3);
    writeSafetensors(
      p,
      {
        'fc.weight': { data: w, shape: [10, 2] },
        'fc.bias': { data: Float32Array.from([1.5, -2]), shape: [2] },
        f64: { data: Float64Array.from([Math.PI, -1e300]), shape: [2] },
        i32: { data: Int32Array.from([-7, 2 ** 31 - 1]), shape: [2] },
        i64: { data: Int32Array.from([3, -4, 5]), shape: [3], dtype: 'I64' },
        big: { data: BigInt64Array.from([2n ** 40n, -1n]), shape: [2] },
        u8: { data: Uint8Array.from([0, 255, 7]), shape: [3] },
        empty: { data: new Float32Array(0), shape: [0, 4] },
        scalar: { data: Float32Array.from([42]), shape: [] },
        h: { data: Float32Array.from([1, 0.1, -65504, 1e-7]), shape: [4], dtype: 'F16' },
        b: { data: Float32Array.from([1, 0.1, -3e38]), shape: [3], dtype: 'BF16' },
        ['__proto__']: { data: Float32Array.from([9]), shape: [1] },
      } as unknown as Record<string, TensorToWrite>,
      { arch: 'wrn-10-2', classes: '10' },
    );
    assert.ok(!fs.readdirSync(tmpDir).some((f) => f.endsWith('.tmp')), 'no temporary file left');
    const bytes = fs.readFileSync(p);
    const hlen = Number(bytes.readBigUInt64LE(0));
    assert.equal(hlen % 8, 0, 'header padded to a multiple of 8');

    const r = readSafetensors(p, { int64: 'bigint' });
    assert.deepEqual(r.metadata, { arch: 'wrn-10-2', classes: '10' });
    const get = (k: string): LoadedTensor => {
      const t = r.tensors.get(k);
      assert.ok(t, k);
      return t;
    };
    assert.deepEqual(get('fc.weight').data, w);
    assert.deepEqual(get('fc.weight').shape, [10, 2]);
    assert.equal(get('fc.weight').dtype, 'F32');
    assert.deepEqual(get('f64').data, Float64Array.from([Math.PI, -1e300]));
    assert.deepEqual(get('i32').data, Int32Array.from([-7, 2 ** 31 - 1]));
    assert.equal(get('i64').dtype, 'I64');
    assert.deepEqual(get('i64').data, BigInt64Array.from([3n, -4n, 5n]));
    assert.deepEqual(get('u8').data, Uint8Array.from([0, 255, 7]));
    assert.deepEqual(get('empty').shape, [0, 4]);
    assert.equal(get('empty').data.length, 0);
    assert.deepEqual(get('scalar').shape, []);
    assert.deepEqual(get('scalar').data, Float32Array.from([42]));
    assert.deepEqual(get('__proto__').data, Float32Array.from([9]));
    const h = get('h');
    assert.equal(h.dtype, 'F16');
    assert.ok(h.data instanceof Float32Array);
    assert.deepEqual([...h.data].map((x) => Number(x.toPrecision(3))), [1, 0.1, -65500, 1.19e-7]);
    const b = get('b');
    assert.equal(b.dtype, 'BF16');
    assert.ok(Math.abs((b.data as Float32Array)[1] - 0.1) < 1e-3);
    // I64 beyond int32: error by default, exact with { int64: 'bigint' }
    assert.throws(() => readSafetensors(p), /tensor 'big' \(I64\)/);
    assert.throws(() => openSafetensors(p).read('big'), /tensor 'big' \(I64\) value 1099511627776 at index 0 does not fit in int32/);
    const lazy = openSafetensors(p);
    try {
      assert.deepEqual(lazy.read('i64').data, Int32Array.from([3, -4, 5]));
      assert.deepEqual(lazy.read('big', { int64: 'bigint' }).data, BigInt64Array.from([2n ** 40n, -1n]));
      assert.deepEqual(lazy.read('f64', { float64: 'float32' }).data, Float32Array.from([Math.PI, -1e300]));
    } finally {
      lazy.close();
    }
  });

  test('float16 writing of a whole model, via floatDtype', () => {
    const p = path.join(tmpDir, 'half.safetensors');
    const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10);
    writeSafetensors(p, new Map([['x', { data: x, shape: [10, 100] }]]), {}, { floatDtype: 'BF16' });
    const t = readSafetensors(p).tensors.get('x');
    assert.equal(t?.dtype, 'BF16');
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs((t?.data as Float32Array)[i] - x[i]) <= Math.abs(x[i]) / 128 + 1e-30);
    assert.equal(fs.statSync(p).size, 8 + Number(fs.readFileSync(p).readBigUInt64LE(0)) + 2000);
  });

  test('in-memory serialize / parse', () => {
    const bytes = serializeSafetensors({ a: { data: Int32Array.from([1, 2]), shape: [1, 2] } }, { k: 'v' });
    const r = parseSafetensors(bytes, 'mem');
    assert.deepEqual(r.tensors.get('a')?.data, Int32Array.from([1, 2]));
    assert.deepEqual(r.metadata, { k: 'v' });
  });

  test('half conversions: rounding, subnormals, specials', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = halfToFloat(h);
      if (Number.isNaN(f)) assert.ok(Number.isNaN(halfToFloat(floatToHalf(f))));
      else assert.equal(floatToHalf(f), h, `half ${h.toString(16)}`);
    }
    assert.equal(floatToHalf(65520), 0x7c00); // rounds to infinity
    assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // tie to even
    assert.equal(floatToHalf(2 ** -25), 0); // tie to even, zero
    assert.equal(floatToHalf(2 ** -25 * 1.01), 1);
    for (let b = 0; b < 0x10000; b += 7) {
      const f = bf16ToFloat(b);
      if (!Number.isNaN(f)) assert.equal(floatToBf16(f), b);
    }
    assert.ok(Number.isNaN(bf16ToFloat(floatToBf16(NaN))));
  });

  test('write errors and atomicity', () => {
    const p = path.join(tmpDir, 'bad-write.safetensors');
    fs.writeFileSync(p, 'old');
    assert.throws(
      () => writeSafetensors(p, { 'fc.weight': { data: new Float32Array(3), shape: [2, 2] } }),
      /bad-write\.safetensors: tensor 'fc\.weight' has 3 values, shape \[2,2\] needs 4/,
    );
    assert.throws(() => writeSafetensors(p, { u: { data: new Uint8Array(2), shape: [2], dtype: 'F32' } }), /cannot store Uint8Array data as F32/);
    assert.throws(() => writeSafetensors(p, { __metadata__: { data: new Uint8Array(2), shape: [2] } }), /reserved/);
    assert.equal(fs.readFileSync(p, 'utf8'), 'old');
    assert.throws(() => writeSafetensors(path.join(tmpDir, 'no/such/dir/x.safetensors'), {}), /write failed/);
  });
});

describe('safetensors golden fixtures', () => {
  const have = fs.existsSync(path.join(FIX, 'wrn-10-2.safetensors'));
  test('wrn-10-2.safetensors matches wrn-10-2.json', { skip: !have && 'fixtures missing' }, () => {
    const ref = JSON.parse(fs.readFileSync(path.join(FIX, 'wrn-10-2.json'), 'utf8')) as {
      state_dict: Record<string, number[]>; arch: string; classes: number; in_channels: number; params: number;
    };
    const r = readSafetensors(path.join(FIX, 'wrn-10-2.safetensors'));
    assert.deepEqual(r.metadata, { arch: ref.arch, in_channels: String(ref.in_channels), classes: String(ref.classes) });
    assert.deepEqual([...r.tensors.keys()].sort(), Object.keys(ref.state_dict).sort());
    let params = 0;
    for (const [k, shape] of Object.entries(ref.state_dict)) {
      const t = r.tensors.get(k);
      assert.ok(t);
      assert.equal(t.dtype, 'F32', k);
      assert.deepEqual(t.shape, shape, k);
      assert.ok(t.data instanceof Float32Array);
      assert.ok(t.data.every((v) => Number.isFinite(v)), k);
      if (!k.includes('running_')) params += t.data.length;
    }
    assert.equal(params, ref.params);
    const rv = r.tensors.get('bn.running_var')?.data as Float32Array;
    assert.ok(rv.every((v) => v >= 0.5 && v <= 2), 'running_var randomised in [0.5, 2]');
  });

  test('wrn-10-2.io.safetensors: batch, int64 target, results', { skip: !have && 'fixtures missing' }, () => {
    const ref = JSON.parse(fs.readFileSync(path.join(FIX, 'wrn-10-2.json'), 'utf8')) as {
      state_dict: Record<string, number[]>; batch: number; classes: number; loss: number; logits_eval_row0: number[];
    };
    const lazy = openSafetensors(path.join(FIX, 'wrn-10-2.io.safetensors'));
    try {
      assert.deepEqual(lazy.info('input').shape, [ref.batch, 3, 32, 32]);
      const target = lazy.read('target');
      assert.equal(target.dtype, 'I64');
      assert.ok(target.data instanceof Int32Array);
      assert.deepEqual(target.shape, [ref.batch]);
      assert.ok(target.data.every((v) => v >= 0 && v < ref.classes));
      const loss = lazy.read('loss');
      assert.deepEqual(loss.shape, []);
      assert.ok(Math.abs((loss.data as Float32Array)[0] - ref.loss) < 1e-6);
      const logits = lazy.read('logits_eval').data as Float32Array;
      ref.logits_eval_row0.forEach((v, i) => assert.ok(Math.abs(logits[i] - v) < 1e-6));
      for (const [k, shape] of Object.entries(ref.state_dict)) {
        const pre = k.includes('running_') ? ['running.'] : ['grad.', 'sgd1.', 'sgd2.'];
        for (const p of pre) assert.deepEqual(lazy.info(p + k).shape, shape, p + k);
      }
    } finally {
      lazy.close();
    }
  });
});

describe('safetensors malformed corpus: one clear error each', () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: [string, () => string, RegExp][] = [
    ['zero header length', () => rawFile('empty.st', '', undefined, 0n), /header length 0 is too small/],
    ['shorter than 8 bytes', () => { const p = path.join(tmpDir, 'short.st'); fs.writeFileSync(p, 'abc'); return p; }, /short\.st: 3 bytes, too short/],
    ['header length past end', () => rawFile('past.st', ok, f32bytes(2), 1000n), /past\.st: header length 1000 runs past the end of the file/],
    ['header > 100 MB claim', () => rawFile('huge.st', ok, f32bytes(2), 2n ** 63n), /huge\.st: header length 9223372036854775808 exceeds the 100000000-byte limit/],
    ['truncated data', () => rawFile('trunc.st', ok, f32bytes(1)), /trunc\.st: tensor 'a' data_offsets end at 8, past the data buffer's 4 bytes/],
    ['trailing bytes', () => rawFile('trail.st', ok, f32bytes(3)), /trail\.st: data buffer holds 12 bytes but the tensors cover only 8/],
    ['overlapping offsets', () => rawFile('overlap.st', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32bytes(3)),
      /overlap\.st: tensor 'b' data_offsets \[4,12\] overlap tensor 'a' \(which ends at 8\)/],
    ['gapped offsets', () => rawFile('gap.st', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32bytes(3)),
      /gap\.st: tensor 'b' data_offsets \[8,12\] leave a gap of 4 bytes after tensor 'a'/],
    ['gap at start', () => rawFile('gap0.st', { a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32bytes(2)), /gap0\.st: tensor 'a' data_offsets \[4,8\] leave a gap/],
    ['dtype/size mismatch', () => rawFile('x.safetensors', { 'fc.weight': { dtype: 'F32', shape: [10, 2], data_offsets: [0, 40] } }, f32bytes(10)),
      /x\.safetensors: tensor 'fc\.weight' data_offsets \[0,40\] hold 40 bytes, F32 \[10,2\] needs 80 bytes/],
    ['duplicate tensor names', () => rawFile('dup.st', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32bytes(2)),
      /dup\.st: duplicate tensor name 'a'/],
    ['duplicate names via escapes', () => rawFile('dup2.st', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32bytes(2)),
      /duplicate tensor name 'a'/],
    ['duplicate field', () => rawFile('dup3.st', '{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}', f32bytes(1)),
      /dup3\.st: duplicate key 'dtype' in header entry 'a'/],
    ['bad JSON', () => rawFile('badjson.st', '{"a": {"dtype": "F32",', f32bytes(1)), /badjson\.st: header is not valid JSON/],
    ['not an object', () => rawFile('arr.st', '[1,2]'), /arr\.st: header must be a JSON object, got an array/],
    ['invalid UTF-8', () => rawFile('utf.st', Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1')), /header is not valid (UTF-8|JSON)/],
    ['unknown dtype', () => rawFile('dt.st', { a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)), /dt\.st: tensor 'a' has unknown dtype 'F128'/],
    ['unsupported spec dtype', () => rawFile('dt2.st', { a: { dtype: 'U16', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2)), /tensor 'a' has dtype U16, which this reader does not support/],
    ['bad shape', () => rawFile('shape.st', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32bytes(1)), /shape\.st: tensor 'a' shape must be an array of non-negative integers, got \[-1\]/],
    ['bad offsets', () => rawFile('offs.st', { a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32bytes(1)), /tensor 'a' data_offsets must be \[begin, end\]/],
    ['missing offsets', () => rawFile('offs2.st', { a: { dtype: 'F32', shape: [1] } }, f32bytes(1)), /tensor 'a' data_offsets must be/],
    ['huge shape', () => rawFile('bigshape.st', { a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, f32bytes(1)), /hold 4 bytes, F32 \[1099511627776,1099511627776\] needs/],
    ['metadata not strings', () => rawFile('meta.st', { __metadata__: { n: 3 } }), /meta\.st: __metadata__ 'n' must be a string, got 3/],
    ['entry not an object', () => rawFile('entry.st', { a: 5 }), /entry\.st: tensor 'a' must be an object/],
    ['missing file', () => path.join(tmpDir, 'nope.safetensors'), /nope\.safetensors: no such file/],
  ];
  for (const [what, make, re] of cases) {
    test(what, () => {
      const p = make();
      assert.throws(() => readSafetensors(p), (e: unknown) => {
        assert.ok(e instanceof SafetensorsError, `SafetensorsError, got ${String(e)}`);
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'), 'one line');
        assert.ok(e.message.startsWith(p), `message names the file: ${e.message}`);
        return true;
      });
      if (fs.existsSync(p)) {
        assert.throws(() => parseSafetensors(fs.readFileSync(p), p), SafetensorsError);
      }
    });
  }

  test('duplicate-key scanner ignores braces and quotes inside strings', () => {
    assert.equal(findDuplicateJsonKey('{"a{\\"":{"x":"}","y":[{"x":1},{"x":2}]},"b":1}'), null);
    assert.deepEqual(findDuplicateJsonKey('{"a":{"m":[1,{"k":1,"k":2}]}}'), { key: 'k', path: 'a.m' });
  });
});
