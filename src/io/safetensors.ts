/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors, format spec):
 *
 *   8 bytes   N, unsigned little-endian 64-bit: the header's length in bytes
 *   N bytes   UTF-8 JSON object: { "<name>": { "dtype", "shape", "data_offsets": [begin, end] }, ...,
 *             "__metadata__"?: { string: string } }, padded with spaces (we pad to a multiple of 8)
 *   rest      the data buffer; offsets are relative to its start, contiguous, non-overlapping and
 *             cover it exactly.
 *
 * Loaded element types (what `data` holds):
 *   F32, F16, BF16  -> Float32Array (F16/BF16 are upcast; `dtype` still reports the stored type)
 *   F64             -> Float64Array (or Float32Array with `{ float64: 'float32' }`)
 *   I64             -> Int32Array by default, every value range-checked (labels, indices and counters fit;
 *                      an out-of-range value is an error naming the tensor). `{ int64: 'bigint' }` gives a
 *                      lossless BigInt64Array instead.
 *   I32 -> Int32Array, U8 -> Uint8Array, I8 -> Int8Array (quantized weights)
 *
 * Every error is a `SafetensorsError` whose one-line message starts with the file name and names the
 * tensor or field and what was expected. The readers never trust the header: sizes are validated
 * before anything is allocated, so a malformed file fails fast instead of allocating or hanging.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { decodeBF16, decodeF16, encodeHalf } from './half.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'I8';
export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'I8'];

/** Every dtype name of the spec, so that a valid-but-unsupported one gets a precise message. */
const SPEC_DTYPES = new Set([
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
]);

export const ITEM_SIZE: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, I8: 1 };

/** The spec's bound on the header size. */
export const MAX_HEADER_BYTES = 100_000_000;

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface TensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte range inside the data buffer (relative to its start). */
  readonly dataOffsets: readonly [number, number];
}

export interface LoadedTensor {
  /** The stored dtype (F16/BF16 data is nevertheless a Float32Array). */
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export interface ReadOptions {
  /** I64 tensors as range-checked Int32Array ('int32', default) or BigInt64Array ('bigint'). */
  readonly int64?: 'int32' | 'bigint';
  /** F64 tensors kept as Float64Array ('keep', default) or rounded to Float32Array ('float32'). */
  readonly float64?: 'keep' | 'float32';
}

export interface SafetensorsFile {
  readonly tensors: Map<string, LoadedTensor>;
  readonly metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

if (os.endianness() !== 'LE') {
  // Typed arrays use the platform's byte order; safetensors is little-endian. Node runs on LE hosts only today.
  throw new Error('safetensors: big-endian hosts are not supported');
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation (shared by the eager, lazy and in-memory readers)

export interface ParsedHeader {
  /** Tensors in header order. */
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  /** Bytes before the data buffer: 8 + N. */
  readonly dataStart: number;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Finds the first duplicate key in any object of an already-valid JSON text. JSON.parse keeps the last
 * value of a repeated key silently; the spec forbids duplicate tensor names, so we look for them.
 */
export function findDuplicateJsonKey(text: string): { key: string; path: string } | null {
  interface Frame { obj: boolean; keys: Set<string> | null; expectKey: boolean; name: string }
  const stack: Frame[] = [];
  let lastKey = '';
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      i++;
      let escaped = false;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) { escaped = true; i += 2; continue; }
        if (d === 0x22) break;
        i++;
      }
      const top = stack[stack.length - 1];
      if (top !== undefined && top.obj && top.expectKey) {
        const raw = text.slice(start, i + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys === null) top.keys = new Set();
        if (top.keys.has(key)) {
          const path = stack.map((f) => f.name).filter((x) => x !== '').join('.');
          return { key, path };
        }
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const top = stack[stack.length - 1];
      const name = top === undefined || !top.obj ? '' : lastKey; // elements of arrays add nothing to the path
      stack.push({ obj: c === 0x7b, keys: null, expectKey: c === 0x7b, name });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top !== undefined && top.obj) top.expectKey = true;
    }
  }
  return null;
}

