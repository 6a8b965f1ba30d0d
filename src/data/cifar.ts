/**
 * CIFAR-10 / CIFAR-100 "binary version" readers: extracted folders (`cifar-10-batches-bin/`, `cifar-100-binary/`
 * or the files themselves) and the official `.tar.gz` archives.
 *
 * CIFAR-10 record: 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B; rows top to bottom).
 * CIFAR-100 record: 1 coarse label byte + 1 fine label byte + 3072 pixel bytes.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, asDataError } from './errors.js';
import { allocShared, checkLabels, validateDataset, type Dataset, type LabelSet } from './dataset.js';
import { readTarEntries } from './tar.js';
import { pathKind } from './files.js';

export type CifarKind = 'cifar10' | 'cifar100';
export type Cifar100LabelMode = 'fine' | 'coarse';

const PIXELS = 3 * 32 * 32;

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR10_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_DIR = 'cifar-10-batches-bin';
export const CIFAR100_DIR = 'cifar-100-binary';

export interface CifarOptions {
  /** CIFAR-100 only: which label set is primary (`fine`, 100 classes, default; or `coarse`, 20 superclasses). */
  labelMode?: Cifar100LabelMode;
}

export interface CifarSplits {
  kind: CifarKind;
  train: Dataset;
  test: Dataset;
}

/** Parses one CIFAR binary file (already in memory). */
export function parseCifarBin(
  buf: Uint8Array,
  file: string,
  kind: CifarKind,
  classes: { primary: string[]; secondary?: string[] },
  split: string,
  opts: CifarOptions = {},
): Dataset {
  return parseCifarBins([{ buf, file }], kind, classes, split, opts);
}

/**
 * Parses CIFAR binary files (CIFAR-10: 1 label byte per record, CIFAR-100: coarse + fine) into one Dataset,
 * written once into shared memory. Errors name the file at fault.
 */
export function parseCifarBins(
  parts: { buf: Uint8Array; file: string }[],
  kind: CifarKind,
  classes: { primary: string[]; secondary?: string[] },
  split: string,
  opts: CifarOptions = {},
): Dataset {
  const labelBytes = kind === 'cifar10' ? 1 : 2;
  const rec = labelBytes + PIXELS;
  let n = 0;
  for (const { buf, file } of parts) {
    if (buf.length === 0) throw new DataError(`${file}: empty file (expected ${kind} records of ${rec} bytes)`, file);
    if (buf.length % rec !== 0) {
      throw new DataError(
        `${file}: ${buf.length} bytes is not a whole number of ${rec}-byte ${kind} records (truncated or not a ${kind} binary file)`,
        file,
      );
    }
    n += buf.length / rec;
  }
  const images = allocShared('uint8', n * PIXELS) as Uint8Array;
  // A Buffer view of the shared memory: Buffer.copy is a plain memcpy.
  const target = Buffer.from(images.buffer, images.byteOffset, images.byteLength);
  const first = new Int32Array(n);
  const second = labelBytes === 2 ? new Int32Array(n) : null;
  const fineNames = classes.primary;
  const coarseNames = classes.secondary ?? [];
  let i = 0;
  for (const { buf, file } of parts) {
    const src = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const m = buf.length / rec;
    const i0 = i;
    for (let r = 0; r < m; r++, i++) {
      const o = r * rec;
      first[i] = buf[o];
      if (second) second[i] = buf[o + 1];
      src.copy(target, i * PIXELS, o + labelBytes, o + rec);
    }
    if (kind === 'cifar10') checkLabels(first.subarray(i0, i), classes.primary.length, file);
    else {
      checkLabels((second as Int32Array).subarray(i0, i), fineNames.length, file, 'fine label');
      checkLabels(first.subarray(i0, i), coarseNames.length, file, 'coarse label');
    }
  }
  const sources = parts.map((p) => p.file);
  let ds: Dataset;
  if (kind === 'cifar10') {
    ds = { images, labels: first, shape: [n, 3, 32, 32], classes: classes.primary, meta: { name: kind, split, sources } };
  } else {
    // first = coarse, second = fine.
    const fine = { labels: second as Int32Array, classes: fineNames };
    const coarse = { labels: first, classes: coarseNames };
    const mode = opts.labelMode ?? 'fine';
    const primary = mode === 'fine' ? fine : coarse;
    const other: Record<string, LabelSet> = mode === 'fine' ? { coarse } : { fine };
    ds = {
      images,
      labels: primary.labels,
      shape: [n, 3, 32, 32],
      classes: primary.classes,
      extraLabels: other,
      meta: { name: kind, split, sources, labelMode: mode },
    };
  }
  return validateDataset(ds, sources[0]);
}

function parseNames(text: string, file: string, expected: number): string[] {
  const names = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== expected) {
    throw new DataError(`${file}: ${names.length} class names, expected ${expected} (one per line)`, file);
  }
  return names;
}

/** Where a CIFAR file comes from: a folder on disk or the entries of an archive. */
interface FileSource {
  describe(name: string): string;
  has(name: string): boolean;
  read(name: string): Promise<Buffer>;
}

