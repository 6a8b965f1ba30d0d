/**
 * Finding a dataset by name or path.
 *
 * A name (`fashion-mnist`, `mnist`, `cifar10`, `cifar100`) is looked up, in order, in:
 *   1. `$WRN_DATA/<name>` (or `opts.dataDir`), torchvision's `$WRN_DATA/{FashionMNIST,MNIST}/raw`, and for CIFAR
 *      `$WRN_DATA` itself (holding `cifar-10-batches-bin/` or the archive),
 *   2. Debian's packaged copies (`dataset-fashion-mnist`: /usr/share/datasets/fashion-mnist),
 *   3. the cache `~/.cache/wide-resnet/<name>` (`$WRN_CACHE`, `$XDG_CACHE_HOME/wide-resnet`, or `opts.cacheDir`),
 * and otherwise downloaded into the cache from the official URLs (SHA-256 verified, resumable).
 *
 * A path may be a folder (IDX files, CIFAR binaries or archive, safetensors files, or an image folder) or a
 * file (`.safetensors`, a CIFAR `.tar.gz`, an IDX or CIFAR `.bin` file: its folder is read).
 */
import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { DataError } from './errors.js';
import { makeSplits, type Dataset, type DatasetSplits, type SplitOptions } from './dataset.js';
import { loadIdxPair } from './idx.js';
import { loadCifar, detectCifarDir, type CifarKind, type Cifar100LabelMode } from './cifar.js';
import { loadImageFolder } from './imagefolder.js';
import { loadSafetensorsDataset } from './safetensorsData.js';
import { downloadFile, verifyExisting, type DownloadOptions } from './download.js';
import { pathKind } from './files.js';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export type KnownDataset = 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100';

export interface RemoteFile {
  file: string;
  urls: string[];
  sha256: string;
  size: number;
}

const IDX_BASES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

function mirrors(bases: string[], file: string): string[] {
  return bases.map((b) => `${b}${file}`);
}

const FASHION_URLS = ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'];
const MNIST_URLS = ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'https://storage.googleapis.com/cvdf-datasets/mnist/'];

