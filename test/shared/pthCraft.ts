/**
 * Builds torch.save-style files byte by byte, field by field, so tests and the fuzzer can make hostile
 * ones that PyTorch itself would never write: views past or far beyond their storage, huge integers,
 * huge APPENDS, zip entries whose declared sizes lie.
 */
import { crc32, deflateRawSync } from 'node:zlib';

/** One tensor of a crafted state dict: a view (offset, size, stride) of storage `key`. */
export interface CraftTensor {
  name: string;
  key: string;
  storageType: string; // e.g. 'FloatStorage'
  numel: number; // the storage's declared element count
  offset: number;
  size: number[];
  stride: number[];
}

/** Raw pickle opcodes, for building values by hand. */
export const op = {
  proto: (v: number): Buffer => Buffer.from([0x80, v]),
  stop: Buffer.from('.'),
  mark: Buffer.from('('),
  emptyDict: Buffer.from('}'),
  emptyList: Buffer.from(']'),
  none: Buffer.from('N'),
  newFalse: Buffer.from([0x89]),
  tuple: Buffer.from('t'),
  setItems: Buffer.from('u'),
  appends: Buffer.from('e'),
  reduce: Buffer.from('R'),
  binPersId: Buffer.from('Q'),
  global: (module: string, name: string): Buffer => Buffer.from(`c${module}\n${name}\n`, 'latin1'),
  str(s: string): Buffer {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58; // BINUNICODE
    h.writeUInt32LE(b.length, 1);
    return Buffer.concat([h, b]);
  },
  int(v: number): Buffer {
    if (v >= 0 && v < 256) return Buffer.from([0x4b, v]);
    if (v >= -(2 ** 31) && v < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(v, 1);
      return b;
    }
    const b = Buffer.alloc(10);
    b[0] = 0x8a; // LONG1, 8 bytes
    b[1] = 8;
    b.writeBigInt64LE(BigInt(v), 2);
    return b;
  },
  /** A LONG4 integer of `n` bytes (little-endian two's complement, here all 0x01). */
  long4(n: number): Buffer {
    const b = Buffer.alloc(5 + n, 1);
    b[0] = 0x8b;
    b.writeInt32LE(n, 1);
    return b;
  },
  tupleOf: (...items: Buffer[]): Buffer => Buffer.concat([Buffer.from('('), ...items, Buffer.from('t')]),
};

/** The pickled `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` of a tensor. */
export function pickleTensor(t: CraftTensor): Buffer {
  const persid = Buffer.concat([
    op.tupleOf(op.str('storage'), op.global('torch', t.storageType), op.str(t.key), op.str('cpu'), op.int(t.numel)),
    op.binPersId,
  ]);
  const args = op.tupleOf(
    persid,
    op.int(t.offset),
    op.tupleOf(...t.size.map(op.int)),
    op.tupleOf(...t.stride.map(op.int)),
    op.newFalse,
    op.global('collections', 'OrderedDict'), op.tupleOf(), op.reduce,
  );
  return Buffer.concat([op.global('torch._utils', '_rebuild_tensor_v2'), args, op.reduce]);
}

function dictOf(items: [string, Buffer][]): Buffer {
  return Buffer.concat([op.emptyDict, op.mark, ...items.flatMap(([k, v]) => [op.str(k), v]), op.setItems]);
}

/**
 * data.pkl of a state dict {name: tensor}; with `extra` (key, raw pickled value) pairs, a checkpoint
 * {'state_dict': {...}, ...extra} instead.
 */
export function pickleStateDict(tensors: CraftTensor[], extra: [string, Buffer][] = []): Buffer {
  const sd = dictOf(tensors.map((t) => [t.name, pickleTensor(t)]));
  const root = extra.length === 0 ? sd : dictOf([['state_dict', sd], ...extra]);
  return Buffer.concat([op.proto(2), root, op.stop]);
}

export interface ZipEntry {
  name: string;
  data: Uint8Array;
  /** Deflate it (method 8) instead of storing it (method 0). */
  deflate?: boolean;
  /** Lie in the headers: this uncompressed size instead of the real one. */
  declaredSize?: number;
}

/** A zip archive (local headers, data, central directory, end record), as torch.save writes one. */
export function zipArchive(entries: ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : Buffer.from(e.data);
    const size = e.declaredSize ?? e.data.length;
    const crc = crc32(e.data);
    const method = e.deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size >>> 0, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(size >>> 0, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(cd, name);
    offset += 30 + name.length + body.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBytes, end]);
}

const ITEM: Record<string, number> = { FloatStorage: 4, DoubleStorage: 8, HalfStorage: 2, BFloat16Storage: 2, LongStorage: 8, IntStorage: 4, ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1 };

/**
 * A torch.save zip archive `archive/data.pkl` + `archive/data/<key>` holding `pkl`; each storage's
 * bytes are `numel * itemsize` zeros unless `storageBytes` says otherwise.
 */
export function pthArchive(pkl: Uint8Array, storages: { key: string; storageType: string; numel: number }[], storageBytes: Record<string, ZipEntry> = {}): Buffer {
  const entries: ZipEntry[] = [{ name: 'archive/data.pkl', data: pkl }];
  const seen = new Set<string>();
  for (const s of storages) {
    if (seen.has(s.key)) continue;
    seen.add(s.key);
    entries.push(storageBytes[s.key] ?? { name: `archive/data/${s.key}`, data: new Uint8Array(s.numel * (ITEM[s.storageType] ?? 4)) });
  }
  return zipArchive(entries);
}

/** A valid little state dict (two float tensors, one a strided view) to mutate. */
export function sampleTensors(): CraftTensor[] {
  return [
    { name: 'conv.weight', key: '0', storageType: 'FloatStorage', numel: 24, offset: 0, size: [2, 3, 2, 2], stride: [12, 4, 2, 1] },
    { name: 'fc.weight', key: '1', storageType: 'FloatStorage', numel: 12, offset: 2, size: [2, 3], stride: [1, 2] },
    { name: 'bn.num_batches_tracked', key: '2', storageType: 'LongStorage', numel: 1, offset: 0, size: [], stride: [] },
  ];
}
