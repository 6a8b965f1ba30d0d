/**
 * Seeded, deterministic image transforms for [C, H, W] samples.
 *
 * Every random draw for sample `index` in `epoch` comes from its own generator, `sampleRng(seed, epoch, index)`,
 * so a batch's contents depend only on (seed, epoch, sample indices): not on worker count, batch order or
 * where an epoch was resumed. Draw order per sample: crop offsets, flip, cutout, random erasing.
 *
 * `transformInto` fuses pad + random crop + flip + normalisation in one pass from the stored pixels (uint8
 * through a per-channel lookup table) and then applies cutout / erasing on the normalised values (where 0 is
 * the mean), as torchvision pipelines do (ToTensor, RandomCrop, Flip, Normalize, Cutout/RandomErasing).
 * The unfused single transforms below are the reference it is tested against.
 */
import { Rng } from '../core/random.js';
import type { ImageArray } from './dataset.js';

export type PadMode = 'reflect' | 'zero';

export interface CropOptions {
  /** Pixels added on every side before a random crop back to H x W. Default 4. */
  padding?: number;
  /** Reflection (no edge repeat, like numpy/torch `reflect`) or zero (black) padding. Default 'reflect'. */
  mode?: PadMode;
}

export interface CutoutOptions {
  /** Side of the square (its centre is uniform over the image; the square is clipped at the borders). */
  size: number;
  /** Probability of applying it. Default 1. */
  p?: number;
}

export interface ErasingOptions {
  /** Probability of erasing. Default 0.5. */
  p?: number;
  /** Erased area as a fraction of the image. Default [0.02, 0.33]. */
  scale?: [number, number];
  /** Aspect-ratio range (log-uniform). Default [0.3, 3.3]. */
  ratio?: [number, number];
  /** Fill: 0 (the mean after normalisation) or standard-normal noise. Default 'zero'. */
  value?: 'zero' | 'random';
}

export interface AugmentOptions {
  crop?: CropOptions | boolean;
  flip?: boolean;
  cutout?: CutoutOptions;
  erasing?: ErasingOptions | boolean;
}

export interface NormalizeOptions {
  mean: number[];
  std: number[];
}

/** Plain data (can be posted to a worker). */
export interface TransformSpec {
  normalize: NormalizeOptions;
  augment?: AugmentOptions;
  /** Scale of stored pixels: 1/255 for uint8 (default), 1 for float32. */
  pixelScale?: number;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixedRng(a: number, b: number, c: number, domain: number): Rng {
  const s0 = fmix32((a ^ domain) >>> 0);
  const s1 = fmix32((s0 + (b >>> 0) + 0x9e3779b9) >>> 0);
  const s2 = fmix32((s1 ^ ((c >>> 0) + 0x7f4a7c15)) >>> 0);
  const r = Rng.fromState([s0, s1, s2, 1]);
  for (let i = 0; i < 12; i++) r.nextUint32();
  return r;
}

/** The generator for sample `index` of `epoch` (augmentation draws). */
export function sampleRng(seed: number, epoch: number, index: number): Rng {
  return mixedRng(seed, epoch, index, 0x51ed270b);
}

/** The order of an epoch: a permutation of 0..n-1 from (seed, epoch). */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  mixedRng(seed, epoch, n, 0x2b992ddf).shuffle(perm);
  return perm;
}

export function cropOptions(a: AugmentOptions | undefined): Required<CropOptions> | null {
  if (!a || !a.crop) return null;
  const c = a.crop === true ? {} : a.crop;
  return { padding: c.padding ?? 4, mode: c.mode ?? 'reflect' };
}

export function erasingOptions(a: AugmentOptions | undefined): Required<ErasingOptions> | null {
  if (!a || !a.erasing) return null;
  const e = a.erasing === true ? {} : a.erasing;
  return { p: e.p ?? 0.5, scale: e.scale ?? [0.02, 0.33], ratio: e.ratio ?? [0.3, 3.3], value: e.value ?? 'zero' };
}

/** The random parameters of one sample, drawn in the fixed order. */
export interface SampleDraw {
  ox: number;
  oy: number;
  flip: boolean;
  cutout: { y0: number; y1: number; x0: number; x1: number } | null;
  erase: { y0: number; x0: number; h: number; w: number } | null;
}

