import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { downloadFile } from '../../src/data/download.js';
import { resolveDataset, type RemoteFile } from '../../src/data/resolve.js';
import { DataError } from '../../src/data/errors.js';
import { bytes, idxBytes, tempDir } from './helpers.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const payload = Buffer.from(bytes(300_000, 42));
const files = new Map<string, Buffer>([['/data.bin', payload]]);
const requests: { url: string; range: string | undefined }[] = [];
let flakyServed = 0;

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '';
  const range = req.headers.range;
  requests.push({ url, range });
  const [, mode, ...rest] = url.split('/');
  const body = files.get(`/${rest.join('/')}`);
  if (!body || !['good', 'flaky', 'cut', 'corrupt', 'norange', 'redirect', 'tohttp', 'tohost', 'huge', 'endless', 'slow'].includes(mode)) {
    res.writeHead(404).end('not found');
    return;
  }
  if (mode === 'redirect') {
    res.writeHead(302, { location: `/good/${rest.join('/')}` }).end();
    return;
  }
  const port = (req.socket.localPort ?? 0).toString();
  if (mode === 'tohttp') {
    // Another origin over plain http (localhost, not 127.0.0.1): must be refused before any request.
    res.writeHead(302, { location: `http://localhost:${port}/good/${rest.join('/')}` }).end();
    return;
  }
  if (mode === 'tohost') {
    res.writeHead(301, { location: `https://mirror.invalid/${rest.join('/')}` }).end();
    return;
  }
  if (mode === 'huge') {
    res.writeHead(200, { 'content-length': body.length * 10 });
    res.end(Buffer.concat(Array.from({ length: 10 }, () => body)));
    return;
  }
  if (mode === 'endless' || mode === 'slow') {
    // No length announced; bounded so the test server always stops by itself.
    res.writeHead(200);
    let sent = 0;
    const limit = mode === 'endless' ? 64 << 20 : 200;
    const tick = (): void => {
      if (res.destroyed || sent >= limit) {
        res.end();
        return;
      }
      sent++;
      if (mode === 'endless') res.write(Buffer.alloc(1 << 20), tick);
      else setTimeout(() => res.write(Buffer.alloc(1024), tick), 50);
    };
    tick();
    return;
  }
  let start = 0;
  const m = /^bytes=(\d+)-$/.exec(range ?? '');
  if (m && mode !== 'norange') start = Number(m[1]);
  if (start >= body.length && start > 0) {
    res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
    return;
  }
  let data = body.subarray(start);
  if (mode === 'corrupt') {
    data = Buffer.from(data);
    data[data.length >> 1] ^= 0x55;
  }
  const headers: http.OutgoingHttpHeaders = { 'content-length': data.length, 'accept-ranges': 'bytes' };
  if (start > 0) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
  res.writeHead(start > 0 ? 206 : 200, headers);
  // flaky: the first response stops after 40% of the body; cut: every response does.
  const truncate = (mode === 'flaky' && flakyServed++ === 0) || mode === 'cut';
  if (truncate) {
    res.write(data.subarray(0, Math.floor(data.length * 0.4)), () => res.destroy());
    return;
  }
  res.end(data);
}