/** Official download locations with their SHA-256 and size. */
export const REMOTE_FILES: Record<KnownDataset, RemoteFile[]> = {
  'fashion-mnist': [
    { file: 'train-images-idx3-ubyte.gz', sha256: '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84', size: 26421880 },
    { file: 'train-labels-idx1-ubyte.gz', sha256: 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845', size: 29515 },
    { file: 't10k-images-idx3-ubyte.gz', sha256: '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073', size: 4422102 },
    { file: 't10k-labels-idx1-ubyte.gz', sha256: '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5', size: 5148 },
  ].map((f) => ({ ...f, urls: mirrors(FASHION_URLS, f.file) })),
  mnist: [
    { file: 'train-images-idx3-ubyte.gz', sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609', size: 9912422 },
    { file: 'train-labels-idx1-ubyte.gz', sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c', size: 28881 },
    { file: 't10k-images-idx3-ubyte.gz', sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6', size: 1648877 },
    { file: 't10k-labels-idx1-ubyte.gz', sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6', size: 4542 },
  ].map((f) => ({ ...f, urls: mirrors(MNIST_URLS, f.file) })),
  cifar10: [
    {
      file: 'cifar-10-binary.tar.gz',
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
      sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
      size: 170052171,
    },
  ],
  cifar100: [
    {
      file: 'cifar-100-binary.tar.gz',
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'],
      sha256: '58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec',
      size: 168513733,
    },
  ],
};

const ALIASES: Record<string, KnownDataset> = {
  'fashion-mnist': 'fashion-mnist',
  fashion_mnist: 'fashion-mnist',
  fashionmnist: 'fashion-mnist',
  fmnist: 'fashion-mnist',
  mnist: 'mnist',
  cifar10: 'cifar10',
  'cifar-10': 'cifar10',
  cifar_10: 'cifar10',
  cifar100: 'cifar100',
  'cifar-100': 'cifar100',
  cifar_100: 'cifar100',
};

export function knownDatasetName(s: string): KnownDataset | undefined {
  return ALIASES[s.toLowerCase()];
}

/** Debian packages' install locations. */
export const DEBIAN_DIRS: Record<KnownDataset, string[]> = {
  'fashion-mnist': ['/usr/share/datasets/fashion-mnist', '/usr/share/dataset-fashion-mnist', '/usr/share/fashion-mnist'],
  mnist: ['/usr/share/datasets/mnist', '/usr/share/dataset-mnist', '/usr/share/mnist'],
  cifar10: ['/usr/share/datasets/cifar10', '/usr/share/datasets/cifar-10'],
  cifar100: ['/usr/share/datasets/cifar100', '/usr/share/datasets/cifar-100'],
};

export interface ResolveOptions extends SplitOptions {
  /** Root of local datasets (default `$WRN_DATA`). */
  dataDir?: string;
  /** Download cache (default `$WRN_CACHE`, `$XDG_CACHE_HOME/wide-resnet`, `~/.cache/wide-resnet`). */
  cacheDir?: string;
  /** Download a named dataset that is found nowhere (default true; `WRN_NO_DOWNLOAD=1` turns it off). */
  download?: boolean;
  /** Extra places to look for named datasets (tests use this in place of the Debian folders). */
  systemDirs?: Partial<Record<KnownDataset, string[]>>;
  /** Download locations in place of REMOTE_FILES (tests point these at a local server). */
  remoteFiles?: Partial<Record<KnownDataset, RemoteFile[]>>;
  /** Passed to downloads (progress, retries). */
  downloadOptions?: DownloadOptions;
  /** CIFAR-100: primary label set (default `fine`). */
  labelMode?: Cifar100LabelMode;
  /** Image folders: output size (default 32) and channels (default 3). */
  imageSize?: number;
  channels?: 1 | 3;
}

export function defaultCacheDir(): string {
  if (process.env.WRN_CACHE) return process.env.WRN_CACHE;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'wide-resnet');
}

/** Finds an IDX file by its base name, raw or gzipped, with `-idx` or `.idx` spelling. */
async function findIdxFile(dir: string, base: string, listing: Set<string>): Promise<string | undefined> {
  const dotted = base.replace('-idx', '.idx');
  for (const b of [base, dotted]) {
    for (const f of [`${b}.gz`, b]) if (listing.has(f)) return join(dir, f);
  }
  return undefined;
}

async function listing(dir: string): Promise<Set<string>> {
  try {
    return new Set(await readdir(dir));
  } catch {
    return new Set();
  }
}

async function idxFiles(dir: string): Promise<Record<keyof typeof IDX_BASES, string | undefined>> {
  const l = await listing(dir);
  return {
    trainImages: await findIdxFile(dir, IDX_BASES.trainImages, l),
    trainLabels: await findIdxFile(dir, IDX_BASES.trainLabels, l),
    testImages: await findIdxFile(dir, IDX_BASES.testImages, l),
    testLabels: await findIdxFile(dir, IDX_BASES.testLabels, l),
  };
}

interface RawSplits {
  name: string;
  train: Dataset;
  val?: Dataset;
  test?: Dataset;
}

async function loadIdxDir(dir: string, name: string, classes: string[]): Promise<RawSplits | null> {
  const f = await idxFiles(dir);
  if (!f.trainImages && !f.testImages) return null;
  if (!f.trainImages || !f.trainLabels) {
    throw new DataError(`${dir}: missing ${!f.trainImages ? IDX_BASES.trainImages : IDX_BASES.trainLabels}[.gz] (expected the IDX training images and labels)`, dir);
  }
  const train = await loadIdxPair(f.trainImages, f.trainLabels, classes, name, 'train');
  let test: Dataset | undefined;
  if (f.testImages || f.testLabels) {
    if (!f.testImages || !f.testLabels) {
      throw new DataError(`${dir}: missing ${!f.testImages ? IDX_BASES.testImages : IDX_BASES.testLabels}[.gz] (expected the IDX test images and labels)`, dir);
    }
    test = await loadIdxPair(f.testImages, f.testLabels, train.classes, name, 'test');
  }
  return { name, train, ...(test ? { test } : {}) };
}

async function findCifarArchive(dir: string, kind?: CifarKind): Promise<string | undefined> {
  const l = await listing(dir);
  const names = kind === 'cifar100' ? ['cifar-100-binary.tar.gz'] : kind === 'cifar10' ? ['cifar-10-binary.tar.gz'] : ['cifar-10-binary.tar.gz', 'cifar-100-binary.tar.gz'];
  for (const n of names) if (l.has(n)) return join(dir, n);
  return undefined;
}

function classesForName(name: string): string[] {
  if (/fashion/i.test(name)) return FASHION_MNIST_CLASSES;
  return MNIST_CLASSES;
}

/** Loads whatever dataset `dir` holds; null if it holds nothing recognisable as `expect`. */
async function loadDir(dir: string, opts: ResolveOptions, expect?: KnownDataset): Promise<RawSplits | null> {
  const name = expect ?? basename(resolvePath(dir));
  if (!expect || expect === 'fashion-mnist' || expect === 'mnist') {
    const idx = await loadIdxDir(dir, name, expect ? classesForName(expect) : classesForName(name));
    if (idx) return idx;
    if (expect) return null;
  }
  const cifarKind = expect === 'cifar10' || expect === 'cifar100' ? expect : undefined;
  const cdir = await detectCifarDir(dir);
  if (cdir && (!cifarKind || cdir.kind === cifarKind)) {
    const c = await loadCifar(cdir.dir, cdir.kind, { labelMode: opts.labelMode });
    return { name: expect ?? c.kind, train: c.train, test: c.test };
  }
  const archive = await findCifarArchive(dir, cifarKind);
  if (archive) {
    const c = await loadCifar(archive, cifarKind, { labelMode: opts.labelMode });
    return { name: expect ?? c.kind, train: c.train, test: c.test };
  }
  if (expect) return null;
  const l = await listing(dir);
  const st = [...l].filter((f) => f.endsWith('.safetensors')).sort();
  if (st.length > 0) {
    const splits: Record<string, Dataset> = {};
    for (const f of st) {
      const split = f.replace(/\.safetensors$/, '');
      const got = loadSafetensorsDataset(join(dir, f), { name, defaultSplit: ['train', 'val', 'test'].includes(split) ? split : 'train' });
      for (const [k, v] of Object.entries(got)) splits[k] = v;
    }
    return safetensorsSplits(splits, name, dir);
  }
  const img = await loadImageFolder(dir, { size: opts.imageSize, channels: opts.channels, name });
  return { name, ...img };
}

function safetensorsSplits(splits: Record<string, Dataset>, name: string, where: string): RawSplits {
  const train = splits.train;
  if (!train) throw new DataError(`${where}: no training split (expected 'images'/'labels' or 'train_images'/'train_labels' tensors, or train.safetensors)`, where);
  return { name, train, ...(splits.val ? { val: splits.val } : {}), ...(splits.test ? { test: splits.test } : {}) };
}

async function loadPath(p: string, opts: ResolveOptions, expect?: KnownDataset): Promise<RawSplits> {
  const kind = await pathKind(p);
  if (kind === 'missing') {
    throw new DataError(`${p}: no such file or directory (expected a dataset name: fashion-mnist, mnist, cifar10, cifar100; or a dataset file or folder)`, p);
  }
  if (kind === 'dir') {
    const got = await loadDir(p, opts, expect);
    if (!got) throw new DataError(`${p}: no ${expect} files found`, p);
    return got;
  }
  const lower = p.toLowerCase();
  if (lower.endsWith('.safetensors')) {
    return safetensorsSplits(loadSafetensorsDataset(p, expect ? { name: expect } : {}), expect ?? basename(p).replace(/\.safetensors$/i, ''), p);
  }
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz') || lower.endsWith('.tar')) {
    const c = await loadCifar(p, expect === 'cifar10' || expect === 'cifar100' ? expect : undefined, { labelMode: opts.labelMode });
    return { name: expect ?? c.kind, train: c.train, test: c.test };
  }
  if (/idx\d-ubyte(\.gz)?$/.test(lower) || lower.endsWith('.bin')) {
    const got = await loadDir(dirname(p), opts, expect);
    if (!got) throw new DataError(`${p}: could not read the dataset in its folder`, p);
    return got;
  }
  throw new DataError(`${p}: unrecognised dataset file (expected a folder, .safetensors, a CIFAR .tar.gz, or an IDX / CIFAR .bin file)`, p);
}

function finish(raw: RawSplits, source: string, opts: ResolveOptions): DatasetSplits {
  if (raw.val && opts.valSize) {
    throw new DataError(`${source}: the dataset already has a validation split; do not also ask for a hold-out of ${opts.valSize}`);
  }
  const s = makeSplits(raw.name, raw.train, raw.test, source, opts);
  if (raw.val) s.val = raw.val;
  return s;
}

/** Where a named dataset would be looked for, in order (for messages and `wrn data`). */
export function searchDirs(name: KnownDataset, opts: ResolveOptions = {}): string[] {
  const dirs: string[] = [];
  const dataDir = opts.dataDir ?? process.env.WRN_DATA;
  if (dataDir) {
    dirs.push(join(dataDir, name));
    // torchvision's layouts: <root>/FashionMNIST/raw, <root>/MNIST/raw, <root>/cifar-10-batches-bin (found from <root>).
    if (name === 'fashion-mnist') dirs.push(join(dataDir, 'FashionMNIST', 'raw'));
    else if (name === 'mnist') dirs.push(join(dataDir, 'MNIST', 'raw'));
    else dirs.push(dataDir);
  }
  dirs.push(...(opts.systemDirs?.[name] ?? DEBIAN_DIRS[name]));
  dirs.push(join(opts.cacheDir ?? defaultCacheDir(), name));
  return dirs;
}

/**
 * What we downloaded into the cache is re-verified before use (its `.verified` marker, else its
 * SHA-256); a file that no longer matches is removed, so it is downloaded again. False when any is
 * missing or was removed (the cache is then completed by downloading what is missing).
 */
async function verifyCache(name: KnownDataset, dir: string, opts: ResolveOptions): Promise<boolean> {
  let ok = true;
  for (const f of opts.remoteFiles?.[name] ?? REMOTE_FILES[name]) if (!(await verifyExisting(join(dir, f.file), f.sha256, f.size))) ok = false;
  return ok;
}

/** Downloads a named dataset into `<cacheDir>/<name>` and returns that folder. */
export async function downloadDataset(name: KnownDataset, opts: ResolveOptions = {}): Promise<string> {
  const dir = join(opts.cacheDir ?? defaultCacheDir(), name);
  for (const f of opts.remoteFiles?.[name] ?? REMOTE_FILES[name]) {
    await downloadFile(f.urls, join(dir, f.file), { sha256: f.sha256, size: f.size, ...opts.downloadOptions });
  }
  return dir;
}

/**
 * Loads a dataset by name or path, holds out a validation split when asked (`valSize`, `valSeed`), and
 * computes the training split's per-channel mean/std.
 */
export async function resolveDataset(nameOrPath: string, opts: ResolveOptions = {}): Promise<DatasetSplits> {
  const known = knownDatasetName(nameOrPath);
  if (!known || (await pathKind(nameOrPath)) !== 'missing') {
    const raw = await loadPath(nameOrPath, opts, undefined);
    return finish(raw, resolvePath(nameOrPath), opts);
  }
  const dirs = searchDirs(known, opts);
  const cache = join(opts.cacheDir ?? defaultCacheDir(), known);
  for (const d of dirs) {
    if ((await pathKind(d)) !== 'dir') continue;
    if (d === cache && !(await verifyCache(known, d, opts))) continue; // incomplete or changed: download
    const raw = await loadDir(d, opts, known);
    if (raw) return finish(raw, d, opts);
  }
  const download = opts.download ?? !process.env.WRN_NO_DOWNLOAD;
  if (!download) {
    throw new DataError(`${known}: not found in ${dirs.join(', ')} and downloading is off (set WRN_DATA or pass a path)`);
  }
  let dir: string;
  try {
    dir = await downloadDataset(known, opts);
  } catch (err) {
    const msg = (err as Error).message;
    throw new DataError(`${known}: not found in ${dirs.join(', ')}, and the download failed: ${msg}`);
  }
  const raw = await loadDir(dir, opts, known);
  if (!raw) throw new DataError(`${dir}: downloaded ${known} but could not find its files there`, dir);
  return finish(raw, `download:${dir}`, opts);
}