/** Draws crop / flip / cutout / erasing parameters for one sample (fills the erasing noise later, from the same rng). */
export function drawSample(rng: Rng, h: number, w: number, aug: AugmentOptions | undefined): SampleDraw {
  const crop = cropOptions(aug);
  let ox = 0;
  let oy = 0;
  if (crop && crop.padding > 0) {
    oy = rng.int(2 * crop.padding + 1);
    ox = rng.int(2 * crop.padding + 1);
  } else if (crop) {
    oy = crop.padding;
    ox = crop.padding;
  }
  const flip = aug?.flip ? rng.next() < 0.5 : false;
  let cutout: SampleDraw['cutout'] = null;
  if (aug?.cutout) {
    const p = aug.cutout.p ?? 1;
    if (rng.next() < p) {
      const cy = rng.int(h);
      const cx = rng.int(w);
      const half = Math.floor(aug.cutout.size / 2);
      cutout = {
        y0: Math.max(0, cy - half),
        y1: Math.min(h, cy - half + aug.cutout.size),
        x0: Math.max(0, cx - half),
        x1: Math.min(w, cx - half + aug.cutout.size),
      };
    }
  }
  let erase: SampleDraw['erase'] = null;
  const er = erasingOptions(aug);
  if (er && rng.next() < er.p) {
    const area = h * w;
    const logLo = Math.log(er.ratio[0]);
    const logHi = Math.log(er.ratio[1]);
    for (let attempt = 0; attempt < 10; attempt++) {
      const target = area * (er.scale[0] + rng.next() * (er.scale[1] - er.scale[0]));
      const ratio = Math.exp(logLo + rng.next() * (logHi - logLo));
      const eh = Math.round(Math.sqrt(target * ratio));
      const ew = Math.round(Math.sqrt(target / ratio));
      if (eh < h && ew < w && eh > 0 && ew > 0) {
        erase = { y0: rng.int(h - eh + 1), x0: rng.int(w - ew + 1), h: eh, w: ew };
        break;
      }
    }
  }
  return { ox, oy, flip, cutout, erase };
}

function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let k = i % period;
  if (k < 0) k += period;
  return k < n ? k : period - k;
}

/** Per-channel lookup tables (uint8 value -> normalised float) for `transformInto`. */
export function normalizeLut(spec: TransformSpec, channels: number): Float32Array {
  const scale = spec.pixelScale ?? 1 / 255;
  const lut = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) {
    const m = spec.normalize.mean[c] ?? spec.normalize.mean[0];
    const s = spec.normalize.std[c] ?? spec.normalize.std[0];
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v * scale - m) / s;
  }
  return lut;
}

/**
 * Writes the transformed sample at `src[srcOff ..]` ([C, H, W]) into `out[outOff ..]`.
 * `rng` is null for evaluation (normalisation only). `lut` comes from `normalizeLut` (uint8 sources).
 */
export function transformInto(
  src: ImageArray,
  srcOff: number,
  c: number,
  h: number,
  w: number,
  out: Float32Array,
  outOff: number,
  spec: TransformSpec,
  rng: Rng | null,
  lut: Float32Array | null,
  colMap: Int32Array = new Int32Array(w),
): void {
  const aug = rng ? spec.augment : undefined;
  const d: SampleDraw = rng ? drawSample(rng, h, w, aug) : { ox: 0, oy: 0, flip: false, cutout: null, erase: null };
  const crop = cropOptions(aug);
  const pad = crop ? crop.padding : 0;
  const zeroPad = crop ? crop.mode === 'zero' : false;
  // Source column for each output column (-1: zero padding).
  for (let x = 0; x < w; x++) {
    let sx = (d.flip ? w - 1 - x : x) + d.ox - pad;
    if (sx < 0 || sx >= w) sx = zeroPad ? -1 : reflectIndex(sx, w);
    colMap[x] = sx;
  }
  const plane = h * w;
  const u8 = src instanceof Uint8Array ? src : null;
  const scale = spec.pixelScale ?? (u8 ? 1 / 255 : 1);
  for (let ch = 0; ch < c; ch++) {
    const mean = spec.normalize.mean[ch] ?? spec.normalize.mean[0];
    const std = spec.normalize.std[ch] ?? spec.normalize.std[0];
    const inv = 1 / std;
    const zeroVal = (0 - mean) * inv;
    const lb = ch * 256;
    const sPlane = srcOff + ch * plane;
    let o = outOff + ch * plane;
    for (let y = 0; y < h; y++) {
      let sy = y + d.oy - pad;
      if (sy < 0 || sy >= h) {
        if (zeroPad) {
          for (let x = 0; x < w; x++) out[o++] = zeroVal;
          continue;
        }
        sy = reflectIndex(sy, h);
      }
      const row = sPlane + sy * w;
      if (u8 && lut) {
        for (let x = 0; x < w; x++) {
          const sx = colMap[x];
          out[o++] = sx < 0 ? zeroVal : lut[lb + u8[row + sx]];
        }
      } else {
        for (let x = 0; x < w; x++) {
          const sx = colMap[x];
          out[o++] = sx < 0 ? zeroVal : (src[row + sx] * scale - mean) * inv;
        }
      }
    }
  }
  if (d.cutout) fillRect(out, outOff, c, h, w, d.cutout.y0, d.cutout.x0, d.cutout.y1 - d.cutout.y0, d.cutout.x1 - d.cutout.x0, null);
  if (d.erase && rng) {
    const er = erasingOptions(aug);
    fillRect(out, outOff, c, h, w, d.erase.y0, d.erase.x0, d.erase.h, d.erase.w, er?.value === 'random' ? rng : null);
  }
}

