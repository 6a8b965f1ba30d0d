/**
 * The fuzz targets: one per reader. Each starts from a valid file built field by field and changes one
 * field (a size, an offset, a dtype, an opcode, a header field) or a few bytes, then runs the real
 * reader on it. A clean outcome is acceptance or the reader's own error class with a one-line message
 * naming the file; anything else (TypeError, RangeError, a message without the file) is an escape.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { JsBackend } from '../../src/backend/js/index.js';
import { setBackend } from '../../src/core/engine.js';
import { loadCifar } from '../../src/data/cifar.js';
import { loadIdxPair } from '../../src/data/idx.js';
import { loadImageFolder } from '../../src/data/imagefolder.js';
import { readTarEntries } from '../../src/data/tar.js';
import { buildOnnx } from '../../src/io/onnx.js';
import { unpickleTorch, readPth } from '../../src/io/pth.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createModel } from '../../src/models/registry.js';
import { loadNetwork, readAnyWeights, saveWeights } from '../../src/inference/weights.js';
import { op, pickleStateDict, pthArchive, sampleTensors, type CraftTensor } from '../shared/pthCraft.js';
import { paxRecords, writeTarEntries, type TarEntry } from '../shared/tarCraft.js';
import { flipBytes, insertBytes, interestingInt, oddJson, pick, putUint, truncate, type Rng } from './mutate.js';

export interface FuzzTarget {
  readonly name: string;
  /** Error names that count as the reader's own, clean refusal. */
  readonly errors: readonly string[];
  /** Writes one mutated case under `dir`; returns the path given to the reader and what was mutated. */
  make(rng: Rng, dir: string): Promise<{ path: string; mutation: string }>;
  /** Runs the reader. */
  read(path: string): Promise<unknown>;
}

const FIXTURES = join(process.cwd(), 'test/io/fixtures');

// ---------------------------------------------------------------------------------------------
// safetensors

interface StHeader { [name: string]: { dtype: unknown; shape: unknown; data_offsets: unknown } | Record<string, unknown> }

function stBase(): { header: StHeader; data: Buffer } {
  const header: StHeader = {
    __metadata__: { arch: 'wrn-10-1', classes: '10' },
    a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    b: { dtype: 'I64', shape: [2], data_offsets: [24, 40] },
    c: { dtype: 'U8', shape: [4], data_offsets: [40, 44] },
    d: { dtype: 'F16', shape: [2, 1], data_offsets: [44, 48] },
  };
  return { header, data: Buffer.alloc(48) };
}

function stBytes(header: unknown, data: Uint8Array): Buffer {
  let h = Buffer.from(JSON.stringify(header), 'utf8');
  h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, Buffer.from(data)]);
}

const safetensors: FuzzTarget = {
  name: 'safetensors',
  errors: ['SafetensorsError'],
  async make(rng, dir) {
    const { header, data } = stBase();
    const names = ['a', 'b', 'c', 'd'];
    const t = header[pick(rng, names)] as Record<string, unknown>;
    const kind = pick(rng, ['control', 'dtype', 'shape', 'offsets', 'headerLen', 'json', 'metadata', 'truncate', 'dup', 'extra', 'data']);
    let bytes: Uint8Array;
    switch (kind) {
      case 'dtype': t.dtype = rng.next() < 0.8 ? pick(rng, ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'C64', 'X']) : oddJson(rng); break;
      case 'shape': {
        const s = [...(t.shape as number[])];
        if (rng.next() < 0.7) s[rng.int(s.length + 1)] = interestingInt(rng, s[0]);
        else t.shape = oddJson(rng);
        if (Array.isArray(t.shape) && t.shape !== s && rng.next() < 0.7) t.shape = s;
        break;
      }
      case 'offsets': {
        const o = [...(t.data_offsets as number[])];
        if (rng.next() < 0.8) o[rng.int(2)] = interestingInt(rng, o[0]);
        t.data_offsets = rng.next() < 0.9 ? o : oddJson(rng);
        break;
      }
      case 'metadata': (header.__metadata__ as Record<string, unknown>)[pick(rng, ['arch', 'classes', '__proto__', 'x'])] = oddJson(rng); break;
      default: break;
    }
    bytes = stBytes(header, data);
    if (kind === 'headerLen') bytes = putUint(bytes, 0, 8, interestingInt(rng, bytes.length));
    if (kind === 'json') bytes = flipBytes(rng, bytes, 1 + rng.int(3), 8, bytes.length - data.length);
    if (kind === 'truncate') bytes = truncate(rng, bytes);
    if (kind === 'dup') {
      const text = JSON.stringify(header).replace('"c":', '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":');
      bytes = stBytes(JSON.parse(JSON.stringify(header)), data);
      const h = Buffer.from(text.padEnd(Math.ceil(text.length / 8) * 8, ' '));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      bytes = Buffer.concat([len, h, data]);
    }
    if (kind === 'extra') bytes = Buffer.concat([bytes, Buffer.alloc(1 + rng.int(100))]);
    if (kind === 'data') bytes = flipBytes(rng, bytes, 4, bytes.length - data.length);
    const path = join(dir, 'x.safetensors');
    writeFileSync(path, bytes);
    return { path, mutation: kind };
  },
  async read(path) {
    return readSafetensors(path);
  },
};

