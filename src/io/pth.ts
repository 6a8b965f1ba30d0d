/**
 * PyTorch `.pt` / `.pth` reader (the zip format of `torch.save`, PyTorch >= 1.6), without Python.
 *
 * The archive holds `<prefix>/data.pkl` (the pickled object) and `<prefix>/data/<key>`, one raw
 * little-endian storage per key. `data.pkl` is read with the restricted unpickler of ./pickle.ts, which
 * only accepts the globals a tensor, a state dict or a plain checkpoint needs:
 *
 *   collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter /
 *   _rebuild_parameter_with_state, and the storage types torch.{Float,Double,Half,BFloat16,Long,Int,
 *   Short,Char,Byte,Bool}Storage.
 *
 * Anything else (a pickled nn.Module, numpy scalars, os.system ...) is refused with an error naming the
 * global; nothing in the file is ever executed. Tensors honour storage offset, size and stride (views of
 * shared storages, non-contiguous layouts) and come out as `LoadedTensor`s, with the element types of
 * ./safetensors.ts (float16/bfloat16 upcast to Float32Array; int64 to a range-checked Int32Array unless
 * `{ int64: 'bigint' }`; Short/Char to Int32Array; Bool to Uint8Array).
 *
 * The legacy format (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`), in which most older CIFAR
 * checkpoints were saved, is read too (whole file in memory). TorchScript archives and the ancient tar format
 * (PyTorch < 0.4) are not supported: re-save the state dict with `torch.save(model.state_dict(), path)`.
 */
import * as fs from 'node:fs';
import yauzl from 'yauzl';
import { decodeBF16, decodeF16 } from './half.js';
import {
  PickleDict, PickleError, PickleGlobal, PickleOpaque, PickleTuple, unpickleAt, describeValue,
  type GlobalHandler, type PickleValue,
} from './pickle.js';
import type { LoadedTensor, ReadOptions, SafetensorsDtype, TensorData } from './safetensors.js';

export class PthError extends Error {
  constructor(message: string) {
    // Names and keys come from the file: control characters would break the one-line message.
    super(message.replace(/[\x00-\x1f\x7f]/g, ' '));
    this.name = 'PthError';
  }
}

interface StorageType {
  readonly dtype: SafetensorsDtype;
  /** Bytes per element in the archive. */
  readonly itemSize: number;
  /** How the raw bytes are decoded (before the result dtype mapping). */
  readonly raw: 'f32' | 'f64' | 'f16' | 'bf16' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8' | 'bool';
}

const STORAGE_TYPES: Readonly<Record<string, StorageType>> = {
  FloatStorage: { dtype: 'F32', itemSize: 4, raw: 'f32' },
  DoubleStorage: { dtype: 'F64', itemSize: 8, raw: 'f64' },
  HalfStorage: { dtype: 'F16', itemSize: 2, raw: 'f16' },
  BFloat16Storage: { dtype: 'BF16', itemSize: 2, raw: 'bf16' },
  LongStorage: { dtype: 'I64', itemSize: 8, raw: 'i64' },
  IntStorage: { dtype: 'I32', itemSize: 4, raw: 'i32' },
  ShortStorage: { dtype: 'I32', itemSize: 2, raw: 'i16' },
  CharStorage: { dtype: 'I32', itemSize: 1, raw: 'i8' },
  ByteStorage: { dtype: 'U8', itemSize: 1, raw: 'u8' },
  BoolStorage: { dtype: 'U8', itemSize: 1, raw: 'bool' },
};

/** One storage of the archive (`data/<key>`), shared by every tensor viewing it. */
export class PthStorage extends PickleOpaque {
  readonly kind = 'storage';
  /** Decoded elements, filled once the archive entry is read. */
  decoded: TensorData | null = null;
  /**
   * `base`/`baseOffset`: a view of another storage (legacy format only), `numel` elements from element
   * `baseOffset` of `base`.
   */
  constructor(
    readonly key: string, readonly typeName: string, readonly type: StorageType, readonly numel: number,
    readonly base: PthStorage | null = null, readonly baseOffset = 0,
  ) {
    super();
  }
}

