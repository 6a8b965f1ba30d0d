/**
 * Resumable, verified downloads: bytes go to `<dest>.part` (appended with an HTTP Range request when a
 * previous attempt left one), the finished file is checked against its SHA-256 and only then renamed to
 * `dest`, beside a `<dest>.verified` marker. A corrupted download is removed and the next mirror tried;
 * a truncated one is resumed on the next attempt.
 *
 * Safety: redirects go only to https (or stay on the very origin of an http URL) and only to the
 * original host or `allowedHosts`; a body may not exceed the expected size (or `maxBytes`); the whole
 * download has a deadline; a file already in place is re-hashed unless its marker still matches it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { DataError } from './errors.js';

export interface DownloadOptions {
  /** Expected SHA-256 (hex) of the whole file; strongly recommended. */
  sha256?: string;
  /** Expected size in bytes (lets a complete `.part` skip the request). */
  size?: number;
  /** Attempts per URL after the first (each resumes from the `.part` file). Default 3. */
  retries?: number;
  /** Delay before a retry, multiplied by the attempt number. Default 500 ms. */
  retryDelayMs?: number;
  /** Socket idle timeout. Default 60 s. */
  timeoutMs?: number;
  /** Called as bytes arrive. */
  onProgress?: (received: number, total: number | undefined) => void;
  /** Hosts a redirect may lead to besides the URL's own (default none). */
  allowedHosts?: readonly string[];
  /** Most bytes accepted when `size` is not given (default 4 GiB). */
  maxBytes?: number;
  /** Deadline for the whole download, every mirror and retry included. Default 2 hours. */
  deadlineMs?: number;
}

const DEFAULT_MAX_BYTES = 4 * 2 ** 30;
const DEFAULT_DEADLINE_MS = 2 * 3600_000;
const MAX_REDIRECTS = 5;

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return -1;
  }
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Whether a redirect from `from` to `to` is allowed: never to plain http elsewhere, never to a host not listed. */
function redirectAllowed(from: URL, to: URL, origin: URL, allowedHosts: readonly string[]): string | null {
  if (to.protocol !== 'https:' && !(to.protocol === from.protocol && to.origin === from.origin)) {
    return `redirect to ${to.protocol}//${to.host} refused (only https, or the same http origin)`;
  }
  if (to.hostname !== origin.hostname && !allowedHosts.includes(to.hostname)) {
    return `redirect to host ${to.hostname} refused (only ${[origin.hostname, ...allowedHosts].join(', ')})`;
  }
  return null;
}

interface RequestContext {
  headers: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  allowedHosts: readonly string[];
}