async function classNames(kind: CifarKind, src: FileSource): Promise<{ primary: string[]; secondary?: string[] }> {
  {
    if (kind === 'cifar10') {
      if (!src.has('batches.meta.txt')) return { primary: CIFAR10_CLASSES };
      const f = 'batches.meta.txt';
      return { primary: parseNames((await src.read(f)).toString('utf8'), src.describe(f), 10) };
    }
    const numbered = (k: number): string[] => Array.from({ length: k }, (_, i) => String(i));
    const fine = src.has('fine_label_names.txt')
      ? parseNames((await src.read('fine_label_names.txt')).toString('utf8'), src.describe('fine_label_names.txt'), 100)
      : numbered(100);
    const coarse = src.has('coarse_label_names.txt')
      ? parseNames((await src.read('coarse_label_names.txt')).toString('utf8'), src.describe('coarse_label_names.txt'), 20)
      : numbered(20);
    return { primary: fine, secondary: coarse };
  }
}

async function loadFrom(kind: CifarKind, src: FileSource, where: string, opts: CifarOptions): Promise<CifarSplits> {
  const trainFiles = kind === 'cifar10' ? CIFAR10_TRAIN_FILES : ['train.bin'];
  const testFile = kind === 'cifar10' ? CIFAR10_TEST_FILE : 'test.bin';
  for (const f of [...trainFiles, testFile]) {
    if (!src.has(f)) throw new DataError(`${src.describe(f)}: missing (expected the ${kind} binary file ${f} in ${where})`, where);
  }
  const names = await classNames(kind, src);
  const parts: { buf: Uint8Array; file: string }[] = [];
  for (const f of trainFiles) parts.push({ buf: await src.read(f), file: src.describe(f) });
  const train = parseCifarBins(parts, kind, names, 'train', opts);
  const test = parseCifarBin(await src.read(testFile), src.describe(testFile), kind, names, 'test', opts);
  return { kind, train, test };
}

/** Finds the folder that holds the CIFAR binary files: `dir` itself or its `cifar-10-batches-bin`/`cifar-100-binary`. */
export async function detectCifarDir(dir: string): Promise<{ kind: CifarKind; dir: string } | null> {
  for (const d of [dir, join(dir, CIFAR10_DIR), join(dir, CIFAR100_DIR)]) {
    if ((await pathKind(join(d, 'data_batch_1.bin'))) === 'file') return { kind: 'cifar10', dir: d };
    if ((await pathKind(join(d, 'train.bin'))) === 'file' && (await pathKind(join(d, 'test.bin'))) === 'file') {
      return { kind: 'cifar100', dir: d };
    }
  }
  return null;
}

/** Loads CIFAR-10 or CIFAR-100 from an extracted folder. */
export async function loadCifarDir(dir: string, kind?: CifarKind, opts: CifarOptions = {}): Promise<CifarSplits> {
  const found = await detectCifarDir(dir);
  if (!found || (kind && found.kind !== kind)) {
    const exp = kind === 'cifar100' ? 'train.bin and test.bin' : kind === 'cifar10' ? 'data_batch_1.bin .. data_batch_5.bin and test_batch.bin' : 'CIFAR binary files';
    throw new DataError(`${dir}: no ${kind ?? 'CIFAR'} binary files found (expected ${exp}, possibly under ${kind === 'cifar100' ? CIFAR100_DIR : CIFAR10_DIR}/)`, dir);
  }
  let listing: string[];
  try {
    listing = await readdir(found.dir);
  } catch (err) {
    throw asDataError(err, found.dir, 'a CIFAR folder');
  }
  const present = new Set(listing);
  const src: FileSource = {
    describe: (n) => join(found.dir, n),
    has: (n) => present.has(n),
    read: async (n) => {
      try {
        return await readFile(join(found.dir, n));
      } catch (err) {
        throw asDataError(err, join(found.dir, n), `a ${found.kind} file`);
      }
    },
  };
  return loadFrom(found.kind, src, found.dir, opts);
}

/** Loads CIFAR-10 or CIFAR-100 from an official (or equivalent) `.tar.gz` / `.tar` archive. */
export async function loadCifarArchive(file: string, kind?: CifarKind, opts: CifarOptions = {}): Promise<CifarSplits> {
  const wanted = /(^|\/)(data_batch_[1-5]\.bin|test_batch\.bin|batches\.meta\.txt|train\.bin|test\.bin|fine_label_names\.txt|coarse_label_names\.txt)$/;
  const entries = await readTarEntries(file, (n) => wanted.test(n));
  const byBase = new Map<string, Buffer>();
  for (const [name, data] of entries) byBase.set(name.slice(name.lastIndexOf('/') + 1), data);
  let found: CifarKind | null = null;
  if (byBase.has('data_batch_1.bin')) found = 'cifar10';
  else if (byBase.has('train.bin')) found = 'cifar100';
  if (!found || (kind && found !== kind)) {
    throw new DataError(`${file}: archive holds no ${kind ?? 'CIFAR'} binary files (expected ${kind === 'cifar100' ? `${CIFAR100_DIR}/train.bin` : `${CIFAR10_DIR}/data_batch_1.bin`})`, file);
  }
  const src: FileSource = {
    describe: (n) => `${file}:${n}`,
    has: (n) => byBase.has(n),
    read: async (n) => byBase.get(n) as Buffer,
  };
  return loadFrom(found, src, file, opts);
}

/** Loads CIFAR from a folder or an archive. */
export async function loadCifar(path: string, kind?: CifarKind, opts: CifarOptions = {}): Promise<CifarSplits> {
  const k = await pathKind(path);
  if (k === 'missing') throw new DataError(`${path}: no such file or directory (expected a ${kind ?? 'CIFAR'} folder or .tar.gz archive)`, path);
  return k === 'dir' ? loadCifarDir(path, kind, opts) : loadCifarArchive(path, kind, opts);
}