// ---------------------------------------------------------------------------------------------
// .pth (zip) and its pickle

/** Byte offsets of the little-endian fields of every zip record (local, central, end). */
function zipFields(b: Buffer): { off: number; width: number }[] {
  const out: { off: number; width: number }[] = [];
  for (let i = 0; i + 4 <= b.length; i++) {
    const sig = b.readUInt32LE(i);
    if (sig === 0x04034b50) for (const [o, w] of [[8, 2], [14, 4], [18, 4], [22, 4], [26, 2], [28, 2]]) out.push({ off: i + o, width: w });
    else if (sig === 0x02014b50) for (const [o, w] of [[10, 2], [20, 4], [24, 4], [28, 2], [30, 2], [32, 2], [42, 4]]) out.push({ off: i + o, width: w });
    else if (sig === 0x06054b50) for (const [o, w] of [[8, 2], [10, 2], [12, 4], [16, 4], [20, 2]]) out.push({ off: i + o, width: w });
  }
  return out;
}

const PICKLE_OPCODES = Buffer.from('(.012NI\x88\x89JKM\x8a\x8bLGFX\x8c\x8dTUSVBC\x8e\x96)t\x85\x86\x87]la e}dsu\x8f\x90\x91c\x93R\x81bQPqrp\x94hjgi o\x82\x83\x84\x92\x80\x95', 'latin1');

function mutateTensors(rng: Rng, ts: CraftTensor[]): string {
  const t = pick(rng, ts);
  const field = pick(rng, ['numel', 'offset', 'size', 'stride', 'storageType', 'key', 'rank']);
  switch (field) {
    case 'numel': t.numel = Math.max(0, interestingInt(rng, t.numel)); break;
    case 'offset': t.offset = interestingInt(rng, t.offset); break;
    case 'size': if (t.size.length > 0) t.size[rng.int(t.size.length)] = interestingInt(rng, t.size[0]); break;
    case 'stride': if (t.stride.length > 0) t.stride[rng.int(t.stride.length)] = interestingInt(rng, t.stride[0]); break;
    case 'storageType': t.storageType = pick(rng, ['FloatStorage', 'DoubleStorage', 'HalfStorage', 'LongStorage', 'BoolStorage', 'ByteStorage', 'Foo', 'UntypedStorage']); break;
    case 'key': t.key = pick(rng, ['0', '1', '', '../x', 'a/b', 'x'.repeat(300), '\u00e9']); break;
    case 'rank': t.size.push(interestingInt(rng, 1)); if (rng.next() < 0.5) t.stride.push(1); break;
  }
  return `tensor.${field}`;
}