/** A tensor of the pickle: a view (offset, size, stride) of a storage. */
export class PthTensor extends PickleOpaque {
  readonly kind = 'tensor';
  value: LoadedTensor | null = null;
  constructor(
    readonly storage: PthStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
  ) {
    super();
  }
  /** The loaded tensor (available once readPth has returned). */
  get tensor(): LoadedTensor {
    if (this.value === null) throw new Error(`tensor of storage '${this.storage.key}' not materialised`);
    return this.value;
  }
}

export interface PthFile {
  /** The whole unpickled object (dicts as PickleDict, tensors as PthTensor). */
  readonly root: PickleValue;
  /** The state dict found in it (see findStateDict), names -> tensors. */
  readonly tensors: Map<string, LoadedTensor>;
  /** Where the state dict was found: '' for the root, else the key path, e.g. 'state_dict'. */
  readonly stateDictPath: string;
}

function intList(v: PickleValue, what: string, fail: (m: string) => never): number[] {
  const items = v instanceof PickleTuple ? v.items : Array.isArray(v) ? v : null;
  if (items === null) return fail(`${what} is ${describeValue(v)}, expected a tuple of integers`);
  return items.map((x) => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail(`${what} holds ${describeValue(x)}, expected non-negative integers`);
    return x as number;
  });
}

/**
 * How many times its storage's bytes one view may materialise (plus a little slack for tiny storages):
 * a stride-0 or overlapping view (`expand`) can name far more elements than the storage holds, and
 * materialising it copies every one.
 */
const MAX_VIEW_EXPANSION = 4;
const VIEW_SLACK_ELEMENTS = 1 << 14;

/** Checks a view's element count and highest index against its storage, before anything is allocated. */
function checkView(storage: PthStorage, offset: number, shape: readonly number[], strides: readonly number[], fail: (m: string) => never): void {
  const desc = `view offset ${offset}, size ${JSON.stringify(shape)}, stride ${JSON.stringify(strides)}`;
  const allowed = storage.numel * MAX_VIEW_EXPANSION + VIEW_SLACK_ELEMENTS;
  if (shape.includes(0)) return; // empty: nothing is read
  let count = 1;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    count *= shape[i];
    last += (shape[i] - 1) * strides[i];
    // Checked per dimension so the products stay exact (< 2^53) until refused.
    if (count > allowed) {
      fail(`${desc} has over ${count >= 2 ** 53 ? '2^53' : count} elements, more than ${MAX_VIEW_EXPANSION} x the ${storage.numel} of storage '${storage.key}' (overlapping or stride-0 view)`);
    }
    if (last >= storage.numel) break;
  }
  if (last >= storage.numel) {
    fail(`${desc} reaches element ${last >= 2 ** 53 ? 'beyond 2^53' : last}, past storage '${storage.key}' of ${storage.numel} elements`);
  }
}

function rebuildTensor(args: PickleValue[], fail: (m: string) => never): PthTensor {
  if (args.length < 4) fail(`expected (storage, offset, size, stride, ...), got ${args.length} arguments`);
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof PthStorage)) return fail(`storage argument is ${describeValue(storage)}, expected a persistent storage`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return fail(`storage offset ${describeValue(offset)}, expected a non-negative integer`);
  const shape = intList(size, 'size', fail);
  const strides = intList(stride, 'stride', fail);
  if (shape.length !== strides.length) fail(`size ${JSON.stringify(shape)} and stride ${JSON.stringify(strides)} differ in length`);
  checkView(storage, offset, shape, strides, fail);
  if (storage.base !== null) return new PthTensor(storage.base, offset + storage.baseOffset, shape, strides, requiresGrad === true);
  return new PthTensor(storage, offset, shape, strides, requiresGrad === true);
}