/** Sets an own enumerable property, also for names such as '__proto__'. */
function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the header bytes against a data buffer of `dataLength` bytes. */
export function parseHeader(file: string, headerBytes: Uint8Array, dataLength: number): ParsedHeader {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${file}: ${msg}`);
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    return fail('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isPlainObject(json)) return fail(`header must be a JSON object, got ${Array.isArray(json) ? 'an array' : typeof json}`);
  const dup = findDuplicateJsonKey(text);
  if (dup !== null) {
    return fail(dup.path === '' ? `duplicate tensor name '${dup.key}' in header` : `duplicate key '${dup.key}' in header entry '${dup.path}'`);
  }

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) fail(`__metadata__ must be an object of strings`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ '${k}' must be a string, got ${JSON.stringify(v)}`);
        setOwn(metadata, k, v as string);
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (!isPlainObject(entry)) return fail(`${where} must be an object with dtype, shape, data_offsets`);
    const dtype = entry.dtype;
    if (typeof dtype !== 'string') return fail(`${where} has no dtype string`);
    if (!(SAFETENSORS_DTYPES as readonly string[]).includes(dtype)) {
      return fail(
        SPEC_DTYPES.has(dtype)
          ? `${where} has dtype ${dtype}, which this reader does not support (supported: ${SAFETENSORS_DTYPES.join(', ')})`
          : `${where} has unknown dtype '${dtype}' (supported: ${SAFETENSORS_DTYPES.join(', ')})`,
      );
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      return fail(`${where} shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = entry.data_offsets;
    if (
      !Array.isArray(offs) || offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) || (offs[0] as number) > (offs[1] as number)
    ) {
      return fail(`${where} data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offs)}`);
    }
    const dt = dtype as SafetensorsDtype;
    const dims = shape as number[];
    const [b, e] = offs as [number, number];
    let count = 1;
    for (const d of dims) count *= d;
    const need = count * ITEM_SIZE[dt];
    if (!Number.isSafeInteger(need) || need !== e - b) {
      return fail(`${where} data_offsets [${b},${e}] hold ${e - b} bytes, ${dt} ${fmtShape(dims)} needs ${need} bytes`);
    }
    tensors.set(name, { dtype: dt, shape: dims, dataOffsets: [b, e] });
  }

  // Offsets: sorted, they must tile [0, dataLength) exactly.
  const order = [...tensors.entries()].sort((x, y) => x[1].dataOffsets[0] - y[1].dataOffsets[0] || x[1].dataOffsets[1] - y[1].dataOffsets[1]);
  let pos = 0;
  let prev = '';
  for (const [name, info] of order) {
    const [b, e] = info.dataOffsets;
    if (b < pos) return fail(`tensor '${name}' data_offsets [${b},${e}] overlap tensor '${prev}' (which ends at ${pos})`);
    if (b > pos) {
      return fail(
        prev === ''
          ? `tensor '${name}' data_offsets [${b},${e}] leave a gap: the data buffer's first ${b} bytes belong to no tensor`
          : `tensor '${name}' data_offsets [${b},${e}] leave a gap of ${b - pos} bytes after tensor '${prev}' (which ends at ${pos})`,
      );
    }
    pos = e;
    prev = name;
  }
  if (pos !== dataLength) {
    return fail(
      pos > dataLength
        ? `tensor '${prev}' data_offsets end at ${pos}, past the data buffer's ${dataLength} bytes (file truncated?)`
        : `data buffer holds ${dataLength} bytes but the tensors cover only ${pos} (trailing bytes)`,
    );
  }
  return { tensors, metadata, dataStart: 8 + headerBytes.length };
}

