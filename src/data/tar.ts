/**
 * Reads the wanted regular files of a .tar or .tar.gz archive (the official CIFAR binary tarballs) with
 * `tar-stream` (ustar, GNU long names, pax), keeping only those entries in memory.
 *
 * Caps, so that a hostile archive costs bounded memory and time: tar-stream refuses pax / GNU long-name
 * records over 4 MiB; names over MAX_NAME_BYTES are refused; a kept entry may not exceed
 * `maxEntryBytes` (checked on its header, before anything is collected); and the decompressed stream
 * may not exceed `maxTotalBytes` (a gzip bomb stops there, whatever the headers say).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { DataError, asDataError } from './errors.js';

/** Longest entry name accepted (bytes); POSIX PATH_MAX. */
export const MAX_NAME_BYTES = 4096;

export interface TarLimits {
  /** Largest single entry kept in memory (default 1 GiB; CIFAR-100's train.bin is 150 MB). */
  maxEntryBytes?: number;
  /** Most bytes the (decompressed) tar stream may hold in all (default 4 GiB). */
  maxTotalBytes?: number;
}

const DEFAULT_MAX_ENTRY = 1 << 30;
const DEFAULT_MAX_TOTAL = 4 * 2 ** 30;

async function isGzFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Passes bytes through, failing once more than `max` have gone by. */
function byteCap(file: string, max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      seen += chunk.length;
      if (seen > max) cb(new DataError(`${file}: archive decompresses to more than ${max} bytes (the limit); corrupt or a decompression bomb`, file));
      else cb(null, chunk);
    },
  });
}

/** A tar-stream or zlib failure, as one line naming the archive. */
function tarError(err: unknown, file: string): DataError {
  if (err instanceof DataError) return err;
  const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
  if (/unexpected end|premature close|Unexpected end of data/i.test(msg)) return new DataError(`${file}: truncated tar archive (expected a complete .tar or .tar.gz)`, file);
  if (/incorrect header check|invalid (block type|distance|code|stored)|too many length|header check/i.test(msg)) {
    return new DataError(`${file}: corrupt gzip data (${msg}); expected a .tar.gz archive`, file);
  }
  if (/header|checksum|Invalid tar/i.test(msg)) return new DataError(`${file}: corrupt tar header (${msg})`, file);
  return asDataError(err, file, 'a tar archive');
}

/**
 * Reads the regular-file entries of a tar or tar.gz archive whose name (leading './' removed) passes
 * `want`. Throws a DataError naming the archive on a truncated, corrupt or over-limit archive.
 */
export async function readTarEntries(file: string, want: (name: string) => boolean, limits: TarLimits = {}): Promise<Map<string, Buffer>> {
  const maxEntry = limits.maxEntryBytes ?? DEFAULT_MAX_ENTRY;
  const maxTotal = limits.maxTotalBytes ?? DEFAULT_MAX_TOTAL;
  let gz: boolean;
  try {
    gz = await isGzFile(file);
  } catch (err) {
    throw asDataError(err, file, 'a tar archive');
  }
  const out = new Map<string, Buffer>();
  let sawEnd = false;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '');
    const keep = (header.type === 'file' || header.type === 'contiguous-file') && want(name);
    const fail = (msg: string): void => {
      stream.resume();
      extract.destroy(new DataError(`${file}: entry '${name.slice(0, 200)}' ${msg}`, file));
    };
    if (Buffer.byteLength(header.name) > MAX_NAME_BYTES) return fail(`has a ${Buffer.byteLength(header.name)}-byte name, over the ${MAX_NAME_BYTES}-byte limit`);
    const size = header.size ?? 0;
    if (!Number.isSafeInteger(size) || size < 0) return fail(`declares size ${String(header.size)}`);
    if (keep && size > maxEntry) return fail(`is ${size} bytes, over the ${maxEntry}-byte limit for one entry`);
    if (!keep) {
      stream.resume();
      // tar-stream never ends the stream of a non-file entry that declares data (a 'directory' of
      // 5 bytes hung the reader): only regular files are waited for.
      if (header.type === 'file' || header.type === 'contiguous-file') stream.on('end', () => next());
      else next();
      return;
    }
    const buf = Buffer.allocUnsafe(size);
    let filled = 0;
    stream.on('data', (data: unknown) => {
      const chunk = data as Buffer;
      // tar-stream hands out exactly `size` bytes; the check guards the copy all the same.
      if (filled + chunk.length > size) return fail(`holds more than its declared ${size} bytes`);
      chunk.copy(buf, filled);
      filled += chunk.length;
    });
    stream.on('end', () => {
      out.set(name, buf.subarray(0, filled));
      next();
    });
  });
  extract.on('finish', () => (sawEnd = true));
  const src = createReadStream(file, { highWaterMark: 1 << 20 });
  const stages: (Readable | Transform | tar.Extract)[] = gz ? [src, createGunzip({ chunkSize: 1 << 20 }), byteCap(file, maxTotal), extract] : [src, byteCap(file, maxTotal), extract];
  try {
    await pipeline(stages as [Readable, ...Transform[]]);
  } catch (err) {
    throw tarError(err, file);
  }
  if (!sawEnd) throw new DataError(`${file}: truncated tar archive (expected a complete .tar or .tar.gz)`, file);
  return out;
}
