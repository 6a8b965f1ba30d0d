import { test, describe } from 'node:test';
import { pythonHas, skipWithout } from '../shared/reference.js';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readPth, PthError, PthTensor } from '../../src/io/pth.js';
import { unpickle, PickleDict, PickleError, PickleTuple, type PickleValue } from '../../src/io/pickle.js';
import type { LoadedTensor } from '../../src/io/safetensors.js';

const FIX = path.resolve(process.cwd(), 'test/io/fixtures');
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-pth-'));
process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));

interface Expected { dtype: string; shape: number[]; values: number[] }

function checkAgainst(name: string, tensors: Map<string, LoadedTensor>): void {
  const exp = JSON.parse(fs.readFileSync(path.join(FIX, `${name}.expected.json`), 'utf8')) as Record<string, Expected>;
  assert.deepEqual([...tensors.keys()], Object.keys(exp), 'names, in order');
  for (const [k, e] of Object.entries(exp)) {
    const t = tensors.get(k) as LoadedTensor;
    assert.equal(t.dtype, e.dtype, k);
    assert.deepEqual(t.shape, e.shape, k);
    assert.equal(t.data.length, e.values.length, k);
    const got = Array.from(t.data as ArrayLike<number>);
    if (e.dtype === 'F64') assert.deepEqual(got, e.values, k);
    else assert.deepEqual(got, e.values.map((v) => (Number.isInteger(v) ? v : Math.fround(v))), k);
  }
}

