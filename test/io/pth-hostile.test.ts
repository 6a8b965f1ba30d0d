/**
 * Hostile .pth files (issue 16): each is refused with one PthError line naming the file, quickly and
 * without allocating what the file claims; `wrn convert` on them exits 1 with that line and no stack.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readPth, PthError } from '../../src/io/pth.js';
import { op, pickleStateDict, pthArchive, sampleTensors, zipArchive, type CraftTensor } from '../shared/pthCraft.js';
import { assertCleanFail } from '../shared/cleanFail.js';

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-pth-hostile-'));
process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array): string {
  const p = path.join(tmpDir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

function craft(name: string, tensors: CraftTensor[], extra: [string, Buffer][] = []): string {
  return write(name, pthArchive(pickleStateDict(tensors, extra), tensors));
}

async function refused(file: string, re: RegExp, withinMs = 5000): Promise<void> {
  const t0 = Date.now();
  await assert.rejects(readPth(file), (e: unknown) => {
    assert.ok(e instanceof PthError, `PthError expected, got ${String(e)}`);
    assert.ok(e.message.startsWith(file), `names the file: ${e.message}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, re);
    return true;
  });
  assert.ok(Date.now() - t0 < withinMs, `refused within ${withinMs} ms (took ${Date.now() - t0})`);
}

const stride0: CraftTensor = { name: 'w', key: '0', storageType: 'FloatStorage', numel: 1, offset: 0, size: [200000, 200000], stride: [0, 0] };

describe('hostile .pth files (issue 16 reproductions)', () => {
  test('the crafted archive builder makes files readPth accepts (so the refusals below are about the attack)', async () => {
    const r = await readPth(craft('ok.pth', sampleTensors()));
    assert.deepEqual([...r.tensors.keys()], ['conv.weight', 'fc.weight', 'bn.num_batches_tracked']);
    assert.deepEqual(r.tensors.get('fc.weight')?.shape, [2, 3]);
  });

  test('stride-0 view of a 4-byte storage as 200000 x 200000: refused before allocating', async () => {
    await refused(craft('stride0.pth', [stride0]), /size \[200000,200000\], stride \[0,0\] has over \d+ elements, more than 4 x the 1 of storage '0'/);
  });

  test('wrn convert on the stride-0 file: exit 1, one line, no stack, bounded memory', () => {
    const f = craft('stride0-cli.pth', [stride0]);
    assertCleanFail(['convert', f, path.join(tmpDir, 'out.safetensors')], new RegExp(`^wrn: ${f.replace(/[.]/g, '\\.')}: .*stride-0`), { timeoutMs: 30_000, maxRssMiB: 400 });
  });

  test('a 2 MB LONG4 integer: refused at once (was quadratic: over a minute)', async () => {
    await refused(craft('long4.pth', sampleTensors(), [['epoch', op.long4(2 << 20)]]), /2097152-byte integer, over the 64-byte limit .*LONG4/, 3000);
  });

  test('wrn convert on the LONG4 file: exit 1, one line, within seconds', () => {
    const f = craft('long4-cli.pth', sampleTensors(), [['epoch', op.long4(2 << 20)]]);
    assertCleanFail(['convert', f, path.join(tmpDir, 'out2.safetensors')], /LONG4/, { timeoutMs: 30_000, maxRssMiB: 400 });
  });

  test('LONG1/LONG4 up to 64 bytes still decode exactly (two\'s complement)', async () => {
    const neg = Buffer.from([0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]); // -(2^64)-1... as 9 bytes
    const r = await readPth(craft('long-ok.pth', sampleTensors(), [['a', op.long4(64)], ['b', neg]]));
    const root = r.root as import('../../src/io/pickle.js').PickleDict;
    assert.equal(root.get('a'), BigInt('0x' + '01'.repeat(64)));
    assert.equal(root.get('b'), BigInt.asIntN(72, 0xfeffffffffffffffffn));
  });

  test('a view that reaches past its storage (huge stride) is refused, naming the element', async () => {
    await refused(craft('far.pth', [{ ...stride0, numel: 10, size: [2], stride: [2 ** 40] }]), /reaches element 1099511627776, past storage '0' of 10 elements/);
  });

  test('a 2^31 x 2^31 shape over a small storage: refused, no overflow', async () => {
    await refused(craft('huge-shape.pth', [{ ...stride0, numel: 4, size: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], stride: [1, 1, 1] }]), /has over \d+ elements|past storage/);
  });

  test('many overlapping views of one storage together over the budget: refused', async () => {
    // 40 distinct views, each a legal 4 x its 1024-element storage, add up to 160 x.
    const many: CraftTensor[] = Array.from({ length: 40 }, (_, i) => ({ name: `t${i}`, key: '0', storageType: 'FloatStorage', numel: 1024, offset: 0, size: [4, 1024], stride: [0, 1] }));
    await refused(craft('many.pth', many), /its 40 tensors view 163840 elements of storages holding 1024/);
  });

  test('APPENDS and SETITEMS of 300,000 items load (no spreading into call arguments)', async () => {
    const n = 300_000;
    const list = Buffer.concat([op.emptyList, op.mark, Buffer.alloc(n, 'N'), op.appends]);
    const dictItems: Buffer[] = [op.emptyDict, op.mark];
    for (let i = 0; i < n; i++) dictItems.push(op.int(i), op.none);
    dictItems.push(op.setItems);
    const r = await readPth(craft('appends.pth', sampleTensors(), [['list', list], ['dict', Buffer.concat(dictItems)]]));
    const root = r.root as import('../../src/io/pickle.js').PickleDict;
    assert.equal((root.get('list') as unknown[]).length, n);
    assert.equal((root.get('dict') as import('../../src/io/pickle.js').PickleDict).map.size, n);
  });

  test('zip entry declaring 3 GB from a few deflated bytes: refused before inflating', async () => {
    const t = sampleTensors();
    const pkl = pickleStateDict(t);
    const f = write('bomb.pth', pthArchive(pkl, t, { '0': { name: 'archive/data/0', data: new Uint8Array(96), deflate: true, declaredSize: 3_000_000_000 } }));
    await refused(f, /entry 'archive\/data\/0' declares 3000000000 bytes|holds 3000000000 bytes/);
  });

  test('zip entry whose storage size matches but inflates past its declared size: refused (inflation bounded)', async () => {
    const t = sampleTensors();
    // Declares 96 bytes (what storage '0' needs) but deflates 1 MiB of zeros.
    const f = write('liar.pth', pthArchive(pickleStateDict(t), t, { '0': { name: 'archive/data/0', data: new Uint8Array(1 << 20), deflate: true, declaredSize: 96 } }));
    await refused(f, /archive\/data\/0/);
  });

  test('stored entry whose declared size differs from its stored bytes: refused', async () => {
    const t = sampleTensors();
    const f = write('stored-liar.pth', pthArchive(pickleStateDict(t), t, { '0': { name: 'archive/data/0', data: new Uint8Array(8), declaredSize: 96 } }));
    await refused(f, /stored entry 'archive\/data\/0' declares 96 bytes but holds 8|size mismatch for stored file: 8 != 96/);
  });

  test('names quoted from the file cannot break the one-line message (fuzzer: a legacy key with a newline)', async () => {
    const { PickleError } = await import('../../src/io/pickle.js');
    assert.equal(new PthError("f.pth: storage 'a\nb\tc' is listed").message, "f.pth: storage 'a b c' is listed");
    assert.equal(new PickleError('f.pkl: bad STRING "x\ry"').message, 'f.pkl: bad STRING "x y"');
  });

  test('data.pkl over 64 MiB declared: refused before reading it', async () => {
    const f = write('bigpkl.pth', zipArchive([{ name: 'archive/data.pkl', data: new Uint8Array(200_000), deflate: true, declaredSize: 100 << 20 }]));
    await refused(f, /data\.pkl is 104857600 bytes, over the 67108864-byte limit|declares 104857600 bytes/);
  });
});