function checkHeaderLength(file: string, n: bigint, fileSize: number): number {
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${file}: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`);
  }
  const len = Number(n);
  if (len < 2) throw new SafetensorsError(`${file}: header length ${len} is too small for a JSON object`);
  if (8 + len > fileSize) {
    throw new SafetensorsError(`${file}: header length ${len} runs past the end of the file (${fileSize} bytes; truncated?)`);
  }
  return len;
}

// ---------------------------------------------------------------------------------------------
// Decoding

function decode(file: string, name: string, info: TensorInfo, bytes: Uint8Array, opts: ReadOptions): TensorData {
  // `bytes` must be a fresh, exclusively owned buffer when the dtype maps 1:1 (we view it without copying).
  const aligned = bytes.byteOffset % 8 === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const own = (): ArrayBuffer => (aligned ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer as ArrayBuffer);
  switch (info.dtype) {
    case 'F32': return new Float32Array(own());
    case 'I32': return new Int32Array(own());
    case 'U8': return aligned ? bytes : bytes.slice();
    case 'I8': return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
    case 'F16': return decodeF16(bytes);
    case 'BF16': return decodeBF16(bytes);
    case 'F64': {
      const d = new Float64Array(own());
      return opts.float64 === 'float32' ? Float32Array.from(d) : d;
    }
    case 'I64': {
      const big = new BigInt64Array(own());
      if (opts.int64 === 'bigint') return big;
      const out = new Int32Array(big.length);
      for (let i = 0; i < big.length; i++) {
        const v = big[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new SafetensorsError(
            `${file}: tensor '${name}' (I64) value ${v} at index ${i} does not fit in int32; read with { int64: 'bigint' }`,
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
}

function readFully(file: string, fd: number, dst: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < dst.length) {
    const n = fs.readSync(fd, dst, done, dst.length - done, position + done);
    if (n === 0) throw new SafetensorsError(`${file}: unexpected end of file while reading ${what} (${done} of ${dst.length} bytes)`);
    done += n;
  }
}

function ioError(file: string, e: unknown): never {
  if (e instanceof SafetensorsError) throw e;
  const err = e as NodeJS.ErrnoException;
  throw new SafetensorsError(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
}

// ---------------------------------------------------------------------------------------------
// Readers

/**
 * A safetensors file opened for on-demand reads: only the header is held in memory; `read(name)` loads one
 * tensor from the file descriptor. Call `close()` when done.
 */
export class LazySafetensors {
  readonly file: string;
  readonly metadata: Record<string, string>;
  private readonly infos: Map<string, TensorInfo>;
  private readonly dataStart: number;
  private fd: number | null;

  private constructor(file: string, fd: number, header: ParsedHeader) {
    this.file = file;
    this.fd = fd;
    this.infos = header.tensors;
    this.metadata = header.metadata;
    this.dataStart = header.dataStart;
  }

  static open(file: string): LazySafetensors {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      return ioError(file, e);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new SafetensorsError(`${file}: not a regular file`);
      if (st.size < 8) throw new SafetensorsError(`${file}: ${st.size} bytes, too short for a safetensors file (8-byte header length missing)`);
      const lenBuf = Buffer.alloc(8);
      readFully(file, fd, lenBuf, 0, 'the header length');
      const len = checkHeaderLength(file, lenBuf.readBigUInt64LE(0), st.size);
      const header = Buffer.alloc(len);
      readFully(file, fd, header, 8, 'the header');
      return new LazySafetensors(file, fd, parseHeader(file, header, st.size - 8 - len));
    } catch (e) {
      fs.closeSync(fd);
      return ioError(file, e);
    }
  }

  /** Tensor names in header order. */
  get names(): string[] {
    return [...this.infos.keys()];
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): TensorInfo {
    const i = this.infos.get(name);
    if (i === undefined) throw new SafetensorsError(`${this.file}: no tensor '${name}'`);
    return i;
  }

  read(name: string, opts: ReadOptions = {}): LoadedTensor {
    const info = this.info(name);
    if (this.fd === null) throw new SafetensorsError(`${this.file}: read('${name}') after close()`);
    const [b, e] = info.dataOffsets;
    const bytes = new Uint8Array(e - b);
    try {
      readFully(this.file, this.fd, bytes, this.dataStart + b, `tensor '${name}'`);
    } catch (err) {
      return ioError(this.file, err);
    }
    return { dtype: info.dtype, shape: info.shape, data: decode(this.file, name, info, bytes, opts) };
  }

  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** Opens a file for lazy, per-tensor reads (see LazySafetensors). */
export function openSafetensors(file: string): LazySafetensors {
  return LazySafetensors.open(file);
}

/** Reads every tensor of a file. Each tensor is read straight into its own buffer (the file is never held whole). */
export function readSafetensors(file: string, opts: ReadOptions = {}): SafetensorsFile {
  const lazy = LazySafetensors.open(file);
  try {
    const tensors = new Map<string, LoadedTensor>();
    for (const name of lazy.names) tensors.set(name, lazy.read(name, opts));
    return { tensors, metadata: lazy.metadata };
  } finally {
    lazy.close();
  }
}

/** Parses a safetensors file already in memory. `file` only labels error messages. */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>', opts: ReadOptions = {}): SafetensorsFile {
  if (bytes.length < 8) throw new SafetensorsError(`${file}: ${bytes.length} bytes, too short for a safetensors file (8-byte header length missing)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = checkHeaderLength(file, dv.getBigUint64(0, true), bytes.length);
  const header = parseHeader(file, bytes.subarray(8, 8 + len), bytes.length - 8 - len);
  const tensors = new Map<string, LoadedTensor>();
  for (const [name, info] of header.tensors) {
    const [b, e] = info.dataOffsets;
    const copy = bytes.slice(header.dataStart + b, header.dataStart + e);
    tensors.set(name, { dtype: info.dtype, shape: info.shape, data: decode(file, name, info, copy, opts) });
  }
  return { tensors, metadata: header.metadata };
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface TensorToWrite {
  readonly data: TensorData;
  readonly shape: readonly number[];
  /**
   * Stored dtype. Defaults: Float32Array -> F32 (or WriteOptions.floatDtype), Float64Array -> F64,
   * Int32Array -> I32, BigInt64Array -> I64, Uint8Array -> U8, Int8Array -> I8. Float data may be stored as F32/F16/BF16/F64;
   * Int32Array data as I32 or I64.
   */
  readonly dtype?: SafetensorsDtype;
}

export interface WriteOptions {
  /** Stored dtype for Float32Array tensors without an explicit dtype (default F32). */
  readonly floatDtype?: 'F32' | 'F16' | 'BF16';
}

function defaultDtype(data: TensorData, opts: WriteOptions): SafetensorsDtype {
  if (data instanceof Float32Array) return opts.floatDtype ?? 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int8Array) return 'I8';
  return 'U8';
}

