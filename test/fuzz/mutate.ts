/**
 * Mutation helpers for the structure-aware fuzzer: values that break size arithmetic and byte-level
 * edits at chosen offsets. Deterministic: everything draws from the caller's Rng.
 */
import { Rng } from '../../src/core/random.js';

/** Integers that break size arithmetic: zero, one, sign and width boundaries, float-precision limits. */
export const INTERESTING = [
  0, 1, 2, 3, 7, 8, 255, 256, 511, 512, 1023, 1024, 4095, 4096, 65535, 65536,
  2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 53, 1e15, 1e18,
  -1, -2, -(2 ** 31), -(2 ** 53),
];

export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** An interesting integer, or a small random one, or the original nudged by a little. */
export function interestingInt(rng: Rng, original = 0): number {
  const r = rng.next();
  if (r < 0.6) return pick(rng, INTERESTING);
  if (r < 0.8) return original + rng.int(17) - 8;
  return rng.int(1 << 20);
}

/** A non-integer or wrongly typed JSON value, for fields that want integers or strings. */
export function oddJson(rng: Rng): unknown {
  return pick(rng, [null, true, 'x', '', 1.5, -0.5, [], {}, [1, [2]], 1e308, 'NaN', '__proto__']);
}

export function flipBytes(rng: Rng, b: Uint8Array, count: number, from = 0, to = b.length): Uint8Array {
  const out = Uint8Array.from(b);
  if (to <= from) return out;
  for (let i = 0; i < count; i++) out[from + rng.int(to - from)] = rng.int(256);
  return out;
}

export function truncate(rng: Rng, b: Uint8Array): Uint8Array {
  return b.subarray(0, rng.int(b.length));
}

export function insertBytes(rng: Rng, b: Uint8Array, at: number, ins: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length + ins.length);
  out.set(b.subarray(0, at), 0);
  out.set(ins, at);
  out.set(b.subarray(at), at + ins.length);
  return out;
}

/** Writes `v` as an unsigned little- or big-endian integer of `width` bytes at `off` (wrapping). */
export function putUint(b: Uint8Array, off: number, width: number, v: number, littleEndian = true): Uint8Array {
  const out = Uint8Array.from(b);
  let x = BigInt.asUintN(width * 8, BigInt(Math.trunc(v)));
  for (let i = 0; i < width && off + i < out.length; i++) {
    const k = littleEndian ? off + i : off + width - 1 - i;
    if (k >= 0 && k < out.length) out[k] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

export { Rng };
