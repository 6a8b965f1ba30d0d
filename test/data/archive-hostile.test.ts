/**
 * Hostile tar / gzip / IDX input (issue 16): over-long pax and GNU long-name records, absurd entry
 * sizes, decompression bombs. Each is refused with one DataError line naming the file, quickly and
 * with bounded memory.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError } from '../../src/data/errors.js';
import { readTarEntries } from '../../src/data/tar.js';
import { readIdx } from '../../src/data/idx.js';
import { paxRecords, writeTarEntries, tarHeader, BLOCK } from '../shared/tarCraft.js';

const dir = mkdtempSync(join(tmpdir(), 'wrn-archive-hostile-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

async function refused(p: Promise<unknown>, file: string, re: RegExp, withinMs = 10_000): Promise<void> {
  const t0 = Date.now();
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DataError, `DataError expected, got ${String(e)}`);
    assert.ok(e.message.startsWith(file), `names the file: ${e.message}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, re);
    return true;
  });
  assert.ok(Date.now() - t0 < withinMs, `within ${withinMs} ms`);
}

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const all = (): boolean => true;

describe('tar caps', () => {
  test('pax and GNU long names within limits are honoured (tar-stream parses them)', async () => {
    const long = 'd/'.repeat(80) + 'data_batch_1.bin';
    const f = file('names.tar', writeTarEntries([
      { name: 'PaxHeader', type: 'x', data: paxRecords({ path: long }) },
      { name: 'short', data: Buffer.from('pax') },
      { name: '././@LongLink', type: 'L', data: Buffer.from(long.replace('1', '2') + '\0') },
      { name: 'short2', data: Buffer.from('gnu') },
    ]));
    const got = await readTarEntries(f, all);
    assert.equal(got.get(long)?.toString(), 'pax');
    assert.equal(got.get(long.replace('1', '2'))?.toString(), 'gnu');
  });

  test('a 5 MiB pax record is refused', async () => {
    const f = file('pax.tar', writeTarEntries([{ name: 'PaxHeader', type: 'x', data: paxRecords({ comment: 'x'.repeat(5 << 20) }) }, { name: 'a', data: Buffer.from('1') }]));
    await refused(readTarEntries(f, all), f, /exceeds max size|corrupt tar header/);
  });

  test('a 5 MiB GNU long name is refused', async () => {
    const f = file('gnu.tar', writeTarEntries([{ name: '././@LongLink', type: 'L', data: Buffer.alloc(5 << 20, 0x61) }, { name: 'a', data: Buffer.from('1') }]));
    await refused(readTarEntries(f, all), f, /exceeds max size|corrupt tar header/);
  });

  test('a 100 KiB name (under tar-stream\'s cap, over ours) is refused', async () => {
    const f = file('name.tar', writeTarEntries([{ name: '././@LongLink', type: 'L', data: Buffer.alloc(100 << 10, 0x61) }, { name: 'a', data: Buffer.from('1') }]));
    await refused(readTarEntries(f, all), f, /102400-byte name, over the 4096-byte limit/);
  });

  test('a pax size of 10^15 on a wanted entry is refused before allocating', async () => {
    const f = file('paxsize.tar', writeTarEntries([{ name: 'PaxHeader', type: 'x', data: paxRecords({ size: '1000000000000000' }) }, { name: 'a', data: Buffer.from('1') }]));
    await refused(readTarEntries(f, all), f, /entry 'a' is 1000000000000000 bytes, over the 1073741824-byte limit|truncated/);
  });

  test('an entry over maxEntryBytes is refused on its header; unwanted big entries are skipped', async () => {
    const f = file('big.tar', writeTarEntries([{ name: 'big', data: Buffer.alloc(100_000) }, { name: 'small', data: Buffer.from('ok') }]));
    await refused(readTarEntries(f, all, { maxEntryBytes: 50_000 }), f, /entry 'big' is 100000 bytes, over the 50000-byte limit/);
    const got = await readTarEntries(f, (n) => n === 'small', { maxEntryBytes: 50_000 });
    assert.equal(got.get('small')?.toString(), 'ok');
  });

  test('a gzip bomb stops at maxTotalBytes', async () => {
    // 64 MiB of zeros in one entry compress to ~64 KiB.
    const raw = Buffer.concat([tarHeader({ name: 'zeros' }, 64 << 20), Buffer.alloc(64 << 20), Buffer.alloc(BLOCK * 2)]);
    const f = file('bomb.tar.gz', gzipSync(raw));
    await refused(readTarEntries(f, () => false, { maxTotalBytes: 8 << 20 }), f, /decompresses to more than 8388608 bytes/);
  });

  test('a directory entry that declares data does not hang the reader (found by the fuzzer)', async () => {
    const f = file('dir.tar', writeTarEntries([{ name: 'd', type: '5', data: Buffer.from('12345') }, { name: 'a', data: Buffer.from('1') }]));
    const got = await Promise.race([
      readTarEntries(f, all).then(() => 'settled', () => 'settled'),
      new Promise((r) => setTimeout(() => r('hung'), 5000).unref()),
    ]);
    assert.equal(got, 'settled');
  });

  test('a header with a bad checksum and a truncated archive name the file', async () => {
    const raw = writeTarEntries([{ name: 'a', data: Buffer.from('1'), checksum: 7 }]);
    const f = file('sum.tar', raw);
    await refused(readTarEntries(f, all), f, /corrupt tar header/);
    const g = file('cut.tar', writeTarEntries([{ name: 'a', data: Buffer.alloc(2000) }]).subarray(0, 1000));
    await refused(readTarEntries(g, all), g, /truncated tar archive/);
  });
});

describe('gzip caps (IDX)', () => {
  test('a gzipped IDX that inflates past the cap is refused', async () => {
    const f = file('bomb-idx.gz', gzipSync(Buffer.alloc(32 << 20)));
    await refused(readIdx(f, 3, 4 << 20), f, /decompresses to more than 4194304 bytes/);
  });

  test('corrupt gzip names the file', async () => {
    const gz = gzipSync(Buffer.alloc(1000, 7));
    gz[gz.length - 12] ^= 0xff;
    const f = file('corrupt-idx.gz', gz);
    await refused(readIdx(f, 3), f, /corrupt gzip data|truncated gzip|wrong magic/);
  });
});
