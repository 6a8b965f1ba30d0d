/**
 * Image folders: one sub-folder per class (sorted by name, as torchvision's ImageFolder does), PNG/JPEG/WebP
 * files decoded with sharp, the shorter side resized to `size` and center-cropped to size x size, grayscale or RGB.
 *
 * Layouts: `root/<class>/*` (a single `train` split), or `root/{train,val,test}/<class>/*`.
 */
import { readdir } from 'node:fs/promises';
import { join, basename } from 'node:path';
import sharp, { type OutputInfo } from 'sharp';
import { DataError, asDataError } from './errors.js';
import { allocShared, validateDataset, type Dataset } from './dataset.js';
import { pathKind } from './files.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export interface ImageFolderOptions {
  /** Output side length (the shorter side is resized to it, then center-cropped). Default 32. */
  size?: number;
  /** 1 = grayscale, 3 = RGB (default). */
  channels?: 1 | 3;
  /** Images decoded at once. Default 8. */
  concurrency?: number;
  /** Dataset name in metadata (default: the folder name). */
  name?: string;
}

export interface ImageFolderSplits {
  train: Dataset;
  val?: Dataset;
  test?: Dataset;
}

function isImage(name: string): boolean {
  const lower = name.toLowerCase();
  return !name.startsWith('.') && IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

async function listDirs(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw asDataError(err, dir, 'an image folder with one sub-folder per class');
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

/**
 * Most pixels an input image may declare (a 48-megapixel photo fits). Above it sharp refuses the file
 * from its header: a few hundred bytes of PNG can claim 16777216 x 10 pixels, and decoding such a
 * row takes seconds and hundreds of megabytes (sharp's own default allows 268M pixels).
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** Decodes one image file into `out` (C x size x size, uint8, CHW). */
export async function decodeImage(file: string, size: number, channels: 1 | 3): Promise<Uint8Array> {
  let data: Buffer;
  let info: OutputInfo;
  try {
    let img = sharp(file, { failOn: 'error', limitInputPixels: MAX_IMAGE_PIXELS }).rotate().resize({ width: size, height: size, fit: 'cover', position: 'centre' });
    img = channels === 1 ? img.flatten({ background: '#000000' }).greyscale() : img.flatten({ background: '#000000' }).toColourspace('srgb');
    ({ data, info } = await img.raw().toBuffer({ resolveWithObject: true }));
  } catch (err) {
    const msg = ((err as Error).message ?? String(err)).split('\n')[0];
    throw new DataError(`${file}: unreadable image (${msg}); expected a PNG, JPEG or WebP file`, file);
  }
  if (info.width !== size || info.height !== size) {
    throw new DataError(`${file}: decoded to ${info.width}x${info.height}, expected ${size}x${size}`, file);
  }
  const plane = size * size;
  const out = new Uint8Array(channels * plane);
  const ic = info.channels;
  if (channels === 1) {
    // Greyscale output may still carry extra bands on some inputs; take the first.
    for (let p = 0; p < plane; p++) out[p] = data[p * ic];
  } else if (ic >= 3) {
    for (let p = 0; p < plane; p++) {
      const s = p * ic;
      out[p] = data[s];
      out[plane + p] = data[s + 1];
      out[2 * plane + p] = data[s + 2];
    }
  } else {
    for (let p = 0; p < plane; p++) {
      const v = data[p * ic];
      out[p] = v;
      out[plane + p] = v;
      out[2 * plane + p] = v;
    }
  }
  return out;
}

/** Reads one split folder: `dir/<class>/<image>`; `classes` fixes the class order (else: sorted sub-folders). */
export async function loadImageFolderSplit(dir: string, split: string, opts: ImageFolderOptions = {}, classes?: string[]): Promise<Dataset> {
  const size = opts.size ?? 32;
  const channels = opts.channels ?? 3;
  if (!Number.isInteger(size) || size <= 0) throw new DataError(`${dir}: image size ${size} is invalid (expected a positive integer)`, dir);
  const kind = await pathKind(dir);
  if (kind !== 'dir') throw new DataError(`${dir}: ${kind === 'missing' ? 'no such directory' : 'not a directory'} (expected an image folder with one sub-folder per class)`, dir);
  const found = await listDirs(dir);
  if (found.length === 0) throw new DataError(`${dir}: no class sub-folders (expected one sub-folder of images per class)`, dir);
  const names = classes ?? found;
  const files: { file: string; label: number }[] = [];
  const ignored: string[] = [];
  for (const cls of found) {
    const label = names.indexOf(cls);
    const cdir = join(dir, cls);
    if (label < 0) throw new DataError(`${cdir}: class "${cls}" is not among the training classes (${names.join(', ')})`, cdir);
    let entries;
    try {
      entries = await readdir(cdir, { withFileTypes: true });
    } catch (err) {
      throw asDataError(err, cdir, 'a class folder of images');
    }
    const imgs = entries.filter((e) => e.isFile() && isImage(e.name)).map((e) => e.name).sort();
    for (const e of entries) if (e.isFile() && !e.name.startsWith('.') && !isImage(e.name)) ignored.push(join(cdir, e.name));
    if (imgs.length === 0) {
      throw new DataError(`${cdir}: empty class folder (expected ${IMAGE_EXTENSIONS.join('/')} images)`, cdir);
    }
    for (const f of imgs) files.push({ file: join(cdir, f), label });
  }
  const n = files.length;
  const per = channels * size * size;
  const images = allocShared('uint8', n * per) as Uint8Array;
  const labels = new Int32Array(n);
  const conc = Math.max(1, opts.concurrency ?? 8);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const px = await decodeImage(files[i].file, size, channels);
      images.set(px, i * per);
      labels[i] = files[i].label;
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, n) }, worker));
  const ds: Dataset = {
    images,
    labels,
    shape: [n, channels, size, size],
    classes: names,
    // Files that are not images (by extension) are skipped, but listed here so that nothing is dropped unseen.
    meta: { name: opts.name ?? basename(dir), split, sources: [dir], size, channels, ignoredFiles: ignored },
  };
  return validateDataset(ds, dir);
}

const SPLIT_DIRS: Record<string, string[]> = { train: ['train', 'training'], val: ['val', 'valid', 'validation'], test: ['test', 'testing'] };

/** Loads an image-folder dataset in either layout (see the module comment). */
export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolderSplits> {
  const kind = await pathKind(root);
  if (kind !== 'dir') throw new DataError(`${root}: ${kind === 'missing' ? 'no such directory' : 'not a directory'} (expected an image folder)`, root);
  const subdirs = await listDirs(root);
  const name = opts.name ?? basename(root);
  const pick = (split: string): string | undefined => subdirs.find((d) => SPLIT_DIRS[split].includes(d.toLowerCase()));
  const trainDir = pick('train');
  if (!trainDir) {
    return { train: await loadImageFolderSplit(root, 'train', { ...opts, name }) };
  }
  const train = await loadImageFolderSplit(join(root, trainDir), 'train', { ...opts, name });
  const out: ImageFolderSplits = { train };
  const valDir = pick('val');
  const testDir = pick('test');
  if (valDir) out.val = await loadImageFolderSplit(join(root, valDir), 'val', { ...opts, name }, train.classes);
  if (testDir) out.test = await loadImageFolderSplit(join(root, testDir), 'test', { ...opts, name }, train.classes);
  return out;
}