describe('downloads against a local HTTP server', () => {
  let server: http.Server;
  let base = '';
  before(async () => {
    server = http.createServer(serve);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const fast = { retryDelayMs: 5, timeoutMs: 5000 };

  test('complete download, verified, renamed into place; an existing file is reused', async () => {
    const dest = join(tempDir(), 'sub', 'data.bin');
    await downloadFile(`${base}/good/data.bin`, dest, { sha256: sha(payload), size: payload.length, ...fast });
    assert.ok(readFileSync(dest).equals(payload));
    assert.ok(!existsSync(`${dest}.part`));
    const n = requests.length;
    await downloadFile(`${base}/good/data.bin`, dest, { sha256: sha(payload), ...fast });
    assert.equal(requests.length, n, 'no request for a file already in place');
  });

  test('a truncated transfer is resumed with an HTTP Range request', async () => {
    const dest = join(tempDir(), 'data.bin');
    requests.length = 0;
    await downloadFile(`${base}/flaky/data.bin`, dest, { sha256: sha(payload), ...fast });
    assert.ok(readFileSync(dest).equals(payload));
    assert.equal(requests.length, 2);
    assert.equal(requests[0].range, undefined);
    assert.equal(requests[1].range, `bytes=${Math.floor(payload.length * 0.4)}-`);
  });

  test('a leftover .part file is resumed (and a complete one only verified), following redirects', async () => {
    const d = tempDir();
    const dest = join(d, 'data.bin');
    writeFileSync(`${dest}.part`, payload.subarray(0, 1000));
    requests.length = 0;
    await downloadFile(`${base}/redirect/data.bin`, dest, { sha256: sha(payload), ...fast });
    assert.ok(readFileSync(dest).equals(payload));
    assert.equal(requests[1].range, 'bytes=1000-');
    const dest2 = join(d, 'data2.bin');
    writeFileSync(`${dest2}.part`, payload);
    requests.length = 0;
    await downloadFile(`${base}/good/data.bin`, dest2, { sha256: sha(payload), size: payload.length, ...fast });
    assert.equal(requests.length, 0, 'a .part of the expected size needs no request');
    assert.ok(readFileSync(dest2).equals(payload));
  });

  test('a server that ignores Range: the download restarts from 0', async () => {
    const dest = join(tempDir(), 'data.bin');
    writeFileSync(`${dest}.part`, Buffer.alloc(5000, 7)); // garbage that must not survive
    await downloadFile(`${base}/norange/data.bin`, dest, { sha256: sha(payload), ...fast });
    assert.ok(readFileSync(dest).equals(payload));
  });

  test('a corrupted download fails the SHA-256 check and is removed', async () => {
    const dest = join(tempDir(), 'data.bin');
    await assert.rejects(downloadFile(`${base}/corrupt/data.bin`, dest, { sha256: sha(payload), ...fast }), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, /SHA-256 mismatch for .*data\.bin \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/);
      return true;
    });
    assert.ok(!existsSync(dest));
    assert.ok(!existsSync(`${dest}.part`));
  });

  test('a server that always truncates: fails after the retries, partial data kept for later', async () => {
    const dest = join(tempDir(), 'data.bin');
    await assert.rejects(downloadFile(`${base}/cut/data.bin`, dest, { sha256: sha(payload), retries: 2, ...fast }), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, /download failed after 3 attempts \(.*\); \d+ bytes kept in .*data\.bin\.part to resume from/);
      return true;
    });
    assert.ok(!existsSync(dest));
    const part = readFileSync(`${dest}.part`);
    assert.ok(part.length > 0 && part.length < payload.length);
    assert.ok(part.equals(payload.subarray(0, part.length)));
  });

  test('HTTP 404 and a mirror list (the second mirror works)', async () => {
    const dest = join(tempDir(), 'data.bin');
    await assert.rejects(downloadFile(`${base}/good/nothing.bin`, dest, { ...fast }), /HTTP 404/);
    await downloadFile([`${base}/good/nothing.bin`, `${base}/good/data.bin`], dest, { sha256: sha(payload), ...fast });
    assert.ok(readFileSync(dest).equals(payload));
  });

  test('redirects: to another origin over http, or to an unlisted host, are refused', async () => {
    const dest = join(tempDir(), 'data.bin');
    await assert.rejects(downloadFile(`${base}/tohttp/data.bin`, dest, { sha256: sha(payload), ...fast }), /redirect to http:\/\/localhost:\d+ refused \(only https, or the same http origin\)/);
    await assert.rejects(downloadFile(`${base}/tohttp/data.bin`, dest, { sha256: sha(payload), allowedHosts: ['localhost'], ...fast }), /refused \(only https/);
    await assert.rejects(downloadFile(`${base}/tohost/data.bin`, dest, { sha256: sha(payload), ...fast }), /redirect to host mirror\.invalid refused \(only 127\.0\.0\.1\)/);
    assert.ok(!existsSync(dest));
  });

  test('byte cap: a server announcing or sending more than the expected size is cut off', async () => {
    const d = tempDir();
    await assert.rejects(downloadFile(`${base}/huge/data.bin`, join(d, 'a.bin'), { sha256: sha(payload), size: payload.length, ...fast }), /announces 3000000 bytes, more than the 300000 expected/);
    const t0 = Date.now();
    await assert.rejects(downloadFile(`${base}/endless/data.bin`, join(d, 'b.bin'), { sha256: sha(payload), size: payload.length, ...fast }), /sent more than the 300000 bytes expected/);
    assert.ok(Date.now() - t0 < 10_000);
    await assert.rejects(downloadFile(`${base}/endless/data.bin`, join(d, 'c.bin'), { maxBytes: 5 << 20, ...fast }), /sent more than the 5242880 bytes expected/);
    assert.ok(!existsSync(join(d, 'b.bin.part')) && !existsSync(join(d, 'c.bin.part')), 'over-cap bytes are not kept');
  });

  test('a checksum mismatch tries the next mirror', async () => {
    const dest = join(tempDir(), 'data.bin');
    requests.length = 0;
    await downloadFile([`${base}/corrupt/data.bin`, `${base}/good/data.bin`], dest, { sha256: sha(payload), size: payload.length, ...fast });
    assert.ok(readFileSync(dest).equals(payload));
    assert.deepEqual(requests.map((r) => [r.url, r.range]), [['/corrupt/data.bin', undefined], ['/good/data.bin', undefined]]);
  });

  test('a file already in place is re-verified: tampered (same size) means downloaded again', async () => {
    const dest = join(tempDir(), 'data.bin');
    await downloadFile(`${base}/good/data.bin`, dest, { sha256: sha(payload), size: payload.length, ...fast });
    assert.ok(existsSync(`${dest}.verified`));
    const bad = Buffer.from(payload);
    bad[10] ^= 1;
    writeFileSync(dest, bad); // new mtime: the marker no longer describes it
    requests.length = 0;
    await downloadFile(`${base}/good/data.bin`, dest, { sha256: sha(payload), size: payload.length, ...fast });
    assert.equal(requests.length, 1, 'downloaded again');
    assert.ok(readFileSync(dest).equals(payload));
  });

  test('an overall deadline stops a trickling server', async () => {
    const dest = join(tempDir(), 'data.bin');
    const t0 = Date.now();
    await assert.rejects(downloadFile(`${base}/slow/data.bin`, dest, { deadlineMs: 600, ...fast }), (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.match(e.message, /download did not finish within 1 s \(the deadline\)/);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000, `stopped near the deadline (${Date.now() - t0} ms)`);
  });

  test('resolveDataset downloads a named dataset into the cache when it is found nowhere', async () => {
    const n = 20;
    const mk = (name: string, b: Buffer): RemoteFile => {
      files.set(`/mnist/${name}`, b);
      return { file: name, urls: [`${base}/flaky/mnist/${name}`], sha256: sha(b), size: b.length };
    };
    flakyServed = 0;
    const remote = [
      mk('train-images-idx3-ubyte.gz', idxBytes([n, 28, 28], bytes(n * 784, 5), true)),
      mk('train-labels-idx1-ubyte.gz', idxBytes([n], Uint8Array.from({ length: n }, (_, i) => i % 10), true)),
      mk('t10k-images-idx3-ubyte.gz', idxBytes([4, 28, 28], bytes(4 * 784, 6), true)),
      mk('t10k-labels-idx1-ubyte.gz', idxBytes([4], Uint8Array.from([1, 2, 3, 4]), true)),
    ];
    const cacheDir = tempDir();
    const opts = { cacheDir, dataDir: tempDir(), systemDirs: { mnist: [] }, remoteFiles: { mnist: remote }, downloadOptions: fast };
    await assert.rejects(resolveDataset('mnist', { ...opts, download: false }), (e: unknown) => e instanceof DataError && /downloading is off/.test(e.message));
    const s = await resolveDataset('mnist', opts);
    assert.equal(s.source, `download:${join(cacheDir, 'mnist')}`);
    assert.deepEqual(s.train.shape, [n, 1, 28, 28]);
    assert.deepEqual(Array.from(s.test?.labels ?? []), [1, 2, 3, 4]);
    // Second time: found in the cache, no download.
    const again = await resolveDataset('mnist', { ...opts, download: false });
    assert.equal(again.source, join(cacheDir, 'mnist'));
    // A cached file that changed is not used: it is removed and downloaded again.
    const cached = join(cacheDir, 'mnist', 'train-labels-idx1-ubyte.gz');
    const b = readFileSync(cached);
    b[b.length - 1] ^= 1;
    writeFileSync(cached, b);
    await assert.rejects(resolveDataset('mnist', { ...opts, download: false }), /downloading is off/);
    const fresh = await resolveDataset('mnist', opts);
    assert.equal(fresh.source, `download:${join(cacheDir, 'mnist')}`);
  });
});
