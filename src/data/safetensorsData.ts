/**
 * Datasets stored as safetensors: `images` [N, C, H, W] (U8, or F32/F16/BF16 taken as [0, 1] pixels) and
 * `labels` [N] (I64/I32/U8); or per-split pairs `train_images`/`train_labels`, `val_...`, `test_...`.
 * Class names come from the `classes` metadata entry (a JSON array of strings, or comma-separated), else 0..K-1.
 *
 * The file format itself is read by src/io/safetensors.ts; this module only maps tensors to a Dataset. The
 * reader is a parameter (`TensorSource`) so tests or other containers can plug in.
 */
import { openSafetensors, SafetensorsError } from '../io/safetensors.js';
import { DataError } from './errors.js';
import { allocShared, validateDataset, type Dataset } from './dataset.js';

/** What this module needs from a tensor container. */
export interface TensorSource {
  readonly file: string;
  readonly metadata: Record<string, string>;
  has(name: string): boolean;
  read(name: string): { dtype: string; shape: readonly number[]; data: ArrayLike<number> & { length: number } };
  close(): void;
}

/** Default source: the project's safetensors reader (lazy, one tensor at a time). */
export function openTensorSource(file: string): TensorSource {
  try {
    const lazy = openSafetensors(file);
    return {
      file,
      metadata: lazy.metadata,
      has: (n) => lazy.has(n),
      read: (n) => {
        const t = lazy.read(n, { int64: 'int32', float64: 'float32' });
        return { dtype: t.dtype, shape: t.shape, data: t.data as ArrayLike<number> & { length: number } };
      },
      close: () => lazy.close(),
    };
  } catch (err) {
    if (err instanceof SafetensorsError) throw new DataError(err.message, file);
    throw err;
  }
}

function parseClasses(meta: Record<string, string>, file: string): string[] | undefined {
  const raw = meta.classes;
  if (raw === undefined) return undefined;
  const t = raw.trim();
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new DataError(`${file}: metadata 'classes' is not valid JSON (expected an array of class names)`, file);
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      throw new DataError(`${file}: metadata 'classes' must be an array of strings`, file);
    }
    return v as string[];
  }
  return t.split(',').map((s) => s.trim());
}

function readSplit(src: TensorSource, imagesName: string, labelsName: string, split: string, name: string, classes: string[] | undefined): Dataset {
  const file = src.file;
  if (!src.has(imagesName)) throw new DataError(`${file}: no tensor '${imagesName}' (expected images [N, C, H, W])`, file);
  if (!src.has(labelsName)) throw new DataError(`${file}: no tensor '${labelsName}' (expected labels [N])`, file);
  let img;
  let lab;
  try {
    img = src.read(imagesName);
    lab = src.read(labelsName);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new DataError(err.message, file);
    throw err;
  }
  let shape = [...img.shape];
  if (shape.length === 3) shape = [shape[0], 1, shape[1], shape[2]];
  if (shape.length !== 4) {
    throw new DataError(`${file}: tensor '${imagesName}' has shape [${img.shape.join(', ')}], expected [N, C, H, W]`, file);
  }
  const isU8 = img.dtype === 'U8';
  const isFloat = img.dtype === 'F32' || img.dtype === 'F16' || img.dtype === 'BF16' || img.dtype === 'F64';
  if (!isU8 && !isFloat) {
    throw new DataError(`${file}: tensor '${imagesName}' has dtype ${img.dtype}, expected U8 or F32 (F16/BF16/F64 accepted)`, file);
  }
  if (lab.shape.length !== 1) {
    throw new DataError(`${file}: tensor '${labelsName}' has shape [${lab.shape.join(', ')}], expected [N]`, file);
  }
  if (!['I64', 'I32', 'U8', 'I16', 'I8'].includes(lab.dtype)) {
    throw new DataError(`${file}: tensor '${labelsName}' has dtype ${lab.dtype}, expected an integer type (I64, I32 or U8)`, file);
  }
  const n = shape[0];
  if (lab.shape[0] !== n) {
    throw new DataError(`${file}: ${n} images in '${imagesName}' but ${lab.shape[0]} labels in '${labelsName}' (expected equal counts)`, file);
  }
  const images = allocShared(isU8 ? 'uint8' : 'float32', img.data.length);
  images.set(img.data as never);
  const labels = Int32Array.from(lab.data as ArrayLike<number>);
  let names = classes;
  if (!names) {
    let max = -1;
    for (let i = 0; i < n; i++) if (labels[i] > max) max = labels[i];
    names = Array.from({ length: max + 1 }, (_, i) => String(i));
  }
  const ds: Dataset = {
    images,
    labels,
    shape: shape as [number, number, number, number],
    classes: names,
    meta: { name, split, sources: [file] },
  };
  return validateDataset(ds, file);
}

/** Reads the splits held in one safetensors file (`images`/`labels` count as `defaultSplit`, default `train`). */
export function loadSafetensorsDataset(
  file: string,
  opts: { name?: string; defaultSplit?: string; open?: (file: string) => TensorSource } = {},
): Record<string, Dataset> {
  const src = (opts.open ?? openTensorSource)(file);
  try {
    const name = opts.name ?? src.metadata.name ?? file.replace(/^.*[\\/]/, '').replace(/\.safetensors$/, '');
    const classes = parseClasses(src.metadata, file);
    const out: Record<string, Dataset> = {};
    if (src.has('images') || src.has('labels')) {
      const split = opts.defaultSplit ?? src.metadata.split ?? 'train';
      out[split] = readSplit(src, 'images', 'labels', split, name, classes);
    }
    for (const split of ['train', 'val', 'test']) {
      if (src.has(`${split}_images`) || src.has(`${split}_labels`)) {
        out[split] = readSplit(src, `${split}_images`, `${split}_labels`, split, name, classes);
      }
    }
    if (!classes) {
      // Numbered classes: use the largest label over all splits, so every split shares one class list.
      const k = Math.max(...Object.values(out).map((d) => d.classes.length));
      const shared = Array.from({ length: k }, (_, i) => String(i));
      for (const d of Object.values(out)) d.classes = shared;
    }
    if (Object.keys(out).length === 0) {
      throw new DataError(`${file}: no 'images' and 'labels' tensors (expected images [N, C, H, W] and labels [N])`, file);
    }
    return out;
  } finally {
    src.close();
  }
}