const pthZip: FuzzTarget = {
  name: 'pth',
  errors: ['PthError'],
  async make(rng, dir) {
    const ts = sampleTensors();
    const kind = pick(rng, ['tensor', 'tensor', 'pickle-bytes', 'long', 'zip-field', 'zip-field', 'storage-bytes', 'truncate', 'appends']);
    let mutation: string = kind;
    if (kind === 'tensor') mutation = mutateTensors(rng, ts);
    // Values beyond what BININT/LONG1 hold are clamped by op.int's encoding; the reader sees what is written.
    const safeInt = (v: number): number => Math.max(-(2 ** 62), Math.min(2 ** 62, v));
    for (const t of ts) {
      t.numel = safeInt(t.numel);
      t.offset = safeInt(t.offset);
      t.size = t.size.map(safeInt);
      t.stride = t.stride.map(safeInt);
    }
    const extra: [string, Buffer][] = [];
    if (kind === 'long') {
      const n = pick(rng, [0, 1, 8, 63, 64, 65, 255, 1000, 100_000]);
      extra.push(['epoch', rng.next() < 0.5 ? op.long4(n) : putUintBuf(op.long4(8), 1, 4, interestingInt(rng, 8))]);
    }
    if (kind === 'appends') {
      const n = pick(rng, [0, 1, 1000, 200_000]);
      extra.push(['list', Buffer.concat([op.emptyList, op.mark, Buffer.alloc(n, 'N'), op.appends])]);
    }
    let pkl: Uint8Array = pickleStateDict(ts, extra);
    if (kind === 'pickle-bytes') {
      pkl = rng.next() < 0.5 ? flipBytes(rng, pkl, 1 + rng.int(3), 2) : Uint8Array.from(pkl).map((b, i) => (i > 2 && rng.next() < 0.01 ? pick(rng, [...PICKLE_OPCODES]) : b));
    }
    const storageBytes: Record<string, { name: string; data: Uint8Array; deflate?: boolean; declaredSize?: number }> = {};
    if (kind === 'storage-bytes') {
      const t = pick(rng, ts);
      storageBytes[t.key] = { name: `archive/data/${t.key}`, data: new Uint8Array(rng.int(200)), deflate: rng.next() < 0.5, declaredSize: rng.next() < 0.5 ? interestingInt(rng, 96) >>> 0 : undefined };
    }
    let bytes: Uint8Array;
    try {
      bytes = pthArchive(pkl, ts.filter((t) => t.numel < 1e6), storageBytes);
    } catch {
      bytes = pthArchive(pkl, [], storageBytes);
    }
    if (kind === 'zip-field') {
      const f = pick(rng, zipFields(Buffer.from(bytes)));
      bytes = putUint(bytes, f.off, f.width, interestingInt(rng, 0));
    }
    if (kind === 'truncate') bytes = truncate(rng, bytes);
    const path = join(dir, 'x.pth');
    writeFileSync(path, bytes);
    return { path, mutation };
  },
  async read(path) {
    return readPth(path);
  },
};

function putUintBuf(b: Buffer, off: number, width: number, v: number): Buffer {
  return Buffer.from(putUint(b, off, width, v));
}

const pthLegacy: FuzzTarget = {
  name: 'pth-legacy',
  errors: ['PthError'],
  async make(rng, dir) {
    const base = readFileSync(join(FIXTURES, 'legacy-tensors.pth'));
    const kind = pick(rng, ['flip-pickle', 'flip-any', 'int64-field', 'truncate', 'opcode']);
    let bytes: Uint8Array = base;
    if (kind === 'flip-pickle') bytes = flipBytes(rng, base, 1 + rng.int(3), 0, Math.min(base.length, 1500));
    if (kind === 'flip-any') bytes = flipBytes(rng, base, 1 + rng.int(4));
    if (kind === 'int64-field') bytes = putUint(base, rng.int(base.length - 8), 8, interestingInt(rng, 0));
    if (kind === 'truncate') bytes = truncate(rng, base);
    if (kind === 'opcode') bytes = insertBytes(rng, base, 2 + rng.int(1000), Buffer.from([pick(rng, [...PICKLE_OPCODES]), ...putUint(new Uint8Array(4), 0, 4, interestingInt(rng, 4))]));
    const path = join(dir, 'legacy.pth');
    writeFileSync(path, bytes);
    return { path, mutation: kind };
  },
  async read(path) {
    return readPth(path);
  },
};