async function rejects(file: string, re: RegExp): Promise<void> {
  await assert.rejects(readPth(file), (e: unknown) => {
    assert.ok(e instanceof PthError, `PthError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.ok(e.message.startsWith(file), 'names the file');
    return true;
  });
}

describe('pth reader', () => {
  test('dtypes, shared storages, offsets, strides, parameters, scalars', async () => {
    const r = await readPth(path.join(FIX, 'tensors.pth'));
    assert.equal(r.stateDictPath, '');
    checkAgainst('tensors', r.tensors);
    assert.ok(r.tensors.get('half')?.data instanceof Float32Array);
    assert.ok(r.tensors.get('bn.num_batches_tracked')?.data instanceof Int32Array);
    assert.ok(r.tensors.get('f64')?.data instanceof Float64Array);
    assert.ok(r.root instanceof PickleDict && r.root.ordered);
  });

  test('checkpoint dict: state dict found under state_dict, other values kept', async () => {
    const r = await readPth(path.join(FIX, 'checkpoint.pth'));
    assert.equal(r.stateDictPath, 'state_dict');
    checkAgainst('checkpoint', r.tensors);
    const root = r.root as PickleDict;
    assert.equal(root.get('epoch'), 3);
    assert.equal(root.get('best_acc'), 93.5);
    assert.equal(root.get('big'), 2n ** 70n);
    assert.equal(root.get('neg'), -123456789012);
    const args = root.get('args') as PickleDict;
    assert.equal(args.get('lr'), 0.1);
    assert.equal(args.get('nesterov'), true);
    assert.deepEqual(args.get('milestones'), [60, 120]);
    assert.equal(args.get('note'), null);
    assert.ok((root.get('state_dict') as PickleDict).map.get('fc.bias') instanceof PthTensor);
  });

  test('pickle protocol 4', async () => {
    checkAgainst('proto4', (await readPth(path.join(FIX, 'proto4.pth'))).tensors);
  });

  test('legacy format (PyTorch < 1.6): same tensors as the zip files', async () => {
    const r = await readPth(path.join(FIX, 'legacy-tensors.pth'));
    checkAgainst('tensors', r.tensors);
    checkAgainst('checkpoint', (await readPth(path.join(FIX, 'legacy.pth'))).tensors);
  });

  test('legacy format: storage views (PyTorch < 1.0)', async () => {
    const r = await readPth(path.join(FIX, 'legacy-view.pth'));
    assert.deepEqual(r.tensors.get('w')?.data, Float32Array.from([3, 4]));
  });

  test('legacy format: truncated or corrupted files give one clear error', async () => {
    const full = fs.readFileSync(path.join(FIX, 'legacy-tensors.pth'));
    for (const cut of [3, 40, 200, Math.floor(full.length / 2), full.length - 1]) {
      const p = path.join(tmpDir, `legacy-cut${cut}.pth`);
      fs.writeFileSync(p, full.subarray(0, cut));
      await rejects(p, /truncated|no STOP|past the end/);
    }
    const bad = Buffer.from(full);
    bad[5] ^= 0xff; // a byte of the magic number
    const p = path.join(tmpDir, 'legacy-magic.pth');
    fs.writeFileSync(p, bad);
    await rejects(p, /not a torch\.save file \(magic number/);
  });

  test('int64 beyond int32: clear error, exact with { int64: bigint }', async () => {
    const f = path.join(FIX, 'int64big.pth');
    await rejects(f, /storage '0' \(int64\) value 1099511627776 at index 1 does not fit in int32/);
    const r = await readPth(f, { int64: 'bigint' });
    assert.deepEqual(r.tensors.get('idx')?.data, BigInt64Array.from([1n, 2n ** 40n]));
  });
});

describe('pth refusals and malformed archives', () => {
  const cases: [string, RegExp][] = [
    ['malicious.pth', /malicious\.pth: refusing to unpickle global 'posix\.system'/],
    ['module.pth', /module\.pth: refusing to unpickle global 'torch\.nn\.modules\.linear\.Linear'/],
    ['view-past-end.pth', /_rebuild_tensor_v2: view offset 0, size \[3\], stride \[1\] reaches element 2, past storage '0' of 2 elements/],
    ['storage-size.pth', /storage '0' \(storage-size\/data\/0\) holds 4 bytes, torch\.FloatStorage of 2 elements needs 8/],
    ['storage-missing.pth', /storage '0' \(storage-missing\/data\/0\) is missing from the archive/],
  ];
  for (const [f, re] of cases) test(f, () => rejects(path.join(FIX, f), re));

  test('missing file, not a zip, truncated zip', async () => {
    await rejects(path.join(tmpDir, 'nope.pth'), /no such file/);
    const txt = path.join(tmpDir, 'text.pth');
    fs.writeFileSync(txt, 'hello world');
    await rejects(txt, /not a PyTorch file/);
    const full = fs.readFileSync(path.join(FIX, 'tensors.pth'));
    for (const cut of [10, 100, full.length / 2, full.length - 30]) {
      const p = path.join(tmpDir, `cut${cut}.pth`);
      fs.writeFileSync(p, full.subarray(0, Math.floor(cut)));
      await rejects(p, /zip|truncated|cannot read|no '<name>\/data\.pkl'/);
    }
  });

  test('corrupted legacy files never crash or hang', async () => {
    const { parseLegacyTorch } = await import('../../src/io/pth.js');
    const full = fs.readFileSync(path.join(FIX, 'legacy-tensors.pth'));
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 1000; i++) {
      const b = Uint8Array.from(full);
      for (let j = 0; j < 2; j++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      try {
        parseLegacyTorch(rnd() < 0.3 ? b.subarray(0, Math.floor(rnd() * b.length)) : b, 'fuzz');
      } catch (e) {
        assert.ok(e instanceof PthError, `PthError, got ${String(e)}`);
        assert.ok((e as Error).message.startsWith('fuzz: '));
      }
    }
  });

  test('corrupted pickle bytes never crash or hang', async () => {
    // Flip bytes of a real data.pkl and unpickle: every outcome is a value or a PickleError.
    const { unpickleTorch } = await import('../../src/io/pth.js');
    const zipBytes = fs.readFileSync(path.join(FIX, 'checkpoint.pth'));
    const start = zipBytes.indexOf(Buffer.from([0x80, 0x02]));
    const end = zipBytes.indexOf(Buffer.from('.PK'), start);
    const pkl = zipBytes.subarray(start, end > 0 ? end + 1 : undefined);
    let seed = 1;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from(pkl);
      for (let j = 0; j < 3; j++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const cut = rnd() < 0.3 ? b.subarray(0, Math.floor(rnd() * b.length)) : b;
      try {
        unpickleTorch(cut, 'fuzz');
      } catch (e) {
        assert.ok(e instanceof PickleError, `PickleError, got ${String(e)}`);
        assert.ok((e as Error).message.startsWith('fuzz: '));
      }
    }
  });
});

describe('restricted unpickler', () => {
  const none = { label: 'x.pkl', globals: new Map() };
  test('refuses globals, opcodes that build objects, unknown opcodes', () => {
    // protocol 0: cos\nsystem\n(S'echo hi'\ntR.
    const evil = Buffer.from("cos\nsystem\n(S'echo hi'\ntR.", 'latin1');
    assert.throws(() => unpickle(evil, none), /x\.pkl: refusing to unpickle global 'os\.system'/);
    assert.throws(() => unpickle(Buffer.from('\x80\x02(ios\nsystem\n.', 'latin1'), none), /refusing opcode that builds arbitrary objects \(opcode INST at byte 3\)/);
    assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0xff]), none), /unknown or unsupported pickle opcode \(opcode 0xff at byte 2\)/);
    assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f]), none), /truncated: 2147483647 bytes needed/);
    assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x68, 0x05, 0x2e]), none), /memo key 5 is not defined/);
    assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x4e]), none), /no STOP opcode/);
    assert.throws(() => unpickle(Buffer.from([0x2e]), none), /stack underflow/);
    assert.throws(() => unpickle(Buffer.from([0x4e, 0x51, 0x2e]), none), /persistent ids are not allowed/);
  });

  test('protocol 0 and 2 values', () => {
    const v = unpickle(Buffer.from("(dp0\nS'a'\np1\nI42\nsS'b'\np2\n(lp3\nF1.5\naI01\naNasg1\ng2\ns.", 'latin1'), none) as PickleDict;
    assert.equal(v.get('a'), 'b'); // set to 42, then overwritten by GET 1 -> GET 2
    assert.deepEqual(v.get('b'), [1.5, true, null]);
    assert.equal(unpickle(Buffer.from("S'a\\'b\\x41\\n\\101'\n.", 'latin1'), none), "a'bA\nA");
    assert.equal(unpickle(Buffer.from('V\\u00e9t\\U0001F600\n.', 'latin1'), none), '\u00e9t\u{1F600}');
    assert.throws(() => unpickle(Buffer.from('V\\UFFFFFFFF\n.', 'latin1'), none), /bad escape/);
    // protocol 2: (1, -1, 2**64) as TUPLE3 of BININT1, BININT, LONG1
    const t = unpickle(Uint8Array.from([0x80, 2, 0x4b, 1, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x87, 0x2e]), none) as PickleTuple;
    assert.deepEqual(t.items, [1, -1, 2n ** 64n] as PickleValue[]);
  });
});

const havePy = pythonHas('torch');

test('python-backed: a fresh torch.save of a WRN-shaped state dict (skips without torch, outside CI)', { skip: skipWithout(havePy, '/usr/bin/python3 has no torch') }, async () => {
  const f = path.join(tmpDir, 'fresh.pth');
  const exp = path.join(tmpDir, 'fresh.json');
  execFileSync('/usr/bin/python3', ['-c', `
import torch, json, collections
torch.manual_seed(1)
m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, bias=False), torch.nn.BatchNorm2d(8), torch.nn.Flatten(), torch.nn.Linear(8, 10))
sd = m.state_dict()
sd['t'] = sd['3.weight'].t()
torch.save(sd, ${JSON.stringify(f)})
json.dump({k: [list(v.shape), v.double().reshape(-1).tolist()] for k, v in sd.items()}, open(${JSON.stringify(exp)}, 'w'))
`], { stdio: 'inherit', timeout: 120000 });
  const r = await readPth(f);
  const ref = JSON.parse(fs.readFileSync(exp, 'utf8')) as Record<string, [number[], number[]]>;
  assert.deepEqual([...r.tensors.keys()], Object.keys(ref));
  for (const [k, [shape, vals]] of Object.entries(ref)) {
    assert.deepEqual(r.tensors.get(k)?.shape, shape, k);
    assert.deepEqual(Array.from(r.tensors.get(k)?.data as ArrayLike<number>), vals, k);
  }
});
