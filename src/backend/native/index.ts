/**
 * The oneDNN backend: a Node-API addon (native/, built by `npm run build:native` into
 * build/Release/wrn_native.node) over oneDNN 2.x primitives. Storages are integer handles into the
 * addon's object table; their memory lives in native buffers (blocked layouts, fp32 or bf16) and is
 * freed deterministically by `dispose()`; a FinalizationRegistry only catches what callers leak.
 *
 * `loadNativeBackend()` returns null (and `nativeUnavailableReason()` says why) when the addon is not
 * built or fails to load, so callers can fall back to the TypeScript backend.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  Activation, Backend, BatchNormOptions, Conv2dOptions, Precision, Saved, SgdOptions, Shape, Storage,
} from '../backend.js';
import { engine } from '../../core/engine.js';

/** The functions the addon exports (native/src/addon.cc). Handles are numbers; -1 means none. */
export interface NativeAddon {
  upload(data: Float32Array, shape: readonly number[]): number;
  read(h: number, shape: readonly number[]): Float32Array;
  zeros(shape: readonly number[]): number;
  /** Frees a handle; with the storage object, also detaches its finalizer. */
  free(h: number, owner?: object): void;
  /** Attaches a finalizer to `owner` that frees `h` if `owner` is collected undisposed. */
  track(owner: object, h: number): void;
  copy(h: number): number;
  conv2d(x: number, xs: readonly number[], w: number, ws: readonly number[], stride: number, pad: number, inference: boolean): number;
  conv2dBackwardData(dy: number, w: number, ws: readonly number[], xs: readonly number[], stride: number, pad: number): number;
  conv2dBackwardWeights(dy: number, x: number, xs: readonly number[], ws: readonly number[], stride: number, pad: number): number;
  batchNormTrain(x: number, xs: readonly number[], g: number, b: number, rm: number, rv: number, momentum: number, eps: number, act: number): [number, number];
  batchNormInfer(x: number, xs: readonly number[], g: number, b: number, rm: number, rv: number, eps: number, act: number): number;
  batchNormBackward(dy: number, x: number, xs: readonly number[], g: number, b: number, saved: number, eps: number, act: number): [number, number, number];
  activation(act: number, x: number, shape: readonly number[]): number;
  activationBackward(act: number, dy: number, x: number, shape: readonly number[]): number;
  dropout(x: number, shape: readonly number[], p: number, seed: number): number;
  add(a: number, b: number, shape: readonly number[]): number;
  addInPlace(a: number, b: number, shape: readonly number[]): void;
  globalAvgPool(x: number, xs: readonly number[]): number;
  globalAvgPoolBackward(dy: number, xs: readonly number[]): number;
  maxPool2d(x: number, xs: readonly number[], k: number, s: number, p: number): [number, number];
  maxPool2dBackward(dy: number, xs: readonly number[], saved: number): number;
  linear(x: number, xs: readonly number[], w: number, ws: readonly number[], b: number): number;
  linearBackward(dy: number, x: number, xs: readonly number[], w: number, ws: readonly number[], hasBias: boolean): [number, number, number];
  softmaxCrossEntropy(logits: number, shape: readonly number[], labels: Int32Array, smoothing: number): [number, number];
  sgdStep(p: number, g: number, buf: number, shape: readonly number[], lr: number, momentum: number, dampening: number, wd: number, nesterov: boolean, first: boolean): void;
  setPrecision(p: Precision): void;
  info(): { version: string; isa: string; threads: number; bf16: boolean };
  stats(): NativeMemoryStats;
  trim(): number;
  relayout(h: number, blocked: number): number;
  setConvAlgo(algo: string): void;
  layout(h: number): string;
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

const ACT: Record<Activation, number> = { identity: 0, relu: 1, silu: 2, gelu: 3 };

function actCode(a: Activation): number {
  const c = ACT[a];
  if (c === undefined) throw new Error(`native backend: unknown activation '${String(a)}'`);
  return c;
}

// ---- loading ---------------------------------------------------------------------------------------
let addon: NativeAddon | null = null;
let loadError: string | null = null;
let loaded = false;

/** Where the addon is looked for: $WRN_NATIVE_ADDON, then build/Release under the package root. */
export function nativeAddonPath(): string {
  if (process.env.WRN_NATIVE_ADDON) return path.resolve(process.env.WRN_NATIVE_ADDON);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'build', 'Release', 'wrn_native.node');
    if (existsSync(candidate) || existsSync(path.join(dir, 'package.json'))) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve('build/Release/wrn_native.node');
}