const pickle: FuzzTarget = {
  name: 'pickle',
  errors: ['PickleError'],
  async make(rng, dir) {
    const ts = sampleTensors();
    const base = pickleStateDict(ts, [['epoch', op.int(3)], ['big', op.long4(9)], ['args', Buffer.concat([op.emptyList, op.mark, op.none, op.str('x'), op.appends])]]);
    const kind = pick(rng, ['control', 'opcode-replace', 'opcode-insert', 'length-arg', 'flip', 'truncate']);
    let bytes: Uint8Array = base;
    if (kind === 'opcode-replace') bytes = Uint8Array.from(base).map((b, i) => (i > 1 && rng.next() < 0.02 ? pick(rng, [...PICKLE_OPCODES]) : b));
    if (kind === 'opcode-insert') {
      const ins = Buffer.concat([Buffer.from([pick(rng, [...PICKLE_OPCODES])]), Buffer.from(putUint(new Uint8Array(8), 0, 8, interestingInt(rng, 4)))]);
      bytes = insertBytes(rng, base, 2 + rng.int(base.length - 3), ins.subarray(0, 1 + rng.int(ins.length)));
    }
    if (kind === 'length-arg') {
      // Opcodes with a length argument: BINUNICODE (4), LONG4 (4), BINBYTES (4), BINUNICODE8 (8), LONG_BINGET (4).
      const o = pick(rng, [0x58, 0x8b, 0x42, 0x8d, 0x6a, 0x72, 0x54]);
      const w = o === 0x8d ? 8 : 4;
      bytes = insertBytes(rng, base, 2, Buffer.concat([Buffer.from([o]), Buffer.from(putUint(new Uint8Array(w), 0, w, interestingInt(rng, 4))), Buffer.alloc(rng.int(16), 0x41)]));
    }
    if (kind === 'flip') bytes = flipBytes(rng, base, 1 + rng.int(4), 2);
    if (kind === 'truncate') bytes = truncate(rng, base);
    const path = join(dir, 'data.pkl');
    writeFileSync(path, bytes);
    return { path, mutation: kind };
  },
  async read(path) {
    return unpickleTorch(readFileSync(path), path);
  },
};

// ---------------------------------------------------------------------------------------------
// tar, gzip, IDX, CIFAR

function cifarRecords(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n * 3073, seed);
  for (let i = 0; i < n; i++) b[i * 3073] = (i + seed) % 10;
  return b;
}

const tar: FuzzTarget = {
  name: 'tar',
  errors: ['DataError'],
  async make(rng, dir) {
    const entries: TarEntry[] = [
      { name: 'cifar-10-batches-bin/batches.meta.txt', data: Buffer.from('a\nb\n') },
      { name: 'cifar-10-batches-bin/data_batch_1.bin', data: cifarRecords(2, 1) },
      { name: 'cifar-10-batches-bin/test_batch.bin', data: cifarRecords(1, 2) },
    ];
    if (rng.next() < 0.3) entries.unshift({ name: 'PaxHeader', type: 'x', data: paxRecords({ path: 'cifar-10-batches-bin/readme.txt', mtime: '1' }) }, { name: 'r', data: Buffer.from('hi') });
    if (rng.next() < 0.3) entries.unshift({ name: '././@LongLink', type: 'L', data: Buffer.from('d/'.repeat(70) + 'long.txt\0') }, { name: 'l', data: Buffer.from('long') });
    const e = pick(rng, entries);
    const kind = pick(rng, ['size', 'type', 'name', 'checksum', 'magic', 'pax', 'gnu', 'flip-header', 'truncate', 'no-end']);
    switch (kind) {
      case 'size': e.size = Math.max(0, interestingInt(rng, e.data.length)); break;
      case 'type': e.type = pick(rng, ['0', '1', '2', '5', '7', 'g', 'x', 'L', 'K', 'S', 'V', '\0', 'Z']); break;
      case 'name': e.name = pick(rng, ['', '/', '../../etc/passwd', 'a\0b', 'x'.repeat(100), '\u00ff\u00fe']); break;
      case 'checksum': e.checksum = interestingInt(rng, 0) >>> 0; break;
      case 'magic': e.magic = pick(rng, ['', 'ustar  ', 'xxxxx\0', 'ustar\0']); break;
      case 'pax': entries.unshift({ name: 'PaxHeader', type: pick(rng, ['x', 'g']), data: rng.next() < 0.5 ? paxRecords({ [pick(rng, ['size', 'path', 'mtime', 'linkpath'])]: String(pick(rng, ['-1', '1e30', '99999999999999999', 'abc', '', 'x'.repeat(5000)])) }) : Buffer.from(pick(rng, ['999999 path=x\n', '5 a\n', 'garbage', '10 path=\0\n'])) }); break;
      case 'gnu': entries.unshift({ name: '././@LongLink', type: 'L', data: Buffer.alloc(pick(rng, [0, 1, 4095, 4097, 70_000]), 0x61) }); break;
      default: break;
    }
    let bytes: Uint8Array = writeTarEntries(entries, kind !== 'no-end');
    if (kind === 'flip-header') bytes = flipBytes(rng, bytes, 1 + rng.int(3), 0, 512);
    if (kind === 'truncate') bytes = truncate(rng, bytes);
    if (rng.next() < 0.5) bytes = gzipSync(bytes);
    const path = join(dir, 'x.tar.gz');
    writeFileSync(path, bytes);
    return { path, mutation: kind };
  },
  async read(path) {
    return readTarEntries(path, () => true);
  },
};

