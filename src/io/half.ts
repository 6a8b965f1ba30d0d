/**
 * float16 / bfloat16 <-> float32 conversions (IEEE 754 binary16 and the upper half of binary32).
 * Encoding rounds to nearest, ties to even; NaN stays NaN, overflow becomes +-Infinity.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let halfTable: Float32Array | null = null;

function halfToFloatSlow(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** All 65536 half values as float32 (built on first use, 256 KiB). */
function table(): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloatSlow(i);
  }
  return halfTable;
}

export function halfToFloat(h: number): number {
  return table()[h & 0xffff];
}

export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // may carry into the exponent: still correct
  return sign | h;
}

export function bf16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

export function floatToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff; // quiet NaN
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Decodes little-endian half words into a new Float32Array. */
export function decodeF16(bytes: Uint8Array): Float32Array {
  const n = bytes.length >>> 1;
  const out = new Float32Array(n);
  const t = table();
  for (let i = 0; i < n; i++) out[i] = t[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  return out;
}

/** Decodes little-endian bfloat16 words into a new Float32Array. */
export function decodeBF16(bytes: Uint8Array): Float32Array {
  const n = bytes.length >>> 1;
  const out = new Float32Array(n);
  const o = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) o[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
  return out;
}

/** Encodes float values as little-endian half (F16) or bfloat16 (BF16) bytes. */
export function encodeHalf(src: ArrayLike<number>, kind: 'F16' | 'BF16', start = 0, end = src.length): Uint8Array {
  const out = new Uint8Array((end - start) * 2);
  const conv = kind === 'F16' ? floatToHalf : floatToBf16;
  for (let i = start, j = 0; i < end; i++, j += 2) {
    const h = conv(src[i]);
    out[j] = h & 0xff;
    out[j + 1] = h >>> 8;
  }
  return out;
}
