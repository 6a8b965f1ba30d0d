/**
 * Loading the oneDNN addon (build/Release/wrn_native.node, built from native/) and checking it: the
 * functions it must export are listed once, in native/src/kernels.def, which the C++ registration
 * table is generated from and which this loader reads; an addon that does not export exactly those
 * (built from other sources) is refused with the rebuild command.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Precision } from '../backend.js';

/** The functions the addon exports (their names: native/src/kernels.def). Handles are numbers; -1 means none. */
export interface NativeAddon {
  upload(data: Float32Array, shape: readonly number[]): number;
  read(h: number, shape: readonly number[]): Float32Array;
  zeros(shape: readonly number[]): number;
  copy(h: number): number;
  /** Frees a handle; with the storage object, also detaches its finalizer. */
  free(h: number, owner?: object): void;
  /** Attaches a finalizer to `owner` that frees `h` if `owner` is collected undisposed. */
  track(owner: object, h: number): void;
  /** The data type a storage holds. */
  dtype(h: number): Precision;
  layout(h: number): string;
  relayout(h: number, precision: Precision, blocked: boolean): number;
  stats(): NativeMemoryStats;
  trim(): number;
  mallocTrim(): void;
  info(): NativeInfo;
  conv2d(x: number, xs: readonly number[], w: number, ws: readonly number[], stride: number, pad: number, precision: Precision, mode: 'training' | 'inference'): number;
  conv2dBackwardData(dy: number, w: number, ws: readonly number[], xs: readonly number[], stride: number, pad: number, precision: Precision): number;
  /** `variant`: 0, 1 or 2 (src/backend/native/tuning.ts). */
  conv2dBackwardWeights(dy: number, x: number, xs: readonly number[], ws: readonly number[], stride: number, pad: number, precision: Precision, variant: number): number;
  batchNormTrain(x: number, xs: readonly number[], g: number, b: number, rm: number, rv: number, momentum: number, eps: number, act: number): [number, number];
  batchNormInfer(x: number, xs: readonly number[], g: number, b: number, rm: number, rv: number, eps: number, act: number): number;
  batchNormBackward(dy: number, x: number, xs: readonly number[], g: number, b: number, saved: number, eps: number, act: number): [number, number, number];
  activation(act: number, x: number, shape: readonly number[]): number;
  activationBackward(act: number, dy: number, x: number, shape: readonly number[]): number;
  add(a: number, b: number, shape: readonly number[]): number;
  addInPlace(a: number, b: number, shape: readonly number[]): void;
  dropout(x: number, shape: readonly number[], p: number, seed: number): number;
  globalAvgPool(x: number, xs: readonly number[]): number;
  globalAvgPoolBackward(dy: number, xs: readonly number[], precision: Precision): number;
  maxPool2d(x: number, xs: readonly number[], k: number, s: number, p: number): [number, number];
  maxPool2dBackward(dy: number, xs: readonly number[], saved: number): number;
  linear(x: number, xs: readonly number[], w: number, ws: readonly number[], b: number): number;
  linearBackward(dy: number, x: number, xs: readonly number[], w: number, ws: readonly number[], hasBias: boolean): [number, number, number];
  softmaxCrossEntropy(logits: number, shape: readonly number[], labels: Int32Array, smoothing: number): [number, number];
  sgdStep(p: number, g: number, buf: number, shape: readonly number[], lr: number, momentum: number, dampening: number, wd: number, nesterov: boolean, first: boolean): void;
  // int8 inference (native/src/int8_net.cc; typed descriptions in ./int8.ts)
  int8Info(): { isa: string; vnni: boolean };
  int8NetCreate(d: object): number;
  int8NetForward(h: number, x: Float32Array, shape: readonly number[]): Float32Array;
  int8Conv2d(x: Uint8Array, shape: readonly number[], c: object): Float32Array;
}

