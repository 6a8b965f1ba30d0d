/**
 * Shared types and small helpers of the reference (pure TypeScript) kernels. Kernels are written over
 * `FloatArray` so the same code runs in float32 (the backend) and float64 (gradient checks).
 */
export type FloatArray = Float32Array | Float64Array;
export type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

/** A new zero-filled array of the same element type as `like`. */
export function allocLike(like: FloatArray, n: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** Product of the dimensions. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Throws unless `a` holds exactly `shape`'s number of elements. */
export function checkSize(what: string, a: { length: number }, shape: readonly number[]): void {
  const n = numel(shape);
  if (a.length !== n) throw new Error(`${what}: ${a.length} elements for shape [${shape.join(',')}] (${n} expected)`);
}

/** Throws unless `shape` has `rank` dimensions. */
export function checkRank(what: string, shape: readonly number[], rank: number, layout: string): void {
  if (shape.length !== rank) throw new Error(`${what}: expected ${layout} (rank ${rank}), got shape [${shape.join(',')}]`);
}

/**
 * Reusable scratch memory, one growable buffer per (slot, element type), so that hot kernels do not
 * allocate per call. A slot must not be used by two kernels that are live at the same time.
 */
const scratch32 = new Map<string, Float32Array>();
const scratch64 = new Map<string, Float64Array>();

export function scratchF64(slot: string, n: number): Float64Array {
  let b = scratch64.get(slot);
  if (!b || b.length < n) {
    b = new Float64Array(grow(b?.length ?? 0, n));
    scratch64.set(slot, b);
  }
  return b;
}

export function scratchF32(slot: string, n: number): Float32Array {
  let b = scratch32.get(slot);
  if (!b || b.length < n) {
    b = new Float32Array(grow(b?.length ?? 0, n));
    scratch32.set(slot, b);
  }
  return b;
}

/** A scratch buffer of the same element type as `like` (contents unspecified). */
export function scratchLike(slot: string, like: FloatArray, n: number): FloatArray {
  return like instanceof Float64Array ? scratchF64(slot, n) : scratchF32(slot, n);
}

function grow(have: number, need: number): number {
  return Math.max(need, Math.min(Math.ceil(have * 1.5), need * 2));
}

/** Frees every scratch buffer (tests, or after a large model is done). */
export function releaseScratch(): void {
  scratch32.clear();
  scratch64.clear();
}