function request(url: string, ctx: RequestContext, origin?: URL, redirects = MAX_REDIRECTS): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new DataError(`${url}: invalid URL`));
      return;
    }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!mod) {
      reject(new DataError(`${url}: unsupported protocol ${u.protocol} (expected http or https)`));
      return;
    }
    const first = origin ?? u;
    const req = mod.get(u, { headers: { 'user-agent': 'wide-resnet', ...ctx.headers }, signal: ctx.signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) {
          reject(new DataError(`${first.href}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        let to: URL;
        try {
          to = new URL(res.headers.location, u);
        } catch {
          reject(new DataError(`${first.href}: redirect to an invalid URL`));
          return;
        }
        const why = redirectAllowed(u, to, first, ctx.allowedHosts);
        if (why !== null) {
          reject(new DataError(`${first.href}: ${why}`));
          return;
        }
        request(to.href, ctx, first, redirects - 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.setTimeout(ctx.timeoutMs, () => req.destroy(new Error(`no data for ${ctx.timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

/** The byte cap of one download: its expected size when known, else `maxBytes`. */
function byteCap(opts: DownloadOptions): number {
  return opts.size ?? opts.maxBytes ?? DEFAULT_MAX_BYTES;
}

/** One URL, with resume-and-retry. Resolves once `<dest>.part` holds the complete body (unverified). */
async function fetchToPart(url: string, part: string, opts: DownloadOptions, signal: AbortSignal): Promise<void> {
  const retries = opts.retries ?? 3;
  const delay = opts.retryDelayMs ?? 500;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const cap = byteCap(opts);
  let lastErr: unknown = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0 && delay > 0) await sleep(delay * attempt, signal);
    if (signal.aborted) throw signal.reason;
    let start = Math.max(0, await fileSize(part));
    if (opts.size !== undefined && start > opts.size) {
      await truncate(part, 0);
      start = 0;
    }
    if (opts.size !== undefined && start === opts.size) return;
    let res: http.IncomingMessage;
    try {
      res = await request(url, { headers: start > 0 ? { range: `bytes=${start}-` } : {}, timeoutMs, signal, allowedHosts: opts.allowedHosts ?? [] });
    } catch (err) {
      if (err instanceof DataError) throw err;
      if (signal.aborted) throw signal.reason;
      lastErr = err;
      continue;
    }
    const status = res.statusCode ?? 0;
    if (status === 416 && start > 0) {
      // Nothing left to send: the part file is (presumably) complete; verification decides.
      res.resume();
      return;
    }
    if (status !== 200 && status !== 206) {
      res.resume();
      lastErr = new HttpStatusError(status, url);
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) break; // not worth retrying
      continue;
    }
    let append = false;
    let total: number | undefined;
    const len = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
      if (!m || Number(m[1]) !== start) {
        // A range we did not ask for: start over.
        res.resume();
        await truncate(part, 0).catch(() => undefined);
        lastErr = new Error(`unexpected Content-Range '${res.headers['content-range'] ?? ''}'`);
        continue;
      }
      append = true;
      total = m[3] !== '*' ? Number(m[3]) : len !== undefined ? start + len : undefined;
    } else {
      total = len;
    }
    const expectEnd = total ?? opts.size;
    if (expectEnd !== undefined && expectEnd > cap) {
      res.destroy();
      throw new DataError(`${url}: the server announces ${expectEnd} bytes, more than the ${cap} expected`, part);
    }
    let received = append ? start : 0;
    // Everything that arrives is written out, even when the connection drops mid-body, so the next
    // attempt resumes from the last byte received.
    const ws = createWriteStream(part, { flags: append ? 'a' : 'w' });
    let writeErr: Error | null = null;
    ws.on('error', (e) => (writeErr = e));
    const transferErr = await new Promise<Error | null>((resolve) => {
      let err: Error | null = null;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > cap) {
          err = err ?? new DataError(`${url}: sent more than the ${cap} bytes expected; download stopped`, part);
          res.destroy();
          return;
        }
        opts.onProgress?.(received, expectEnd);
        // No backpressure pause: a paused response that is then reset drops what it buffered. The disk
        // outpaces the network; the write stream buffers the rest.
        ws.write(chunk);
      });
      res.on('error', (e) => (err = err ?? e));
      res.on('aborted', () => (err = err ?? new Error('connection aborted')));
      res.on('end', () => resolve(err));
      res.on('close', () => resolve(err ?? (res.complete ? null : new Error('connection closed early'))));
    });
    await new Promise<void>((resolve) => ws.end(() => resolve()));
    if (writeErr) throw new DataError(`${part}: cannot write the download (${(writeErr as Error).message})`, part);
    if (transferErr instanceof DataError) {
      await unlink(part).catch(() => undefined);
      throw transferErr;
    }
    if (signal.aborted) throw signal.reason;
    if (transferErr) {
      lastErr = transferErr; // truncated transfer: the part file keeps what arrived; resume next attempt
      continue;
    }
    const have = await fileSize(part);
    if (expectEnd !== undefined && have < expectEnd) {
      lastErr = new Error(`connection closed after ${have} of ${expectEnd} bytes`);
      continue;
    }
    return;
  }
  const why = lastErr instanceof Error ? lastErr.message : String(lastErr);
  const kept = await fileSize(part);
  const tail = kept > 0 ? `; ${kept} bytes kept in ${part} to resume from` : '';
  throw new DataError(`${url}: download failed after ${retries + 1} attempts (${why})${tail}`, part);
}

