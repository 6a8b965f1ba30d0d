/**
 * Minimal streaming tar reader (ustar, GNU long names, pax `path`), for .tar and .tar.gz archives such as the
 * official CIFAR binary tarballs. Only the wanted entries are kept in memory.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { DataError, asDataError } from './errors.js';

const BLOCK = 512;

function readString(b: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

function readOctal(b: Buffer, off: number, len: number): number {
  if (b[off] & 0x80) {
    // GNU base-256 encoding.
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    return v;
  }
  const s = readString(b, off, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = readOctal(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return sum === stored;
}

class Collector {
  readonly buf: Buffer;
  filled = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
}

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

/**
 * Reads the regular-file entries of a tar or tar.gz archive whose (normalised) name passes `want`.
 * Throws a DataError naming the archive on a truncated or corrupt archive.
 */
export async function readTarEntries(file: string, want: (name: string) => boolean): Promise<Map<string, Buffer>> {
  let gz: boolean;
  try {
    gz = await isGzFile(file);
  } catch (err) {
    throw asDataError(err, file, 'a tar archive');
  }
  const src = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream: Readable = gz ? src.pipe(createGunzip({ chunkSize: 1 << 20 })) : src;
  if (gz) src.on('error', (e) => stream.destroy(e));
  const out = new Map<string, Buffer>();

  const pending: Buffer[] = [];
  let pendingLen = 0;
  const take = (n: number): Buffer => {
    const first = pending[0];
    if (first.length >= n) {
      const r = first.subarray(0, n);
      if (first.length === n) pending.shift();
      else pending[0] = first.subarray(n);
      pendingLen -= n;
      return r;
    }
    const r = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = pending[0];
      const k = Math.min(c.length, n - o);
      c.copy(r, o, 0, k);
      o += k;
      if (k === c.length) pending.shift();
      else pending[0] = c.subarray(k);
    }
    pendingLen -= n;
    return r;
  };

  type State =
    | { kind: 'header' }
    | { kind: 'data'; remaining: number; pad: number; name: string; type: string; sink: Collector | null; meta: Buffer[] | null }
    | { kind: 'end' };
  let state: State = { kind: 'header' };
  let longName: string | null = null;
  let paxPath: string | null = null;
  let zeroBlocks = 0;

  const finishEntry = (s: Extract<State, { kind: 'data' }>): void => {
    if (s.type === 'L' && s.meta) {
      longName = readString(Buffer.concat(s.meta), 0, Buffer.concat(s.meta).length);
    } else if (s.type === 'x' && s.meta) {
      const text = Buffer.concat(s.meta).toString('utf8');
      for (const line of text.split('\n')) {
        const m = /^\d+ path=(.*)$/.exec(line);
        if (m) paxPath = m[1];
      }
    } else if (s.sink) {
      out.set(s.name, s.sink.buf);
    }
  };

  const step = (): boolean => {
    if (state.kind === 'end') {
      pending.length = 0;
      pendingLen = 0;
      return false;
    }
    if (state.kind === 'header') {
      if (pendingLen < BLOCK) return false;
      const h = take(BLOCK);
      if (h.every((b) => b === 0)) {
        zeroBlocks++;
        if (zeroBlocks >= 2) state = { kind: 'end' };
        return true;
      }
      zeroBlocks = 0;
      if (!checksumOk(h)) throw new DataError(`${file}: corrupt tar header (bad checksum); expected a valid tar archive`, file);
      let name = readString(h, 0, 100);
      const magic = readString(h, 257, 6);
      if (magic.startsWith('ustar')) {
        const prefix = readString(h, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (longName !== null) {
        name = longName;
        longName = null;
      }
      if (paxPath !== null) {
        name = paxPath;
        paxPath = null;
      }
      name = name.replace(/^\.\//, '');
      const size = readOctal(h, 124, 12);
      const type = String.fromCharCode(h[156] || 0x30);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      const isFile = type === '0' || type === '7';
      const isMeta = type === 'L' || type === 'x';
      const sink = isFile && want(name) ? new Collector(size) : null;
      state = { kind: 'data', remaining: size, pad, name, type, sink, meta: isMeta ? [] : null };
      if (size === 0) {
        finishEntry(state);
        state = { kind: 'header' };
      }
      return true;
    }
    // data
    const s = state;
    if (s.remaining > 0) {
      if (pendingLen === 0) return false;
      const k = Math.min(s.remaining, pending[0].length);
      const piece = take(k);
      if (s.sink) {
        piece.copy(s.sink.buf, s.sink.filled);
        s.sink.filled += k;
      } else if (s.meta) {
        s.meta.push(Buffer.from(piece));
      }
      s.remaining -= k;
      return true;
    }
    if (pendingLen < s.pad) return false;
    if (s.pad > 0) take(s.pad);
    finishEntry(s);
    state = { kind: 'header' };
    return true;
  };

  try {
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      if ((state as State).kind === 'end') continue;
      pending.push(b);
      pendingLen += b.length;
      while (step()) {
        /* consume */
      }
    }
  } catch (err) {
    src.destroy();
    if (err instanceof DataError) throw err;
    const msg = (err as Error).message;
    if (/unexpected end/i.test(msg)) throw new DataError(`${file}: truncated gzip stream (expected a complete .tar.gz archive)`, file);
    throw asDataError(err, file, 'a tar archive');
  }
  const s = state as State;
  if (s.kind === 'data') {
    throw new DataError(`${file}: truncated tar archive (entry ${s.name} is missing ${s.remaining + s.pad} bytes)`, file);
  }
  if (s.kind === 'header' && pendingLen > 0) {
    throw new DataError(`${file}: truncated tar archive (${pendingLen} stray bytes at the end; expected 512-byte blocks)`, file);
  }
  if (s.kind === 'header' && zeroBlocks === 0) {
    throw new DataError(`${file}: truncated tar archive (no end-of-archive marker)`, file);
  }
  return out;
}

/** Writes a ustar archive (regular files only) into a Buffer; used by tests to build fixture archives. */
export function writeTar(entries: { name: string; data: Uint8Array }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(BLOCK);
    if (Buffer.byteLength(e.name) > 100) throw new Error(`tar entry name too long: ${e.name}`);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100, 8, 'ascii');
    h.write('0000000\0', 108, 8, 'ascii');
    h.write('0000000\0', 116, 8, 'ascii');
    h.write(e.data.length.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii');
    h.write('00000000000\0', 136, 12, 'ascii');
    h.write('        ', 148, 8, 'ascii');
    h[156] = 0x30;
    h.write('ustar\0', 257, 6, 'ascii');
    h.write('00', 263, 2, 'ascii');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += h[i];
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
    blocks.push(h, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
    const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(blocks);
}