/** oneDNN version, CPU ISA in use, OpenMP threads, and whether bf16 runs natively. */
export interface NativeInfo {
  version: string;
  isa: string;
  threads: number;
  bf16: boolean;
}

/** The addon's allocator: bytes held by live tensors, bytes cached for reuse, and live handles. */
export interface NativeMemoryStats {
  liveBytes: number;
  cachedBytes: number;
  peakLiveBytes: number;
  osAllocs: number;
  allocCalls: number;
  liveObjects: number;
  /** glibc malloc: bytes in use, free in the heap, and in mmapped chunks (outside the pool). */
  mallocInUse: number;
  mallocFree: number;
  mallocMmapped: number;
}

/** The package root: the nearest folder above this file holding package.json. */
export function packageRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return null;
}

/** Where the addon is looked for: $WRN_NATIVE_ADDON, then build/Release under the package root. */
export function nativeAddonPath(): string {
  if (process.env.WRN_NATIVE_ADDON) return path.resolve(process.env.WRN_NATIVE_ADDON);
  const root = packageRoot();
  return root ? path.join(root, 'build', 'Release', 'wrn_native.node') : path.resolve('build/Release/wrn_native.node');
}

/** The kernel names of native/src/kernels.def (one `WRN_KERNEL(name)` per line). */
export function kernelNames(defFile = path.join(packageRoot() ?? '.', 'native', 'src', 'kernels.def')): string[] {
  const text = readFileSync(defFile, 'utf8');
  return [...text.matchAll(/^WRN_KERNEL\((\w+)\)\s*$/gm)].map((m) => m[1]);
}

/** Why `exports` is not the addon kernels.def describes (null when it is). */
export function checkExports(exports: Record<string, unknown>, names: readonly string[]): string | null {
  const missing = names.filter((n) => typeof exports[n] !== 'function');
  const extra = Object.keys(exports).filter((n) => !names.includes(n));
  if (missing.length === 0 && extra.length === 0) return null;
  const parts = [missing.length ? `lacks ${missing.join(', ')}` : '', extra.length ? `has unknown ${extra.join(', ')}` : ''];
  return `${parts.filter(Boolean).join(' and ')} (built from other sources): rebuild it with \`npm run build:native\``;
}

let addon: NativeAddon | null = null;
let loadError: string | null = null;
let loaded = false;

/**
 * libgomp reads its settings when the addon loads it. Unless the user chose a wait policy, spin only
 * briefly at OpenMP barriers: on a shared machine a thread that spins for its descheduled partner
 * stalls every parallel region for a whole time slice (measured: 180 ms instead of 3 ms per small step).
 * A worker thread's process.env is its own copy, not the process environment libgomp reads, so a
 * program that loads the addon in a worker calls this on the main thread first.
 */
export function setOpenMpDefaults(): void {
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.GOMP_SPINCOUNT = '10000';
  }
}

/** The addon, loaded once per process (null with `nativeUnavailableReason()` when it cannot be). */
export function loadAddon(): NativeAddon | null {
  if (loaded) return addon;
  loaded = true;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    loadError = `native addon not built (${file} is missing): \`sudo apt-get install libdnnl-dev && npm run build:native\``;
    return null;
  }
  setOpenMpDefaults();
  try {
    const require = createRequire(import.meta.url);
    const exports = require(file) as Record<string, unknown>;
    const wrong = checkExports(exports, kernelNames());
    if (wrong) throw new Error(wrong);
    addon = exports as unknown as NativeAddon;
    addon.info();
  } catch (e) {
    addon = null;
    loadError = `native addon ${file} failed to load: ${(e as Error).message.split('\n')[0]}`;
  }
  return addon;
}

/** Why the native backend is unavailable (null when it loaded, or before the first attempt). */
export function nativeUnavailableReason(): string | null {
  loadAddon();
  return loadError;
}

/** True when the addon file exists (whether or not it loads). */
export function nativeAddonBuilt(): boolean {
  return existsSync(nativeAddonPath());
}