function torchGlobals(): Map<string, GlobalHandler> {
  const g = new Map<string, GlobalHandler>();
  g.set('collections.OrderedDict', {
    call(args, fail) {
      const d = new PickleDict(true);
      if (args.length === 0) return d;
      const init = args[0];
      const pairs = Array.isArray(init) ? init : init instanceof PickleTuple ? init.items : null;
      if (pairs === null || args.length > 1) return fail(`expected () or a list of pairs, got ${args.map(describeValue).join(', ')}`);
      for (const p of pairs) {
        const kv = p instanceof PickleTuple ? p.items : Array.isArray(p) ? p : null;
        if (kv === null || kv.length !== 2) return fail(`expected (key, value) pairs, got ${describeValue(p)}`);
        d.map.set(kv[0], kv[1]);
      }
      return d;
    },
  });
  g.set('torch._utils._rebuild_tensor_v2', { call: rebuildTensor });
  g.set('torch._utils._rebuild_tensor', { call: rebuildTensor });
  const param = (args: PickleValue[], fail: (m: string) => never): PickleValue => {
    if (!(args[0] instanceof PthTensor)) return fail(`expected a tensor, got ${args.length > 0 ? describeValue(args[0]) : 'nothing'}`);
    return args[0];
  };
  g.set('torch._utils._rebuild_parameter', { call: param });
  g.set('torch._utils._rebuild_parameter_with_state', { call: param });
  for (const name of Object.keys(STORAGE_TYPES)) g.set(`torch.${name}`, {});
  return g;
}

const REFUSAL_HINT = 'only tensors, storages and collections.OrderedDict are allowed; save a state dict, e.g. torch.save(model.state_dict(), path)';

/**
 * Unpickles `data.pkl` bytes (or, from byte `start`, the main pickle of a legacy file); storages become
 * PthStorage (not yet read), tensors PthTensor. `storages` holds the root storages to read, by key.
 */
export function unpickleTorch(data: Uint8Array, label: string, start = 0): { root: PickleValue; storages: Map<string, PthStorage>; end: number } {
  const storages = new Map<string, PthStorage>();
  const views = new Map<string, PthStorage>();
  const isCount = (v: PickleValue): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const { value: root, end } = unpickleAt(data, start, {
    label,
    globals: torchGlobals(),
    refusalHint: REFUSAL_HINT,
    persistentLoad(pid, fail) {
      // zip format: ('storage', type, key, location, numel); legacy: the same plus view metadata
      // (None, or (view_key, offset, view_numel) for a view of storage `key`).
      const t = pid instanceof PickleTuple ? pid.items : null;
      if (t === null || t.length < 5 || t.length > 6 || t[0] !== 'storage') return fail(`persistent id ${describeValue(pid)}, expected ('storage', type, key, location, numel)`);
      const [, type, key, , numel] = t;
      const view = t.length === 6 ? t[5] : null;
      if (!(type instanceof PickleGlobal) || STORAGE_TYPES[type.name] === undefined || type.module !== 'torch') {
        return fail(`storage type ${describeValue(type)}, expected one of ${Object.keys(STORAGE_TYPES).map((s) => 'torch.' + s).join(', ')}`);
      }
      if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) return fail(`storage key ${describeValue(key)}, expected a plain name`);
      if (!isCount(numel)) return fail(`storage '${key}' size ${describeValue(numel)}, expected a non-negative integer`);
      let s = storages.get(key);
      if (s !== undefined) {
        if (s.typeName !== type.name || s.numel !== numel) fail(`storage '${key}' declared twice with different types or sizes`);
      } else {
        s = new PthStorage(key, type.name, STORAGE_TYPES[type.name], numel);
        storages.set(key, s);
      }
      if (view === null) return s;
      const v = view instanceof PickleTuple ? view.items : null;
      if (v === null || v.length !== 3 || typeof v[0] !== 'string' || !isCount(v[1]) || !isCount(v[2])) {
        return fail(`storage '${key}' view metadata ${describeValue(view)}, expected (view_key, offset, numel)`);
      }
      const [vkey, off, vn] = v as [string, number, number];
      if (!/^[A-Za-z0-9_.-]+$/.test(vkey)) return fail(`storage view key ${describeValue(vkey)}, expected a plain name`);
      if (off + vn > numel) fail(`storage view '${vkey}' [${off}, ${off + vn}) runs past storage '${key}' of ${numel} elements`);
      const prev = views.get(vkey);
      if (prev !== undefined) return prev;
      const vs = new PthStorage(vkey, type.name, STORAGE_TYPES[type.name], vn, s, off);
      views.set(vkey, vs);
      return vs;
    },
  });
  return { root, storages, end };
}

// ---------------------------------------------------------------------------------------------
// Materialising tensors