function fillRect(out: Float32Array, off: number, c: number, h: number, w: number, y0: number, x0: number, rh: number, rw: number, noise: Rng | null): void {
  for (let ch = 0; ch < c; ch++) {
    for (let y = y0; y < y0 + rh; y++) {
      const base = off + (ch * h + y) * w;
      for (let x = x0; x < x0 + rw; x++) out[base + x] = noise ? noise.normal() : 0;
    }
  }
}

/**
 * Transforms the samples `indices` of `images` ([N, C, H, W]) into `out` ([B, C, H, W]).
 * `augment` false gives evaluation batches (normalisation only).
 */
export function transformBatch(
  images: ImageArray,
  shape: readonly [number, number, number, number] | readonly number[],
  indices: ArrayLike<number>,
  spec: TransformSpec,
  seed: number,
  epoch: number,
  augment: boolean,
  out: Float32Array = new Float32Array(indices.length * shape[1] * shape[2] * shape[3]),
  lut: Float32Array | null = images instanceof Uint8Array ? normalizeLut(spec, shape[1]) : null,
): Float32Array {
  const [, c, h, w] = shape;
  const per = c * h * w;
  const colMap = new Int32Array(w);
  const hasAug = augment && !!spec.augment && (!!spec.augment.crop || !!spec.augment.flip || !!spec.augment.cutout || !!spec.augment.erasing);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    const rng = hasAug ? sampleRng(seed, epoch, i) : null;
    transformInto(images, i * per, c, h, w, out, j * per, spec, rng, lut, colMap);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Unfused single transforms on float [C, H, W] images (reference implementations; also usable alone).

/** (x - mean[c]) / std[c], in place. */
export function normalize(img: Float32Array, c: number, h: number, w: number, n: NormalizeOptions): Float32Array {
  const plane = h * w;
  for (let ch = 0; ch < c; ch++) {
    const m = n.mean[ch] ?? n.mean[0];
    const s = n.std[ch] ?? n.std[0];
    for (let p = ch * plane; p < (ch + 1) * plane; p++) img[p] = (img[p] - m) / s;
  }
  return img;
}

/** Pads by `pad` on every side (reflect or zero) and crops H x W at (oy, ox) of the padded image. */
export function padCrop(img: Float32Array, c: number, h: number, w: number, pad: number, mode: PadMode, oy: number, ox: number): Float32Array {
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sy = y + oy - pad;
        let sx = x + ox - pad;
        const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
        if (!inside && mode === 'zero') {
          out[(ch * h + y) * w + x] = 0;
          continue;
        }
        sy = reflectIndex(sy, h);
        sx = reflectIndex(sx, w);
        out[(ch * h + y) * w + x] = img[(ch * h + sy) * w + sx];
      }
    }
  }
  return out;
}

/** Mirrors left-right. */
export function hflip(img: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const base = (ch * h + y) * w;
      for (let x = 0; x < w; x++) out[base + x] = img[base + w - 1 - x];
    }
  }
  return out;
}

/**
 * Reference pipeline: ToTensor (scale) -> pad+crop -> flip -> normalize -> cutout -> erasing, with the same
 * draws as `transformInto`. Used by the tests to check the fused path.
 */
export function transformReference(
  src: ArrayLike<number>,
  c: number,
  h: number,
  w: number,
  spec: TransformSpec,
  rng: Rng | null,
): Float32Array {
  const aug = rng ? spec.augment : undefined;
  const scale = spec.pixelScale ?? (src instanceof Uint8Array ? 1 / 255 : 1);
  let img: Float32Array = Float32Array.from(src as ArrayLike<number>, (v) => v * scale);
  const d = rng ? drawSample(rng, h, w, aug) : null;
  const crop = cropOptions(aug);
  if (d && crop) img = padCrop(img, c, h, w, crop.padding, crop.mode, d.oy, d.ox);
  if (d && d.flip) img = hflip(img, c, h, w);
  normalize(img, c, h, w, spec.normalize);
  if (d && d.cutout) fillRect(img, 0, c, h, w, d.cutout.y0, d.cutout.x0, d.cutout.y1 - d.cutout.y0, d.cutout.x1 - d.cutout.x0, null);
  if (d && d.erase && rng) {
    const er = erasingOptions(aug);
    fillRect(img, 0, c, h, w, d.erase.y0, d.erase.x0, d.erase.h, d.erase.w, er?.value === 'random' ? rng : null);
  }
  return img;
}