function typeName(data: TensorData): string {
  return data.constructor.name;
}

interface Planned { name: string; t: TensorToWrite; dtype: SafetensorsDtype; bytes: number }

function plan(file: string, tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>, opts: WriteOptions): Planned[] {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const out: Planned[] = [];
  for (const [name, t] of entries) {
    const where = `${file}: tensor '${name}'`;
    if (name === '__metadata__') throw new SafetensorsError(`${file}: '__metadata__' is reserved and cannot name a tensor`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where} shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length) {
      throw new SafetensorsError(`${where} has ${t.data.length} values, shape ${fmtShape(t.shape)} needs ${count}`);
    }
    const dtype = t.dtype ?? defaultDtype(t.data, opts);
    const d = t.data;
    const ok =
      ((d instanceof Float32Array || d instanceof Float64Array) && (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64')) ||
      (d instanceof Int32Array && (dtype === 'I32' || dtype === 'I64')) ||
      (d instanceof BigInt64Array && dtype === 'I64') ||
      (d instanceof Uint8Array && dtype === 'U8') ||
      (d instanceof Int8Array && dtype === 'I8');
    if (!ok) throw new SafetensorsError(`${where}: cannot store ${typeName(d)} data as ${dtype}`);
    out.push({ name, t, dtype, bytes: count * ITEM_SIZE[dtype] });
  }
  // As the reference implementation: larger items first (keeps every tensor aligned to its item size), then by name.
  out.sort((a, b) => ITEM_SIZE[b.dtype] - ITEM_SIZE[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

const CHUNK = 1 << 20; // elements per conversion chunk

/** Yields the stored bytes of one tensor in chunks (converting where the stored dtype differs). */
function* tensorBytes(p: Planned): Generator<Uint8Array> {
  const d = p.t.data;
  const n = d.length;
  const direct =
    (p.dtype === 'F32' && d instanceof Float32Array) || (p.dtype === 'F64' && d instanceof Float64Array) ||
    (p.dtype === 'I32' && d instanceof Int32Array) || (p.dtype === 'I64' && d instanceof BigInt64Array) ||
    (p.dtype === 'U8' && d instanceof Uint8Array) || (p.dtype === 'I8' && d instanceof Int8Array);
  if (direct) {
    yield new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    return;
  }
  for (let s = 0; s < n; s += CHUNK) {
    const e = Math.min(n, s + CHUNK);
    switch (p.dtype) {
      case 'F16':
      case 'BF16':
        yield encodeHalf(d as Float32Array | Float64Array, p.dtype, s, e);
        break;
      case 'F32': {
        const c = Float32Array.from((d as Float64Array).subarray(s, e));
        yield new Uint8Array(c.buffer);
        break;
      }
      case 'F64': {
        const c = Float64Array.from((d as Float32Array).subarray(s, e));
        yield new Uint8Array(c.buffer);
        break;
      }
      case 'I64': {
        const src = (d as Int32Array).subarray(s, e);
        const c = new BigInt64Array(src.length);
        for (let i = 0; i < src.length; i++) c[i] = BigInt(src[i]);
        yield new Uint8Array(c.buffer);
        break;
      }
      default:
        throw new Error(`unreachable: ${p.dtype}`);
    }
  }
}

function buildHeader(file: string, planned: Planned[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  const metaKeys = Object.keys(metadata);
  if (metaKeys.length > 0) {
    for (const k of metaKeys) {
      if (typeof metadata[k] !== 'string') throw new SafetensorsError(`${file}: metadata '${k}' must be a string, got ${typeof metadata[k]}`);
    }
    const meta: Record<string, string> = {};
    for (const k of metaKeys) setOwn(meta, k, metadata[k]);
    header.__metadata__ = meta;
  }
  let off = 0;
  for (const p of planned) {
    setOwn(header, p.name, { dtype: p.dtype, shape: [...p.t.shape], data_offsets: [off, off + p.bytes] });
    off += p.bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
  json.copy(padded);
  if (padded.length > MAX_HEADER_BYTES) throw new SafetensorsError(`${file}: header would be ${padded.length} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  const out = new Uint8Array(8 + padded.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded.length), true);
  out.set(padded, 8);
  return out;
}

/** Serialises tensors to an in-memory safetensors file. */
export function serializeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
  opts: WriteOptions = {},
): Uint8Array {
  const planned = plan('<buffer>', tensors, opts);
  const head = buildHeader('<buffer>', planned, metadata);
  const total = head.length + planned.reduce((a, p) => a + p.bytes, 0);
  const out = new Uint8Array(total);
  out.set(head, 0);
  let pos = head.length;
  for (const p of planned) {
    for (const chunk of tensorBytes(p)) {
      out.set(chunk, pos);
      pos += chunk.length;
    }
  }
  return out;
}

/**
 * Writes tensors to `file` atomically: the bytes go to `<file>.<pid>.tmp`, which is fsync-ed and renamed
 * over `file`; on any failure the temporary file is removed and `file` is untouched.
 */
export function writeSafetensors(
  file: string,
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
  opts: WriteOptions = {},
): void {
  const planned = plan(file, tensors, opts);
  const head = buildHeader(file, planned, metadata);
  const tmp = `${file}.${process.pid}.tmp`;
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'w');
    const write = (b: Uint8Array): void => {
      let done = 0;
      while (done < b.length) done += fs.writeSync(fd as number, b, done, b.length - done);
    };
    write(head);
    for (const p of planned) for (const chunk of tensorBytes(p)) write(chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(`${file}: write failed: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming writer

/** A tensor of a streamed file: its values arrive in pieces (e.g. batch by batch). */
export interface StreamedTensor {
  readonly name: string;
  readonly dtype: 'F32' | 'I32';
  readonly shape: readonly number[];
}

/**
 * Writes a safetensors file whose tensors are too large to hold in memory (a data set's feature
 * maps): the header is written first from the shapes, then each piece goes to its place with
 * positional writes. Atomic like writeSafetensors: `<file>.<pid>.tmp`, renamed by `commit()`.
 */
export class SafetensorsStreamWriter {
  private fd: number | null;
  private readonly tmp: string;
  private readonly offsets = new Map<string, { start: number; elements: number; dtype: 'F32' | 'I32' }>();

  constructor(readonly file: string, tensors: readonly StreamedTensor[], metadata: Record<string, string> = {}) {
    const planned: Planned[] = tensors.map((t) => {
      if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new SafetensorsError(`${file}: tensor '${t.name}' shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
      }
      const count = t.shape.reduce((a, d) => a * d, 1);
      return { name: t.name, t: { data: new Float32Array(0), shape: t.shape }, dtype: t.dtype, bytes: count * 4 };
    });
    planned.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const head = buildHeader(file, planned, metadata);
    let pos = head.length;
    for (const p of planned) {
      this.offsets.set(p.name, { start: pos, elements: p.bytes / 4, dtype: p.dtype as 'F32' | 'I32' });
      pos += p.bytes;
    }
    this.tmp = `${file}.${process.pid}.tmp`;
    this.fd = fs.openSync(this.tmp, 'w');
    try {
      fs.writeSync(this.fd, head, 0, head.length, 0);
      fs.ftruncateSync(this.fd, pos);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Writes `data` into tensor `name` starting at element `offset`. */
  write(name: string, offset: number, data: Float32Array | Int32Array): void {
    const t = this.offsets.get(name);
    if (!t) throw new Error(`${this.file}: no tensor '${name}' in this file`);
    if ((t.dtype === 'F32') !== data instanceof Float32Array) throw new Error(`${this.file}: tensor '${name}' is ${t.dtype}`);
    if (offset < 0 || offset + data.length > t.elements) throw new Error(`${this.file}: tensor '${name}' holds ${t.elements} values, write of ${data.length} at ${offset}`);
    if (this.fd === null) throw new Error(`${this.file}: writer already closed`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, t.start + offset * 4 + done);
  }

  /** Flushes and renames the file into place. */
  commit(): void {
    if (this.fd === null) throw new Error(`${this.file}: writer already closed`);
    try {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = null;
      fs.renameSync(this.tmp, this.file);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Removes the temporary file (after a failure or an interruption). */
  abort(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = null;
    }
    fs.rmSync(this.tmp, { force: true });
  }
}