function decodeStorage(label: string, s: PthStorage, bytes: Uint8Array, opts: ReadOptions): TensorData {
  // `bytes` is a fresh buffer of exactly numel * itemSize bytes, offset 0.
  const buf = bytes.buffer as ArrayBuffer;
  switch (s.type.raw) {
    case 'f32': return new Float32Array(buf, 0, s.numel);
    case 'f64': return opts.float64 === 'float32' ? Float32Array.from(new Float64Array(buf, 0, s.numel)) : new Float64Array(buf, 0, s.numel);
    case 'f16': return decodeF16(bytes);
    case 'bf16': return decodeBF16(bytes);
    case 'i32': return new Int32Array(buf, 0, s.numel);
    case 'i16': return Int32Array.from(new Int16Array(buf, 0, s.numel));
    case 'i8': return Int32Array.from(new Int8Array(buf, 0, s.numel));
    case 'u8': return bytes;
    case 'bool': return bytes.map((b) => (b !== 0 ? 1 : 0));
    case 'i64': {
      const big = new BigInt64Array(buf, 0, s.numel);
      if (opts.int64 === 'bigint') return big;
      const out = new Int32Array(s.numel);
      for (let i = 0; i < big.length; i++) {
        const v = big[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new PthError(`${label}: storage '${s.key}' (int64) value ${v} at index ${i} does not fit in int32; read with { int64: 'bigint' }`);
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) return false;
    expect *= shape[i];
  }
  return true;
}

/**
 * Many views of one storage could each pass checkView and together still copy far more than the
 * file holds: the elements all views materialise are bounded by the storages' total the same way.
 */
function checkTotalViews(file: string, all: readonly PthTensor[]): void {
  const storages = new Set<PthStorage>();
  let viewed = 0;
  for (const t of all) {
    storages.add(t.storage);
    viewed += t.shape.reduce((a, d) => a * d, 1);
  }
  let held = 0;
  for (const s of storages) held += s.numel;
  const allowed = held * MAX_VIEW_EXPANSION + VIEW_SLACK_ELEMENTS;
  if (viewed > allowed) {
    throw new PthError(`${file}: its ${all.length} tensors view ${viewed} elements of storages holding ${held}, more than ${MAX_VIEW_EXPANSION} x (overlapping views)`);
  }
}

function materialise(t: PthTensor): LoadedTensor {
  const src = t.storage.decoded as TensorData;
  const count = t.shape.reduce((a, d) => a * d, 1);
  const ctor = src.constructor as new (n: number) => TensorData;
  let data: TensorData;
  if (isContiguous(t.shape, t.stride)) {
    data = t.offset === 0 && count === src.length ? src : src.slice(t.offset, t.offset + count);
  } else {
    data = new ctor(count);
    const nd = t.shape.length;
    const idx = new Array<number>(nd).fill(0);
    let off = t.offset;
    const out = data as unknown as { [i: number]: number | bigint };
    const inp = src as unknown as { [i: number]: number | bigint };
    for (let i = 0; i < count; i++) {
      out[i] = inp[off];
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]++;
        off += t.stride[d];
        if (idx[d] < t.shape[d]) break;
        off -= t.stride[d] * t.shape[d];
        idx[d] = 0;
      }
    }
  }
  return { dtype: t.storage.type.dtype, shape: t.shape, data };
}

// ---------------------------------------------------------------------------------------------
// State dict discovery

const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'params', 'weights', 'module'];

function tensorDict(v: PickleValue | undefined): Map<string, PthTensor> | null {
  if (!(v instanceof PickleDict) || v.map.size === 0) return null;
  const out = new Map<string, PthTensor>();
  for (const [k, x] of v.map) {
    if (typeof k !== 'string' || !(x instanceof PthTensor)) return null;
    out.set(k, x);
  }
  return out;
}

/**
 * Finds the state dict in an unpickled object: the root itself when it maps names to tensors, else the
 * first of root['state_dict' | 'model_state_dict' | 'model' | 'net' | 'params' | 'weights' | 'module'] that
 * does, else the only top-level value that does. Throws (listing the top-level keys) when there is none.
 */
