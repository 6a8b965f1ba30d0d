import { readFile, stat } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { DataError, asDataError } from './errors.js';

const gunzipAsync = promisify(gunzip);

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Default cap on a gunzipped file (Fashion-MNIST's largest is 47 MB). */
export const MAX_GUNZIP_BYTES = 1 << 30;

/**
 * Reads a whole file, gunzipping it when it starts with the gzip magic; the output is capped at
 * `maxBytes` (a gzip bomb stops there). Errors name the file.
 */
export async function readMaybeGz(file: string, what: string, maxBytes = MAX_GUNZIP_BYTES): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw asDataError(err, file, what);
  }
  if (!isGzip(raw)) return raw;
  try {
    return await gunzipAsync(raw, { maxOutputLength: maxBytes });
  } catch (err) {
    const msg = (err as Error).message;
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(`${file}: decompresses to more than ${maxBytes} bytes (the limit); corrupt or a decompression bomb, expected a gzipped ${what}`, file);
    }
    if (/unexpected end/i.test(msg)) {
      throw new DataError(`${file}: truncated gzip stream (expected a complete ${what})`, file);
    }
    throw new DataError(`${file}: corrupt gzip data (${msg}); expected a gzipped ${what}`, file);
  }
}

export async function pathKind(p: string): Promise<'file' | 'dir' | 'missing'> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}