function idxBytes(dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d >>> 0, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

function writeIdxPair(dir: string, images: Uint8Array, labels: Uint8Array): { img: string; lab: string } {
  const img = join(dir, 'train-images-idx3-ubyte.gz');
  const lab = join(dir, 'train-labels-idx1-ubyte.gz');
  writeFileSync(img, images);
  writeFileSync(lab, labels);
  return { img, lab };
}

const gzip: FuzzTarget = {
  name: 'gzip',
  errors: ['DataError'],
  async make(rng, dir) {
    const raw = idxBytes([3, 4, 4], new Uint8Array(48).fill(9));
    const gz = gzipSync(raw);
    const kind = pick(rng, ['header', 'flags', 'body', 'trailer', 'truncate', 'concat']);
    let bytes: Uint8Array = gz;
    if (kind === 'header') bytes = flipBytes(rng, gz, 1, 2, 10);
    if (kind === 'flags') bytes = putUint(gz, 3, 1, pick(rng, [0x04, 0x08, 0x10, 0x02, 0xff, 0x1c]));
    if (kind === 'body') bytes = flipBytes(rng, gz, 1 + rng.int(3), 10, gz.length - 8);
    if (kind === 'trailer') bytes = putUint(gz, gz.length - 4 - 4 * rng.int(2), 4, interestingInt(rng, raw.length));
    if (kind === 'truncate') bytes = truncate(rng, gz);
    if (kind === 'concat') bytes = Buffer.concat([gz, rng.next() < 0.5 ? gz : Buffer.alloc(1 + rng.int(20), rng.int(256))]);
    const { img } = writeIdxPair(dir, bytes, gzipSync(idxBytes([3], Uint8Array.from([1, 2, 3]))));
    return { path: img, mutation: kind };
  },
  async read(path) {
    const dir = path.slice(0, path.lastIndexOf('/'));
    return loadIdxPair(path, join(dir, 'train-labels-idx1-ubyte.gz'), [], 'fuzz', 'train');
  },
};

const idx: FuzzTarget = {
  name: 'idx',
  errors: ['DataError'],
  async make(rng, dir) {
    let images: Uint8Array = idxBytes([3, 4, 4], new Uint8Array(48).fill(9));
    let labels: Uint8Array = idxBytes([3], Uint8Array.from([1, 2, 3]));
    const which = rng.next() < 0.6 ? 'images' : 'labels';
    let b = which === 'images' ? images : labels;
    const kind = pick(rng, ['magic', 'type', 'ndims', 'dim', 'truncate', 'extend', 'label-value']);
    if (kind === 'magic') b = putUint(b, rng.int(2), 1, rng.int(256));
    if (kind === 'type') b = putUint(b, 2, 1, pick(rng, [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0xff]));
    if (kind === 'ndims') b = putUint(b, 3, 1, pick(rng, [0, 1, 2, 3, 4, 255]));
    if (kind === 'dim') b = putUint(b, 4 + 4 * rng.int(which === 'images' ? 3 : 1), 4, interestingInt(rng, 3), false);
    if (kind === 'truncate') b = truncate(rng, b);
    if (kind === 'extend') b = Buffer.concat([b, Buffer.alloc(1 + rng.int(64))]);
    if (kind === 'label-value') b = putUint(b, b.length - 1 - rng.int(3), 1, pick(rng, [0, 9, 10, 200, 255]));
    if (which === 'images') images = b;
    else labels = b;
    const { img } = writeIdxPair(dir, images, labels);
    return { path: img, mutation: `${which}.${kind}` };
  },
  async read(path) {
    const dir = path.slice(0, path.lastIndexOf('/'));
    return loadIdxPair(path, join(dir, 'train-labels-idx1-ubyte.gz'), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'fuzz', 'train');
  },
};

const cifar: FuzzTarget = {
  name: 'cifar',
  errors: ['DataError'],
  async make(rng, dir) {
    const d = join(dir, 'cifar-10-batches-bin');
    mkdirSync(d, { recursive: true });
    const files: Record<string, Buffer> = { 'batches.meta.txt': Buffer.from('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n') };
    for (let i = 1; i <= 5; i++) files[`data_batch_${i}.bin`] = cifarRecords(2, i);
    files['test_batch.bin'] = cifarRecords(1, 7);
    const f = pick(rng, Object.keys(files));
    const kind = pick(rng, ['label', 'truncate', 'extend', 'empty', 'missing', 'names']);
    if (kind === 'label' && f.endsWith('.bin')) files[f][3073 * rng.int(files[f].length / 3073)] = pick(rng, [10, 11, 99, 255]);
    if (kind === 'truncate') files[f] = files[f].subarray(0, rng.int(files[f].length));
    if (kind === 'extend') files[f] = Buffer.concat([files[f], Buffer.alloc(1 + rng.int(4000))]);
    if (kind === 'empty') files[f] = Buffer.alloc(0);
    if (kind === 'names') files['batches.meta.txt'] = Buffer.from(pick(rng, ['', 'a\n', 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n', '\u00ff\n'.repeat(10)]));
    for (const [name, data] of Object.entries(files)) if (!(kind === 'missing' && name === f)) writeFileSync(join(d, name), data);
    return { path: dir, mutation: `${f}.${kind}` };
  },
  async read(path) {
    return loadCifar(path, 'cifar10');
  },
};

// ---------------------------------------------------------------------------------------------
// images (sharp)

let imageBases: { png: Buffer; jpg: Buffer; webp: Buffer } | null = null;

async function images(): Promise<{ png: Buffer; jpg: Buffer; webp: Buffer }> {
  if (imageBases === null) {
    const raw = { raw: { width: 12, height: 10, channels: 3 as const } };
    const px = Buffer.alloc(12 * 10 * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 37) & 0xff;
    imageBases = {
      png: await sharp(px, raw).png().toBuffer(),
      jpg: await sharp(px, raw).jpeg().toBuffer(),
      webp: await sharp(px, raw).webp().toBuffer(),
    };
  }
  return imageBases;
}

const image: FuzzTarget = {
  name: 'images',
  errors: ['DataError'],
  async make(rng, dir) {
    const base = await images();
    const fmt = pick(rng, ['png', 'png', 'jpg', 'webp'] as const);
    let b: Uint8Array = base[fmt];
    const kind = pick(rng, ['dims', 'depth', 'flip', 'truncate', 'chunk-length']);
    if (fmt === 'png') {
      if (kind === 'dims') b = putUint(b, 16 + 4 * rng.int(2), 4, interestingInt(rng, 12), false);
      if (kind === 'depth') b = putUint(b, 24 + rng.int(5), 1, pick(rng, [0, 1, 2, 3, 4, 6, 8, 16, 255]));
      if (kind === 'chunk-length') b = putUint(b, 33, 4, interestingInt(rng, 0), false);
    } else if (fmt === 'jpg') {
      const sof = Buffer.from(b).indexOf(Buffer.from([0xff, 0xc0]));
      if ((kind === 'dims' || kind === 'depth') && sof > 0) b = putUint(b, sof + 5 + 2 * rng.int(2), 2, interestingInt(rng, 10), false);
      if (kind === 'chunk-length' && sof > 0) b = putUint(b, sof + 2, 2, interestingInt(rng, 17), false);
    } else if (kind === 'dims' || kind === 'chunk-length') b = putUint(b, 4, 4, interestingInt(rng, b.length));
    if (kind === 'flip') b = flipBytes(rng, b, 1 + rng.int(4), 8);
    if (kind === 'truncate') b = truncate(rng, b);
    const cls = (c: string): string => {
      const d = join(dir, 'imgs', c);
      mkdirSync(d, { recursive: true });
      return d;
    };
    writeFileSync(join(cls('a'), `x.${fmt}`), b);
    writeFileSync(join(cls('b'), 'y.png'), base.png);
    return { path: join(dir, 'imgs'), mutation: `${fmt}.${kind}` };
  },
  async read(path) {
    return loadImageFolder(path, { size: 8, concurrency: 1 });
  },
};

// ---------------------------------------------------------------------------------------------
// ONNX writer input: weights -> network -> ONNX bytes

let weightsBase: Buffer | null = null;

function weightsFile(tmp: string): Buffer {
  if (weightsBase === null) {
    setBackend(new JsBackend());
    const model = createModel('wrn-10-1', { classes: 10, inChannels: 3, seed: 1 });
    const f = join(tmp, 'base.safetensors');
    saveWeights(f, model, { arch: 'wrn-10-1', classes: 10, inChannels: 3, inputSize: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], labels: Array.from({ length: 10 }, (_, i) => `c${i}`), activation: 'relu', dropout: 0 });
    model.dispose();
    weightsBase = readFileSync(f);
  }
  return weightsBase;
}

const onnxInput: FuzzTarget = {
  name: 'onnx-input',
  errors: ['SafetensorsError', 'OnnxExportError', 'PthError', 'UserError', 'WeightsError', 'Error'],
  async make(rng, dir) {
    const base = weightsFile(dir);
    const hlen = Number(base.readBigUInt64LE(0));
    const header = JSON.parse(base.subarray(8, 8 + hlen).toString('utf8')) as Record<string, Record<string, unknown>>;
    const data = base.subarray(8 + hlen);
    const meta = header.__metadata__ as Record<string, string>;
    const kind = pick(rng, ['meta', 'meta', 'shape', 'dtype', 'drop']);
    let mutation: string = kind;
    if (kind === 'meta') {
      const k = pick(rng, ['classes', 'in_channels', 'input_size', 'labels', 'mean', 'std', 'arch', 'activation', 'dropout', 'format']);
      const v = k === 'arch'
        ? pick(rng, ['wrn-10-2', 'wrn-16-1', 'wrn-7-1', 'wrn-10-0', 'wrn-x', '', 'resnet', 'wrn-10-1-b99'])
        : k === 'activation' || k === 'format'
          ? pick(rng, ['relu', 'silu', 'gelu', 'tanh', '', 'wide-resnet/2'])
        : k === 'labels' || k === 'mean' || k === 'std'
          ? pick(rng, ['[]', '[1]', '"x"', '[', '{}', '["a"]', '[0,0,0]', '[1e309,1,1]', 'null'])
          : String(pick(rng, [0, -1, 1, 3, 11, 1.5, 'x', 2 ** 31, 1e9, 2 ** 53]));
      meta[k] = v;
      mutation = `meta.${k}`;
    } else {
      const names = Object.keys(header).filter((n) => n !== '__metadata__');
      const t = header[pick(rng, names)];
      if (kind === 'shape') {
        const s = [...(t.shape as number[])];
        s[rng.int(s.length + 1)] = pick(rng, [0, 1, 2, 3, 7, 64]);
        t.shape = s;
      }
      if (kind === 'dtype') t.dtype = pick(rng, ['F16', 'BF16', 'I64', 'U8', 'F64']);
      if (kind === 'drop') delete header[names[rng.int(names.length)]];
    }
    const path = join(dir, 'w.safetensors');
    writeFileSync(path, stBytes(header, data));
    return { path, mutation };
  },
  async read(path) {
    setBackend(new JsBackend());
    const { tensors, meta } = await readAnyWeights(path);
    const { model, meta: m } = loadNetwork(path, tensors, meta);
    try {
      return buildOnnx(model, { inputSize: m.inputSize, metadata: {} }).length;
    } finally {
      model.dispose();
    }
  },
};

/** Every reader the fuzzer covers, in report order. */
export const TARGETS: readonly FuzzTarget[] = [safetensors, pthZip, pthLegacy, pickle, tar, gzip, idx, cifar, image, onnxInput];