export function findStateDict(root: PickleValue, label: string): { path: string; tensors: Map<string, PthTensor> } {
  const direct = tensorDict(root);
  if (direct !== null) return { path: '', tensors: direct };
  if (root instanceof PthTensor) throw new PthError(`${label}: holds a single tensor, not a state dict`);
  if (!(root instanceof PickleDict)) throw new PthError(`${label}: holds ${describeValue(root)}, expected a state dict (a dict of tensors)`);
  for (const k of STATE_DICT_KEYS) {
    const t = tensorDict(root.get(k));
    if (t === null) continue;
    // The authors' older functional code saved BN statistics apart: dict(params=..., stats=...).
    const stats = k === 'params' ? tensorDict(root.get('stats')) : null;
    if (stats !== null) {
      for (const [name, v] of stats) if (!t.has(name)) t.set(name, v);
      return { path: 'params+stats', tensors: t };
    }
    return { path: k, tensors: t };
  }
  const candidates = [...root.map].filter(([k, v]) => typeof k === 'string' && tensorDict(v) !== null);
  if (candidates.length === 1) return { path: candidates[0][0] as string, tensors: tensorDict(candidates[0][1]) as Map<string, PthTensor> };
  const keys = [...root.map.keys()].map((k) => (typeof k === 'string' ? `'${k}'` : describeValue(k)));
  throw new PthError(
    `${label}: no state dict found: expected a dict of tensors at the top level or under one of ${STATE_DICT_KEYS.join(', ')}; ` +
    `top-level keys: ${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', ...' : ''}${candidates.length > 1 ? ' (several hold tensors)' : ''}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Zip access

/** data.pkl of a state dict is ~100 bytes per tensor; 64 MiB is hundreds of thousands of tensors. */
const MAX_PICKLE_BYTES = 64 << 20;
/** Largest single entry (one storage); also keeps typed arrays under V8's length limit. */
const MAX_ENTRY_BYTES = 2 ** 31 - 1;
/** Most entries an archive may list (two per tensor at most, in practice). */
const MAX_ENTRIES = 1_000_000;
/** Deflate never expands more than ~1032:1; a larger declared ratio is a lie or a bomb. */
const MAX_DEFLATE_RATIO = 1032;

/** Refuses an entry whose declared size is absurd or inconsistent with its compressed size, before inflating it. */
function checkEntrySize(file: string, e: yauzl.Entry): void {
  const name = `'${e.fileName}'`;
  if (e.uncompressedSize > MAX_ENTRY_BYTES) throw new PthError(`${file}: entry ${name} declares ${e.uncompressedSize} bytes, over the ${MAX_ENTRY_BYTES}-byte limit`);
  if (e.compressionMethod === 0 && e.uncompressedSize !== e.compressedSize) {
    throw new PthError(`${file}: stored entry ${name} declares ${e.uncompressedSize} bytes but holds ${e.compressedSize}`);
  }
  if (e.compressionMethod === 8 && e.uncompressedSize > e.compressedSize * MAX_DEFLATE_RATIO + 1024) {
    throw new PthError(`${file}: entry ${name} declares ${e.uncompressedSize} bytes from ${e.compressedSize} compressed (more than deflate can expand; corrupt or a zip bomb)`);
  }
  if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
    throw new PthError(`${file}: entry ${name} uses compression method ${e.compressionMethod}, expected stored (0) or deflate (8)`);
  }
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err !== null) return reject(err);
      const out = new Uint8Array(entry.uncompressedSize);
      let pos = 0;
      stream.on('data', (chunk: Buffer) => {
        if (pos + chunk.length > out.length) {
          stream.destroy(new Error(`entry '${entry.fileName}' is longer than its declared ${out.length} bytes`));
          return;
        }
        out.set(chunk, pos);
        pos += chunk.length;
      });
      stream.on('error', reject);
      stream.on('end', () => (pos === out.length ? resolve(out) : reject(new Error(`entry '${entry.fileName}' ended after ${pos} of ${out.length} bytes`))));
    });
  });
}

function listEntries(zip: yauzl.ZipFile): Promise<Map<string, yauzl.Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, yauzl.Entry>();
    zip.on('entry', (e: yauzl.Entry) => {
      if (entries.size >= MAX_ENTRIES) {
        reject(new Error(`more than ${MAX_ENTRIES} entries`));
        zip.close();
        return;
      }
      entries.set(e.fileName, e);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', reject);
    zip.readEntry();
  });
}

function sniff(file: string): 'zip' | 'legacy' {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PthError(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  const head = Buffer.alloc(4);
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip'; // "PK\3\4"
  if (n >= 3 && head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a) return 'legacy'; // PROTO 2, LONG1 (the magic number)
  throw new PthError(`${file}: not a PyTorch file (expected a torch.save zip archive, or the legacy format of PyTorch < 1.6)`);
}

// ---------------------------------------------------------------------------------------------
// Legacy format (torch.save before PyTorch 1.6, or with _use_new_zipfile_serialization=False):
// pickles of the magic number, the protocol version (1001) and sys_info; the main pickle, whose
// persistent ids are ('storage', type, key, location, numel, view_metadata); a pickled list of storage
// keys; then, per key in that order, an int64 element count and the raw little-endian elements.

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function readLegacy(file: string, opts: ReadOptions): { root: PickleValue } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new PthError(`${file}: ${(e as Error).message}`);
  }
  return parseLegacy(bytes, file, opts);
}

/** Parses a legacy-format torch.save file held in memory (`file` labels errors). */
export function parseLegacyTorch(bytes: Uint8Array, file: string, opts: ReadOptions = {}): PthFile {
  return finish(file, parseLegacy(bytes, file, opts).root);
}

function parseLegacy(bytes: Uint8Array, file: string, opts: ReadOptions): { root: PickleValue } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const plain = { label: file, globals: new Map<string, never>() };
  try {
    let r = unpickleAt(bytes, 0, plain);
    if (r.value !== LEGACY_MAGIC) throw new PthError(`${file}: not a torch.save file (magic number ${describeValue(r.value)})`);
    r = unpickleAt(bytes, r.end, plain);
    if (r.value !== LEGACY_PROTOCOL) throw new PthError(`${file}: legacy torch.save protocol ${describeValue(r.value)}, expected ${LEGACY_PROTOCOL}`);
    r = unpickleAt(bytes, r.end, plain);
    const sys = r.value;
    if (!(sys instanceof PickleDict) || sys.get('little_endian') !== true) {
      throw new PthError(`${file}: saved on a big-endian machine or without sys_info; only little-endian files are supported`);
    }
    const main = unpickleTorch(bytes, file, r.end);
    r = unpickleAt(bytes, main.end, plain);
    const keys = r.value;
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
      throw new PthError(`${file}: storage key list is ${describeValue(keys)}, expected a list of strings`);
    }
    let pos = r.end;
    for (const key of keys as string[]) {
      const s = main.storages.get(key);
      if (s === undefined) throw new PthError(`${file}: storage ${describeValue(key)} is listed but no tensor uses it`);
      if (pos + 8 > bytes.length) throw new PthError(`${file}: truncated: storage '${key}' header past the end of the file`);
      const numel = dv.getBigInt64(pos, true);
      if (numel !== BigInt(s.numel)) throw new PthError(`${file}: storage '${key}' holds ${numel} elements on disk, the pickle declares ${s.numel}`);
      const need = s.numel * s.type.itemSize;
      if (pos + 8 + need > bytes.length) throw new PthError(`${file}: truncated: storage '${key}' needs ${need} bytes at offset ${pos + 8}, the file has ${bytes.length - pos - 8}`);
      const own = new Uint8Array(need); // fresh, aligned buffer: decodeStorage views it directly
      own.set(bytes.subarray(pos + 8, pos + 8 + need));
      s.decoded = decodeStorage(file, s, own, opts);
      pos += 8 + need;
    }
    for (const s of main.storages.values()) {
      if (s.decoded === null) throw new PthError(`${file}: storage '${s.key}' is missing from the file`);
    }
    return { root: main.root };
  } catch (e) {
    if (e instanceof PickleError) throw new PthError(e.message);
    throw e;
  }
}

function finish(file: string, root: PickleValue): PthFile {
  const all: PthTensor[] = [];
  collectTensors(root, all);
  checkTotalViews(file, all);
  for (const t of all) t.value = materialise(t);
  const sd = findStateDict(root, file);
  const tensors = new Map<string, LoadedTensor>();
  for (const [k, t] of sd.tensors) tensors.set(k, t.tensor);
  return { root, tensors, stateDictPath: sd.path };
}

/** Reads a torch.save file (zip archive, or the legacy format): the unpickled object and its state dict, with every tensor loaded. */
export async function readPth(file: string, opts: ReadOptions = {}): Promise<PthFile> {
  if (sniff(file) === 'legacy') return finish(file, readLegacy(file, opts).root);
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, strictFileNames: false });
  } catch (e) {
    throw new PthError(`${file}: not a readable zip archive (${(e as Error).message})`);
  }
  try {
    let entries: Map<string, yauzl.Entry>;
    try {
      entries = await listEntries(zip);
    } catch (e) {
      throw new PthError(`${file}: corrupt zip archive (${(e as Error).message})`);
    }
    const pkls = [...entries.keys()].filter((k) => /^[^/]+\/data\.pkl$/.test(k));
    if (pkls.length !== 1) {
      const jit = [...entries.keys()].some((k) => /^[^/]+\/code\//.test(k));
      throw new PthError(
        jit
          ? `${file}: a TorchScript archive (torch.jit.save); save the state dict with torch.save(model.state_dict(), path) instead`
          : pkls.length === 0
            ? `${file}: no '<name>/data.pkl' entry; not a torch.save archive`
            : `${file}: ${pkls.length} data.pkl entries (${pkls.join(', ')}), expected one`,
      );
    }
    const prefix = pkls[0].slice(0, -'data.pkl'.length);
    const pklEntry = entries.get(pkls[0]) as yauzl.Entry;
    if (pklEntry.uncompressedSize > MAX_PICKLE_BYTES) throw new PthError(`${file}: ${pkls[0]} is ${pklEntry.uncompressedSize} bytes, over the ${MAX_PICKLE_BYTES}-byte limit`);
    const read = async (e: yauzl.Entry): Promise<Uint8Array> => {
      checkEntrySize(file, e);
      try {
        return await readEntry(zip, e);
      } catch (err) {
        throw new PthError(`${file}: cannot read '${e.fileName}': ${(err as Error).message}`);
      }
    };
    let root: PickleValue;
    let storages: Map<string, PthStorage>;
    try {
      ({ root, storages } = unpickleTorch(await read(pklEntry), file));
    } catch (e) {
      if (e instanceof PickleError) throw new PthError(e.message);
      throw e;
    }
    for (const s of storages.values()) {
      const name = `${prefix}data/${s.key}`;
      const e = entries.get(name);
      if (e === undefined) throw new PthError(`${file}: storage '${s.key}' (${name}) is missing from the archive`);
      const need = s.numel * s.type.itemSize;
      if (e.uncompressedSize !== need) {
        throw new PthError(`${file}: storage '${s.key}' (${name}) holds ${e.uncompressedSize} bytes, torch.${s.typeName} of ${s.numel} elements needs ${need}`);
      }
      s.decoded = decodeStorage(file, s, await read(e), opts);
    }
    return finish(file, root);
  } finally {
    zip.close();
  }
}

/** Reads only the state dict of a torch.save file. */
export async function readPthStateDict(file: string, opts: ReadOptions = {}): Promise<Map<string, LoadedTensor>> {
  return (await readPth(file, opts)).tensors;
}

function collectTensors(v: PickleValue, out: PthTensor[]): void {
  // Iterative walk (a pickle can nest deeply); shared objects are visited once.
  const seen = new Set<object>();
  const todo: PickleValue[] = [v];
  while (todo.length > 0) {
    const x = todo.pop() as PickleValue;
    if (x === null || typeof x !== 'object' || seen.has(x)) continue;
    seen.add(x);
    if (x instanceof PthTensor) out.push(x);
    else if (Array.isArray(x)) for (const y of x) todo.push(y);
    else if (x instanceof PickleTuple) for (const y of x.items) todo.push(y);
    else if (x instanceof PickleDict) {
      for (const [k, val] of x.map) todo.push(k, val);
      todo.push(x.state);
    } else if (x instanceof Set) for (const y of x) todo.push(y);
  }
}
