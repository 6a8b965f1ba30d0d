import { readFile, stat } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { DataError, asDataError } from './errors.js';

const gunzipAsync = promisify(gunzip);

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Reads a whole file, gunzipping it when it starts with the gzip magic. Errors name the file. */
export async function readMaybeGz(file: string, what: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw asDataError(err, file, what);
  }
  if (!isGzip(raw)) return raw;
  try {
    return await gunzipAsync(raw);
  } catch (err) {
    const msg = (err as Error).message;
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
