/**
 * The oneDNN backend: a Node-API addon (native/, built by `npm run build:native` into
 * build/Release/wrn_native.node) over oneDNN 2.x primitives. Storages are integer handles into the
 * addon's object table; their memory lives in native buffers (blocked layouts, fp32 or bf16) and is
 * freed deterministically by `dispose()`.
 *
 * The addon holds no precision or mode: each storage knows its data type, and the kernels that
 * depend on a compute precision or a mode receive them with every call. A `NativeBackend`'s own
 * precision is what ops pass by default; two instances with different precisions work side by side.
 *
 * `loadNativeBackend()` returns null (and `nativeUnavailableReason()` says why) when the addon is not
 * built or fails to load, so callers can fall back to the TypeScript backend.
 */
import type {
  Activation, Backend, BatchNormOptions, Conv2dBackwardOptions, Conv2dOptions, Precision, Saved, SgdOptions, Shape, Storage,
} from '../backend.js';
import { type NativeAddon, type NativeInfo, type NativeMemoryStats, loadAddon, nativeUnavailableReason } from './addon.js';
import { NativeSaved, NativeStorage, handleOf as h, savedHandle as saved } from './storage.js';
import { type WeightsVariant, weightsVariantChooser } from './tuning.js';

export { nativeAddonBuilt, nativeAddonPath, nativeUnavailableReason } from './addon.js';
export type { NativeAddon, NativeInfo, NativeMemoryStats } from './addon.js';
export { NativeSaved, NativeStorage } from './storage.js';

const ACT: Record<Activation, number> = { identity: 0, relu: 1, silu: 2, gelu: 3 };

function actCode(a: Activation): number {
  const c = ACT[a];
  if (c === undefined) throw new Error(`native backend: unknown activation '${String(a)}'`);
  return c;
}

function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
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
  return a ? { backend: new NativeBackend(a), reason: null } : { backend: null, reason: nativeUnavailableReason() };
}

/** A new native backend, or null (see `nativeUnavailableReason`). */
export function createNativeBackend(): NativeBackend | null {
  return loadNativeBackend().backend;
}

export class NativeBackend implements Backend {
  readonly name = 'native';
  private precision_: Precision = 'fp32';
  private chooseWeights: ((xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions) => WeightsVariant) | null = null;

  constructor(private readonly a: NativeAddon) {}

  get precision(): Precision {
    return this.precision_;
  }

  describe(): string {
    const i = this.a.info();
    return `native (oneDNN ${i.version}, ${i.isa}, ${i.threads} thread${i.threads === 1 ? '' : 's'}, ${this.precision_})`;
  }

  /** oneDNN version, CPU ISA in use, OpenMP threads, and whether bf16 runs natively. */
  info(): NativeInfo {
    return this.a.info();
  }

  setPrecision(p: Precision): void {
    if (p !== 'fp32' && p !== 'bf16') throw new Error(`native backend: precision must be fp32 or bf16, got ${String(p)}`);
    if (p === 'bf16' && !this.a.info().bf16) {
      throw new Error(`native backend: this CPU has no native bf16 support (oneDNN ISA ${this.a.info().isa}; needs avx512_core_bf16 or AMX)`);
    }
    this.precision_ = p;
  }

  /** Allocator statistics (for leak checks). */
  memoryStats(): NativeMemoryStats {
    return this.a.stats();
  }

  /** Returns cached, unused native buffers to the OS. */
  trimMemory(): number {
    return this.a.trim();
  }

  /** Test hook: a copy of `x` in `precision` (default: this backend's), plain row-major or channel-blocked by 16. */
  relayout(x: Storage, shape: Shape, blocked: boolean, precision: Precision = this.precision_): Storage {
    return this.wrap(this.a.relayout(h(x), precision, blocked), numel(shape));
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
    const oh = Math.floor((xShape[2] + 2 * opts.padding - wShape[2]) / opts.stride) + 1;
    const ow = Math.floor((xShape[3] + 2 * opts.padding - wShape[3]) / opts.stride) + 1;
    const y = this.a.conv2d(h(x), xShape, h(w, 'weight'), wShape, opts.stride, opts.padding, opts.precision, opts.mode);
    return this.wrap(y, xShape[0] * wShape[0] * oh * ow);
  }

  conv2dBackwardData(dy: Storage, w: Storage, wShape: Shape, xShape: Shape, opts: Conv2dBackwardOptions): Storage {
    return this.wrap(this.a.conv2dBackwardData(h(dy), h(w, 'weight'), wShape, xShape, opts.stride, opts.padding, opts.precision), numel(xShape));
  }

  conv2dBackwardWeights(dy: Storage, x: Storage, xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions): Storage {
    return this.conv2dBackwardWeightsVariant(dy, x, xShape, wShape, opts, this.weightsVariant(xShape, wShape, opts));
  }

  /** The backward-weights variant this machine's table gives the problem (see tuning.ts). */
  weightsVariant(xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions): WeightsVariant {
    if (!this.chooseWeights) {
      const i = this.a.info();
      this.chooseWeights = weightsVariantChooser(i.isa, i.threads);
    }
    return this.chooseWeights(xShape, wShape, opts);
  }

  /** Backward-weights with an explicit variant (for tuning and tests). */
  conv2dBackwardWeightsVariant(dy: Storage, x: Storage, xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions, variant: WeightsVariant): Storage {
    return this.wrap(this.a.conv2dBackwardWeights(h(dy), h(x), xShape, wShape, opts.stride, opts.padding, opts.precision, variant), numel(wShape));
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

  globalAvgPoolBackward(dy: Storage, xShape: Shape, precision: Precision): Storage {
    return this.wrap(this.a.globalAvgPoolBackward(h(dy), xShape, precision), numel(xShape));
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
