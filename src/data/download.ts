/**
 * Resumable, verified downloads: bytes go to `<dest>.part` (appended with an HTTP Range request when a
 * previous attempt left one), the finished file is checked against its SHA-256 and only then renamed to
 * `dest`. A corrupted download is removed; a truncated one is resumed on the next attempt.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, truncate, unlink } from 'node:fs/promises';
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
}

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

function request(url: string, headers: Record<string, string>, timeoutMs: number, redirects = 5): Promise<http.IncomingMessage> {
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
    const req = mod.get(u, { headers: { 'user-agent': 'wide-resnet', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) {
          reject(new DataError(`${url}: too many redirects`));
          return;
        }
        request(new URL(res.headers.location, u).toString(), headers, timeoutMs, redirects - 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One URL, with resume-and-retry. Resolves once `<dest>.part` holds the complete body (unverified). */
async function fetchToPart(url: string, part: string, opts: DownloadOptions): Promise<void> {
  const retries = opts.retries ?? 3;
  const delay = opts.retryDelayMs ?? 500;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let lastErr: unknown = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0 && delay > 0) await sleep(delay * attempt);
    let start = Math.max(0, await fileSize(part));
    if (opts.size !== undefined && start > opts.size) {
      await truncate(part, 0);
      start = 0;
    }
    if (opts.size !== undefined && start === opts.size) return;
    let res: http.IncomingMessage;
    try {
      res = await request(url, start > 0 ? { range: `bytes=${start}-` } : {}, timeoutMs);
    } catch (err) {
      if (err instanceof DataError) throw err;
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

/**
 * Downloads `url` (or the first mirror that works) to `dest`, verifying `sha256`. Returns `dest`.
 * If `dest` already exists it is trusted (it was only ever renamed into place after verification).
 */
export async function downloadFile(url: string | readonly string[], dest: string, opts: DownloadOptions = {}): Promise<string> {
  const urls = typeof url === 'string' ? [url] : [...url];
  if (urls.length === 0) throw new DataError(`${dest}: no download URL`, dest);
  if ((await fileSize(dest)) >= 0) return dest;
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const errors: string[] = [];
  for (const u of urls) {
    try {
      await fetchToPart(u, part, opts);
    } catch (err) {
      errors.push((err as Error).message);
      continue;
    }
    if (opts.sha256) {
      const got = await sha256File(part);
      if (got !== opts.sha256.toLowerCase()) {
        await unlink(part).catch(() => undefined);
        throw new DataError(`${u}: SHA-256 mismatch for ${dest} (expected ${opts.sha256}, got ${got}); the corrupted download was removed`, dest);
      }
    }
    if (opts.size !== undefined) {
      const have = await fileSize(part);
      if (have !== opts.size) {
        await unlink(part).catch(() => undefined);
        throw new DataError(`${u}: downloaded ${have} bytes for ${dest}, expected ${opts.size}; the download was removed`, dest);
      }
    }
    await rename(part, dest);
    return dest;
  }
  throw new DataError(errors.length === 1 ? errors[0] : `${dest}: every mirror failed: ${errors.join('; ')}`, dest);
}
