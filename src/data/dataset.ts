import { DataError } from './errors.js';
import { Rng } from '../core/random.js';

/** Pixel storage: uint8 in [0, 255] or float32 (taken as already scaled, typically [0, 1]). */
export type ImageArray = Uint8Array | Float32Array;
export type ImageDtype = 'uint8' | 'float32';

/** An extra label set carried along with the primary labels (e.g. CIFAR-100 coarse labels). */
export interface LabelSet {
  labels: Int32Array;
  classes: string[];
}

/**
 * Images [N, C, H, W] in one typed array (backed by a SharedArrayBuffer where the reader could, so loader
 * workers can read it without copies), Int32Array labels in [0, classes.length), class names and metadata.
 */
export interface Dataset {
  images: ImageArray;
  labels: Int32Array;
  /** [N, C, H, W] */
  shape: [number, number, number, number];
  classes: string[];
  /** Other label sets over the same images (CIFAR-100: `coarse` when the primary is fine, and vice versa). */
  extraLabels?: Record<string, LabelSet>;
  meta: DatasetMeta;
}

export interface DatasetMeta {
  /** Dataset name (`fashion-mnist`, `cifar10`, a folder name, ...). */
  name: string;
  /** Split name: `train`, `val`, `test`. */
  split: string;
  /** Files the split was read from. */
  sources: string[];
  [key: string]: unknown;
}

export interface ChannelStats {
  /** Per-channel mean of pixels on [0, 1] (uint8 / 255; float32 as stored). */
  mean: number[];
  /** Per-channel (population) standard deviation on the same scale. */
  std: number[];
}

/** A dataset's splits plus the normalisation statistics computed on the training split. */
export interface DatasetSplits {
  name: string;
  train: Dataset;
  val?: Dataset;
  test?: Dataset;
  classes: string[];
  /** Mean/std of the training split (after any validation hold-out). */
  stats: ChannelStats;
  /** Where it was found: a path, `debian:...`, `cache:...`, `download:...`. */
  source: string;
}

export function imageDtype(a: ImageArray): ImageDtype {
  return a instanceof Uint8Array ? 'uint8' : 'float32';
}

/** Allocates an image array backed by a SharedArrayBuffer (so worker threads can read it without a copy). */
export function allocShared(dtype: ImageDtype, length: number): ImageArray {
  if (dtype === 'uint8') return new Uint8Array(new SharedArrayBuffer(length));
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

export function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/** Returns `a` when it is already SharedArrayBuffer-backed, else one shared copy. */
export function toShared<T extends ImageArray>(a: T): T {
  if (isShared(a)) return a;
  const out = allocShared(imageDtype(a), a.length) as T;
  out.set(a as never);
  return out;
}

/** Checks shapes, sizes and label range; throws a DataError naming `file` on the first problem. */
export function validateDataset(ds: Dataset, file?: string): Dataset {
  const where = file ?? ds.meta.sources[0] ?? ds.meta.name;
  const [n, c, h, w] = ds.shape;
  for (const d of ds.shape) {
    if (!Number.isInteger(d) || d < 0) throw new DataError(`${where}: invalid image shape [${ds.shape.join(', ')}]`, where);
  }
  if (ds.images.length !== n * c * h * w) {
    throw new DataError(`${where}: image data holds ${ds.images.length} values, expected ${n}x${c}x${h}x${w} = ${n * c * h * w}`, where);
  }
  if (ds.labels.length !== n) {
    throw new DataError(`${where}: ${n} images but ${ds.labels.length} labels (expected one label per image)`, where);
  }
  checkLabels(ds.labels, ds.classes.length, where);
  if (ds.extraLabels) {
    for (const [k, set] of Object.entries(ds.extraLabels)) {
      if (set.labels.length !== n) throw new DataError(`${where}: ${n} images but ${set.labels.length} ${k} labels`, where);
      checkLabels(set.labels, set.classes.length, where, `${k} label`);
    }
  }
  return ds;
}

export function checkLabels(labels: Int32Array, numClasses: number, where: string, what = 'label'): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l < 0 || l >= numClasses) {
      throw new DataError(`${where}: ${what} ${l} at index ${i} is out of range (expected 0..${numClasses - 1})`, where);
    }
  }
}

/** Per-channel mean/std of a dataset on [0, 1] pixels (uint8 / 255), accumulated in float64. */
export function channelStats(ds: Dataset): ChannelStats {
  const [n, c, h, w] = ds.shape;
  const plane = h * w;
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  const img = ds.images;
  if (img instanceof Uint8Array) {
    // Histogram per channel: exact and fast for uint8.
    const hist = new Float64Array(c * 256);
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (i * c + ch) * plane;
        const hb = ch * 256;
        for (let p = 0; p < plane; p++) hist[hb + img[base + p]]++;
      }
    }
    for (let ch = 0; ch < c; ch++) {
      for (let v = 0; v < 256; v++) {
        const cnt = hist[ch * 256 + v];
        const x = v / 255;
        sum[ch] += cnt * x;
        sumSq[ch] += cnt * x * x;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (i * c + ch) * plane;
        let s = 0;
        let s2 = 0;
        for (let p = 0; p < plane; p++) {
          const x = img[base + p];
          s += x;
          s2 += x * x;
        }
        sum[ch] += s;
        sumSq[ch] += s2;
      }
    }
  }
  const count = n * plane;
  const mean: number[] = [];
  const std: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const m = count > 0 ? sum[ch] / count : 0;
    const v = count > 0 ? Math.max(0, sumSq[ch] / count - m * m) : 0;
    mean.push(m);
    std.push(Math.sqrt(v));
  }
  return { mean, std };
}