function loadAddon(): NativeAddon | null {
  if (loaded) return addon;
  loaded = true;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    loadError = `native addon not built (${file} is missing): \`sudo apt-get install libdnnl-dev && npm run build:native\``;
    return null;
  }
  // libgomp reads its settings when the addon loads it. Unless the user chose a wait policy, spin only
  // briefly at OpenMP barriers: on a shared machine a thread that spins for its descheduled partner
  // stalls every parallel region for a whole time slice (measured: 180 ms instead of 3 ms per small step).
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.GOMP_SPINCOUNT = '10000';
  }
  try {
    const require = createRequire(import.meta.url);
    addon = require(file) as NativeAddon;
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

export interface NativeLoad {
  /** The backend, or null when the addon is missing or fails to load. */
  backend: NativeBackend | null;
  /** Why it is null (one line, with the install hint), else null. */
  reason: string | null;
}

/** Loads the addon: `{ backend }`, or `{ backend: null, reason }` when the .node file is missing or fails to load. */
export function loadNativeBackend(): NativeLoad {
  const a = loadAddon();
  return a ? { backend: new NativeBackend(a), reason: null } : { backend: null, reason: loadError };
}

/** A new native backend, or null (see `nativeUnavailableReason`). */
export function createNativeBackend(): NativeBackend | null {
  return loadNativeBackend().backend;
}

/** True when the addon file exists (whether or not it loads). */
export function nativeAddonBuilt(): boolean {
  return existsSync(nativeAddonPath());
}

// ---- storages ----------------------------------------------------------------------------------------
// Safety net: each storage carries a native finalizer (napi_wrap) that frees its memory if the object is
// garbage-collected without dispose(). (A FinalizationRegistry grew the RSS by ~10 MB per 1000 small
// training steps: its cells are only cleaned up between event-loop turns.)

/** A tensor's memory in the addon (a handle; its layout and precision live on the native side). */
export class NativeStorage implements Storage {
  constructor(readonly size: number, private h_: number, private readonly addon: NativeAddon) {
    addon.track(this, h_);
  }

  get handle(): number {
    if (this.h_ < 0) throw new Error('native backend: storage used after dispose()');
    return this.h_;
  }

  get disposed(): boolean {
    return this.h_ < 0;
  }

  dispose(): void {
    if (this.h_ < 0) throw new Error('native backend: storage disposed twice');
    this.addon.free(this.h_, this);
    this.h_ = -1;
  }
}

export class NativeSaved implements Saved {
  constructor(readonly kind: string, private h_: number, private readonly addon: NativeAddon) {
    addon.track(this, h_);
  }

  get handle(): number {
    if (this.h_ < 0) throw new Error(`native backend: saved ${this.kind} context used after dispose()`);
    return this.h_;
  }

  dispose(): void {
    if (this.h_ < 0) throw new Error(`native backend: saved ${this.kind} context disposed twice`);
    this.addon.free(this.h_, this);
    this.h_ = -1;
  }
}

function h(s: Storage, what = 'tensor'): number {
  if (!(s instanceof NativeStorage)) throw new Error(`native backend: ${what} storage belongs to another backend`);
  return s.handle;
}

function saved(s: Saved, kind: string): number {
  if (!(s instanceof NativeSaved)) throw new Error('native backend: saved context belongs to another backend');
  if (s.kind !== kind) throw new Error(`native backend: expected a saved ${kind} context, got ${s.kind}`);
  return s.handle;
}

function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The precision the addon currently runs (process-wide); backends switch it before precision-dependent kernels. */
let activePrecision: Precision = 'fp32';

export class NativeBackend implements Backend {
  readonly name = 'native';
  private precision_: Precision = 'fp32';

  constructor(private readonly a: NativeAddon) {}

  get precision(): Precision {
    return this.precision_;
  }

  describe(): string {
    const i = this.a.info();
    return `native (oneDNN ${i.version}, ${i.isa}, ${i.threads} thread${i.threads === 1 ? '' : 's'}, ${this.precision_})`;
  }

  /** oneDNN version, CPU ISA in use, OpenMP threads, and whether bf16 runs natively. */
  info(): { version: string; isa: string; threads: number; bf16: boolean } {
    return this.a.info();
  }

  setPrecision(p: Precision): void {
    if (p !== 'fp32' && p !== 'bf16') throw new Error(`native backend: precision must be fp32 or bf16, got ${String(p)}`);
    this.a.setPrecision(p); // throws when the CPU has no bf16
    activePrecision = p;
    this.precision_ = p;
  }

  private sync(): void {
    if (activePrecision !== this.precision_) {
      this.a.setPrecision(this.precision_);
      activePrecision = this.precision_;
    }
  }

  /**
   * Convolution algorithm for convolutions first seen from now on: 'heuristic' (default, or
   * $WRN_CONV_ALGO) picks Winograd for fp32 stride-1 3x3 convolutions with >= 32 channels, direct
   * otherwise; 'direct', 'winograd' and 'auto' (oneDNN's choice) force one.
   */
  setConvAlgorithm(algo: 'heuristic' | 'direct' | 'winograd' | 'auto'): void {
    this.a.setConvAlgo(algo);
  }

  /** Allocator statistics (for leak checks). */
  memoryStats(): NativeMemoryStats {
    return this.a.stats();
  }

  /** Returns cached, unused native buffers to the OS. */
  trimMemory(): number {
    return this.a.trim();
  }

  /** Test hook: a copy of `x` in this backend's precision, plain row-major or channel-blocked by 16. */
  relayout(x: Storage, shape: Shape, blocked: boolean): Storage {
    this.sync();
    return this.wrap(this.a.relayout(h(x), blocked ? 1 : 0), numel(shape));
  }

  /** Test hook: the data type and inner blocking of a storage, e.g. "f32:16b" or "bf16:plain". */
  layoutOf(x: Storage): string {
    return this.a.layout(h(x));
  }

  private wrap(handle: number, size: number): NativeStorage {
    return new NativeStorage(size, handle, this.a);
  }

  // ---- memory ----
  upload(data: Float32Array, shape: Shape): Storage {
    const n = numel(shape);
    if (data.length !== n) throw new Error(`native backend: upload of ${data.length} values for shape [${shape.join(',')}]`);
    return this.wrap(this.a.upload(data, shape), n);
  }

  read(x: Storage, shape: Shape): Float32Array {
    return this.a.read(h(x), shape);
  }

  zeros(shape: Shape): Storage {
    return this.wrap(this.a.zeros(shape), numel(shape));
  }

  dispose(x: Storage | Saved): void {
    if (x instanceof NativeStorage || x instanceof NativeSaved) x.dispose();
    else throw new Error('native backend: dispose() of an object another backend made');
  }

  // ---- convolution ----
  conv2d(x: Storage, xShape: Shape, w: Storage, wShape: Shape, opts: Conv2dOptions): Storage {
    this.sync();
    const oh = Math.floor((xShape[2] + 2 * opts.padding - wShape[2]) / opts.stride) + 1;
    const ow = Math.floor((xShape[3] + 2 * opts.padding - wShape[3]) / opts.stride) + 1;
    // With autograd off no backward can follow: inference primitives (pre-transformed Winograd weights).
    const inference = !engine.gradEnabled;
    return this.wrap(this.a.conv2d(h(x), xShape, h(w, 'weight'), wShape, opts.stride, opts.padding, inference), xShape[0] * wShape[0] * oh * ow);
  }

  conv2dBackwardData(dy: Storage, w: Storage, wShape: Shape, xShape: Shape, opts: Conv2dOptions): Storage {
    this.sync();
    return this.wrap(this.a.conv2dBackwardData(h(dy), h(w, 'weight'), wShape, xShape, opts.stride, opts.padding), numel(xShape));
  }

  conv2dBackwardWeights(dy: Storage, x: Storage, xShape: Shape, wShape: Shape, opts: Conv2dOptions): Storage {
    this.sync();
    return this.wrap(this.a.conv2dBackwardWeights(h(dy), h(x), xShape, wShape, opts.stride, opts.padding), numel(wShape));
  }

  // ---- batch norm ----
  batchNormTrain(
    x: Storage, xShape: Shape, gamma: Storage, beta: Storage, runningMean: Storage, runningVar: Storage,
    opts: BatchNormOptions,
  ): { y: Storage; saved: Saved } {
    const [y, s] = this.a.batchNormTrain(h(x), xShape, h(gamma), h(beta), h(runningMean), h(runningVar), opts.momentum, opts.eps, actCode(opts.activation));
    return { y: this.wrap(y, numel(xShape)), saved: new NativeSaved('batchNorm', s, this.a) };
  }

  batchNormInfer(
    x: Storage, xShape: Shape, gamma: Storage, beta: Storage, runningMean: Storage, runningVar: Storage,
    opts: BatchNormOptions,
  ): Storage {
    return this.wrap(this.a.batchNormInfer(h(x), xShape, h(gamma), h(beta), h(runningMean), h(runningVar), opts.eps, actCode(opts.activation)), numel(xShape));
  }

  batchNormBackward(
    dy: Storage, x: Storage, _y: Storage, xShape: Shape, gamma: Storage, beta: Storage, s: Saved,
    opts: BatchNormOptions,
  ): { dx: Storage; dgamma: Storage; dbeta: Storage } {
    const [dx, dg, db] = this.a.batchNormBackward(h(dy), h(x), xShape, h(gamma), h(beta), saved(s, 'batchNorm'), opts.eps, actCode(opts.activation));
    const c = xShape[1];
    return { dx: this.wrap(dx, numel(xShape)), dgamma: this.wrap(dg, c), dbeta: this.wrap(db, c) };
  }

  // ---- elementwise ----
  activation(kind: Activation, x: Storage, shape: Shape): Storage {
    return this.wrap(this.a.activation(actCode(kind), h(x), shape), numel(shape));
  }

  activationBackward(kind: Activation, dy: Storage, x: Storage, _y: Storage, shape: Shape): Storage {
    return this.wrap(this.a.activationBackward(actCode(kind), h(dy), h(x), shape), numel(shape));
  }

  dropout(x: Storage, shape: Shape, p: number, seed: number): Storage {
    if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
    return this.wrap(this.a.dropout(h(x), shape, p, seed >>> 0), numel(shape));
  }

  dropoutBackward(dy: Storage, shape: Shape, p: number, seed: number): Storage {
    if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
    // The same mask and scale: d(x * m / (1 - p)) = dy * m / (1 - p).
    return this.wrap(this.a.dropout(h(dy), shape, p, seed >>> 0), numel(shape));
  }

  add(a: Storage, b: Storage, shape: Shape): Storage {
    return this.wrap(this.a.add(h(a), h(b), shape), numel(shape));
  }

  addInPlace(a: Storage, b: Storage, shape: Shape): void {
    this.a.addInPlace(h(a), h(b), shape);
  }

  // ---- pooling ----
  globalAvgPool(x: Storage, xShape: Shape): Storage {
    return this.wrap(this.a.globalAvgPool(h(x), xShape), xShape[0] * xShape[1]);
  }

  globalAvgPoolBackward(dy: Storage, xShape: Shape): Storage {
    this.sync();
    return this.wrap(this.a.globalAvgPoolBackward(h(dy), xShape), numel(xShape));
  }

  maxPool2d(x: Storage, xShape: Shape, kernel: number, stride: number, padding: number): { y: Storage; saved: Saved } {
    const [y, s] = this.a.maxPool2d(h(x), xShape, kernel, stride, padding);
    const oh = Math.floor((xShape[2] + 2 * padding - kernel) / stride) + 1;
    const ow = Math.floor((xShape[3] + 2 * padding - kernel) / stride) + 1;
    return { y: this.wrap(y, xShape[0] * xShape[1] * oh * ow), saved: new NativeSaved('maxPool2d', s, this.a) };
  }

  maxPool2dBackward(dy: Storage, xShape: Shape, s: Saved): Storage {
    return this.wrap(this.a.maxPool2dBackward(h(dy), xShape, saved(s, 'maxPool2d')), numel(xShape));
  }

  // ---- linear ----
  linear(x: Storage, xShape: Shape, w: Storage, wShape: Shape, b: Storage | null): Storage {
    return this.wrap(this.a.linear(h(x), xShape, h(w, 'weight'), wShape, b ? h(b, 'bias') : -1), xShape[0] * wShape[0]);
  }

  linearBackward(
    dy: Storage, x: Storage, xShape: Shape, w: Storage, wShape: Shape, hasBias: boolean,
  ): { dx: Storage; dw: Storage; db: Storage | null } {
    const [dx, dw, db] = this.a.linearBackward(h(dy), h(x), xShape, h(w, 'weight'), wShape, hasBias);
    return { dx: this.wrap(dx, numel(xShape)), dw: this.wrap(dw, numel(wShape)), db: db >= 0 ? this.wrap(db, wShape[0]) : null };
  }

  // ---- loss ----
  softmaxCrossEntropy(logits: Storage, shape: Shape, labels: Int32Array, labelSmoothing: number): { loss: number; dlogits: Storage } {
    const [loss, d] = this.a.softmaxCrossEntropy(h(logits), shape, labels, labelSmoothing);
    return { loss, dlogits: this.wrap(d, numel(shape)) };
  }

  // ---- optimizer ----
  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, shape: Shape, o: SgdOptions): void {
    this.a.sgdStep(h(param, 'param'), h(grad, 'grad'), momentumBuf ? h(momentumBuf, 'momentum buffer') : -1, shape,
      o.lr, o.momentum, o.dampening, o.weightDecay, o.nesterov, o.firstStep);
  }
}