/** The marker written beside a verified file: its SHA-256, size and modification time. */
function markerPath(dest: string): string {
  return `${dest}.verified`;
}

async function writeMarker(dest: string, sha256: string): Promise<void> {
  const st = await stat(dest);
  await writeFile(markerPath(dest), JSON.stringify({ sha256, size: st.size, mtimeMs: st.mtimeMs }) + '\n');
}

/**
 * Whether `dest` (already on disk) is the file expected: its marker still describes it, or else its
 * SHA-256 is computed afresh (and the marker written). A file that fails is removed, with its marker.
 */
export async function verifyExisting(dest: string, sha256: string | undefined, size?: number): Promise<boolean> {
  let st;
  try {
    st = await stat(dest);
  } catch {
    return false;
  }
  if (size !== undefined && st.size !== size) {
    await removeWithMarker(dest);
    return false;
  }
  if (sha256 === undefined) return true;
  const want = sha256.toLowerCase();
  try {
    const m = JSON.parse(await readFile(markerPath(dest), 'utf8')) as { sha256?: unknown; size?: unknown; mtimeMs?: unknown };
    if (m.sha256 === want && m.size === st.size && m.mtimeMs === st.mtimeMs) return true;
  } catch {
    // no marker, or not ours: hash the file
  }
  if ((await sha256File(dest)) !== want) {
    await removeWithMarker(dest);
    return false;
  }
  await writeMarker(dest, want);
  return true;
}

async function removeWithMarker(dest: string): Promise<void> {
  await unlink(dest).catch(() => undefined);
  await unlink(markerPath(dest)).catch(() => undefined);
}

/**
 * Downloads `url` (or the first mirror that works and verifies) to `dest`, verifying `sha256` and
 * `size`. Returns `dest`. A file already at `dest` is used when it verifies (see verifyExisting), else
 * replaced.
 */
export async function downloadFile(url: string | readonly string[], dest: string, opts: DownloadOptions = {}): Promise<string> {
  const urls = typeof url === 'string' ? [url] : [...url];
  if (urls.length === 0) throw new DataError(`${dest}: no download URL`, dest);
  if (await verifyExisting(dest, opts.sha256, opts.size)) return dest;
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const errors: string[] = [];
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new DataError(`${dest}: download did not finish within ${Math.round(deadlineMs / 1000)} s (the deadline)`, dest)), deadlineMs);
  try {
    for (const u of urls) {
      try {
        await fetchToPart(u, part, opts, abort.signal);
      } catch (err) {
        if (abort.signal.aborted) throw abort.signal.reason;
        errors.push((err as Error).message);
        continue;
      }
      const bad = await checkPart(u, part, dest, opts);
      if (bad !== null) {
        // A corrupted copy from this mirror: remove it so the next mirror starts from byte 0.
        await unlink(part).catch(() => undefined);
        errors.push(bad);
        continue;
      }
      await rename(part, dest);
      if (opts.sha256) await writeMarker(dest, opts.sha256.toLowerCase());
      return dest;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new DataError(errors.length === 1 ? errors[0] : `${dest}: every mirror failed: ${errors.join('; ')}`, dest);
}

/** Why the finished `.part` is not the expected file (null when it is). */
async function checkPart(u: string, part: string, dest: string, opts: DownloadOptions): Promise<string | null> {
  if (opts.size !== undefined) {
    const have = await fileSize(part);
    if (have !== opts.size) return `${u}: downloaded ${have} bytes for ${dest}, expected ${opts.size}; the download was removed`;
  }
  if (opts.sha256) {
    const got = await sha256File(part);
    if (got !== opts.sha256.toLowerCase()) return `${u}: SHA-256 mismatch for ${dest} (expected ${opts.sha256}, got ${got}); the corrupted download was removed`;
  }
  return null;
}
