/**
 * Image preprocessing shared by Node (`wrn predict`, `wrn serve`, image-folder datasets) and the web
 * page (bundled by esbuild): alpha flattening, greyscale, resize of the shorter side, centre crop and
 * normalisation. Only decoding differs between the two (sharp in Node, createImageBitmap in the
 * browser); everything after the decoded RGBA/RGB pixels is this one module, so both produce the same
 * input tensor. No Node or DOM imports here.
 */

/** Decoded pixels, interleaved (HWC), 8 bits per sample, `channels` 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA). */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** What the model expects: its input side length, channels (1 or 3) and per-channel normalisation. */
export interface InputSpec {
  size: number;
  channels: 1 | 3;
  mean: readonly number[];
  std: readonly number[];
}

/**
 * Largest decoded image accepted (pixels). Bounds the memory one request can make us allocate; a
 * 40-megapixel RGBA image is 160 MB.
 */
export const MAX_PIXELS = 40_000_000;

export class PreprocessError extends Error {}

/** [0, 1] floats, CHW, `channels` x size x size: alpha flattened onto black, greyscale, resized and centre-cropped. */
export function resizeCrop(p: Pixels, size: number, channels: 1 | 3): Float32Array {
  checkPixels(p);
  if (!Number.isInteger(size) || size < 1) throw new PreprocessError(`output size ${size}, expected a positive integer`);
  // The shorter side becomes `size`; the centred square of side min(w, h) is what the output covers.
  const side = Math.min(p.width, p.height);
  const scale = size / side;
  const xs = filterTaps(p.width, (p.width - side) / 2, scale, size);
  const ys = filterTaps(p.height, (p.height - side) / 2, scale, size);
  const row = new Float32Array(p.width * channels);
  // Horizontal pass over the rows the vertical taps read: rows x size x channels.
  const first = ys.first;
  const rows = ys.last - first + 1;
  const mid = new Float32Array(rows * size * channels);
  for (let y = 0; y < rows; y++) {
    convertRow(p, first + y, channels, row);
    for (let ox = 0; ox < size; ox++) {
      const { start, weights } = xs.taps[ox];
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let t = 0; t < weights.length; t++) acc += weights[t] * row[(start + t) * channels + c];
        mid[(y * size + ox) * channels + c] = acc;
      }
    }
  }
  const plane = size * size;
  const out = new Float32Array(channels * plane);
  for (let oy = 0; oy < size; oy++) {
    const { start, weights } = ys.taps[oy];
    for (let ox = 0; ox < size; ox++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let t = 0; t < weights.length; t++) acc += weights[t] * mid[((start - first + t) * size + ox) * channels + c];
        out[c * plane + oy * size + ox] = Math.min(1, Math.max(0, acc / 255));
      }
    }
  }
  return out;
}

/** (x - mean) / std per channel, in place on a CHW [0, 1] image; returns it. */
export function normalise(x: Float32Array, mean: readonly number[], std: readonly number[]): Float32Array {
  const c = mean.length;
  if (std.length !== c || x.length % c !== 0) throw new PreprocessError(`normalise: ${x.length} values, ${c} means and ${std.length} stds do not fit`);
  const plane = x.length / c;
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch];
    const s = std[ch];
    for (let i = ch * plane; i < (ch + 1) * plane; i++) x[i] = (x[i] - m) / s;
  }
  return x;
}

/** The model's input tensor (C x size x size, normalised) for one decoded image. */
export function preprocess(p: Pixels, spec: InputSpec): Float32Array {
  return normalise(resizeCrop(p, spec.size, spec.channels), spec.mean, spec.std);
}

/** Bytes (0..255, rounded) of a [0, 1] CHW image, as image-folder datasets store them. */
export function toBytes(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.round(x[i] * 255);
  return out;
}

function checkPixels(p: Pixels): void {
  const { width: w, height: h, channels: c } = p;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) throw new PreprocessError(`image of ${w}x${h} pixels, expected a positive width and height`);
  if (w * h > MAX_PIXELS) throw new PreprocessError(`image of ${w}x${h} pixels is larger than the ${MAX_PIXELS / 1e6} megapixels accepted`);
  if (![1, 2, 3, 4].includes(c)) throw new PreprocessError(`image with ${c} channels, expected 1 to 4`);
  if (p.data.length !== w * h * c) throw new PreprocessError(`image of ${w}x${h}x${c} holds ${p.data.length} bytes, expected ${w * h * c}`);
}

/**
 * One source row in the output's channels (0..255 floats): alpha composited onto black (which is what
 * premultiplying does), RGB to grey with ITU-R BT.601 weights (PIL's convert('L')), grey to RGB by copying.
 */
function convertRow(p: Pixels, y: number, channels: 1 | 3, out: Float32Array): void {
  const { data, width: w, channels: ic } = p;
  const hasAlpha = ic === 2 || ic === 4;
  const colour = ic >= 3;
  let s = y * w * ic;
  for (let x = 0; x < w; x++, s += ic) {
    const a = hasAlpha ? data[s + ic - 1] / 255 : 1;
    const r = data[s] * a;
    const g = colour ? data[s + 1] * a : r;
    const b = colour ? data[s + 2] * a : r;
    if (channels === 1) {
      out[x] = colour ? 0.299 * r + 0.587 * g + 0.114 * b : r;
    } else {
      out[3 * x] = r;
      out[3 * x + 1] = g;
      out[3 * x + 2] = b;
    }
  }
}

interface Taps {
  /** Per output pixel: the first source index and the normalised weights from there on. */
  taps: { start: number; weights: Float32Array }[];
  first: number;
  last: number;
}

/**
 * Triangle (bilinear) filter taps along one axis, widened by the downscale factor so that shrinking
 * averages every source pixel (antialiasing, as PIL and torchvision's antialias=True do). Output pixel
 * i covers source coordinate offset + (i + 0.5) / scale; taps outside the image are dropped and the
 * rest renormalised.
 */
function filterTaps(length: number, offset: number, scale: number, size: number): Taps {
  const support = Math.max(1, 1 / scale);
  const taps: Taps['taps'] = [];
  let first = length;
  let last = 0;
  for (let i = 0; i < size; i++) {
    const centre = offset + (i + 0.5) / scale;
    const start = Math.max(0, Math.floor(centre - support));
    const end = Math.min(length - 1, Math.ceil(centre + support));
    const weights = new Float32Array(end - start + 1);
    let sum = 0;
    for (let j = start; j <= end; j++) {
      const w = Math.max(0, 1 - Math.abs(j + 0.5 - centre) / support);
      weights[j - start] = w;
      sum += w;
    }
    for (let t = 0; t < weights.length; t++) weights[t] /= sum;
    taps.push({ start, weights });
    first = Math.min(first, start);
    last = Math.max(last, end);
  }
  return { taps, first, last };
}