/** A new dataset holding the given sample indices (in that order), in shared memory. */
export function subset(ds: Dataset, indices: ArrayLike<number>, split: string): Dataset {
  const [, c, h, w] = ds.shape;
  const per = c * h * w;
  const k = indices.length;
  const images = allocShared(imageDtype(ds.images), k * per);
  const labels = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    const i = indices[j];
    images.set(ds.images.subarray(i * per, (i + 1) * per) as never, j * per);
    labels[j] = ds.labels[i];
  }
  let extraLabels: Record<string, LabelSet> | undefined;
  if (ds.extraLabels) {
    extraLabels = {};
    for (const [name, set] of Object.entries(ds.extraLabels)) {
      const l = new Int32Array(k);
      for (let j = 0; j < k; j++) l[j] = set.labels[indices[j]];
      extraLabels[name] = { labels: l, classes: set.classes };
    }
  }
  return {
    images,
    labels,
    shape: [k, c, h, w],
    classes: ds.classes,
    ...(extraLabels ? { extraLabels } : {}),
    meta: { ...ds.meta, split },
  };
}

/** Concatenates datasets of the same image shape and dtype (e.g. the five CIFAR-10 training batches). */
export function concatDatasets(parts: Dataset[], meta: DatasetMeta): Dataset {
  if (parts.length === 0) throw new DataError(`${meta.name}: no data to concatenate`);
  const [, c, h, w] = parts[0].shape;
  const dtype = imageDtype(parts[0].images);
  let n = 0;
  for (const p of parts) {
    if (p.shape[1] !== c || p.shape[2] !== h || p.shape[3] !== w || imageDtype(p.images) !== dtype) {
      throw new DataError(`${p.meta.sources[0] ?? meta.name}: image shape ${p.shape.slice(1).join('x')} ${imageDtype(p.images)} does not match ${c}x${h}x${w} ${dtype}`);
    }
    n += p.shape[0];
  }
  const images = allocShared(dtype, n * c * h * w);
  const labels = new Int32Array(n);
  let off = 0;
  let loff = 0;
  for (const p of parts) {
    images.set(p.images as never, off);
    labels.set(p.labels, loff);
    off += p.images.length;
    loff += p.labels.length;
  }
  let extraLabels: Record<string, LabelSet> | undefined;
  const first = parts[0].extraLabels;
  if (first) {
    extraLabels = {};
    for (const [name, set] of Object.entries(first)) {
      const l = new Int32Array(n);
      let o = 0;
      for (const p of parts) {
        const src = p.extraLabels?.[name];
        if (!src) throw new DataError(`${p.meta.sources[0] ?? meta.name}: missing ${name} labels`);
        l.set(src.labels, o);
        o += src.labels.length;
      }
      extraLabels[name] = { labels: l, classes: set.classes };
    }
  }
  return { images, labels, shape: [n, c, h, w], classes: parts[0].classes, ...(extraLabels ? { extraLabels } : {}), meta };
}

export interface SplitOptions {
  /** Number of training images held out for validation (0 = none). An integer, or a fraction in (0, 1). */
  valSize?: number;
  /** Seed of the hold-out permutation (fixed, so the same images are held out every run). Default 0. */
  valSeed?: number;
}

/**
 * Holds `valSize` images of `train` out as a validation split (a fixed permutation from `valSeed`), and
 * computes the normalisation statistics on what remains for training.
 */
export function makeSplits(
  name: string,
  train: Dataset,
  test: Dataset | undefined,
  source: string,
  opts: SplitOptions = {},
): DatasetSplits {
  let trainSplit = train;
  let val: Dataset | undefined;
  const n = train.shape[0];
  let k = opts.valSize ?? 0;
  if (k > 0 && k < 1) k = Math.round(k * n);
  if (!Number.isInteger(k) || k < 0 || k >= n) {
    throw new DataError(`${name}: validation size ${opts.valSize} is invalid (expected an integer in 0..${n - 1} or a fraction in (0, 1))`);
  }
  if (k > 0) {
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    new Rng(opts.valSeed ?? 0).shuffle(perm);
    const valIdx = perm.subarray(0, k).slice().sort();
    const trainIdx = perm.subarray(k).slice().sort();
    val = subset(train, valIdx, 'val');
    trainSplit = subset(train, trainIdx, 'train');
  }
  return {
    name,
    train: trainSplit,
    ...(val ? { val } : {}),
    ...(test ? { test } : {}),
    classes: train.classes,
    stats: channelStats(trainSplit),
    source,
  };
}
