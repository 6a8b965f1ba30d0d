/**
 * The reference backend: plain TypeScript over Float32Array, one thread. Each kernel is a pure
 * function in its own file (written over Float32Array | Float64Array so tests can run them in
 * float64); this class only unwraps storages, checks them and wraps results.
 */
import type {
  Activation, Backend, BatchNormOptions, Conv2dBackwardOptions, Conv2dOptions, Precision, Saved, SgdOptions, Shape, Storage,
} from '../backend.js';
import { activationBackward, activationForward } from './activation.js';
import { batchNormBackward, batchNormInfer, batchNormTrain } from './batchNorm.js';
import { conv2dBackwardData, conv2dBackwardWeights, conv2dForward } from './conv2d.js';
import { dropoutBackward, dropoutForward } from './dropout.js';
import { add, addInPlace } from './elementwise.js';
import { linearBackward, linearForward } from './linear.js';
import { softmaxCrossEntropy } from './loss.js';
import { globalAvgPool, globalAvgPoolBackward, maxPool2d, maxPool2dBackward } from './pool.js';
import { sgdStep } from './sgd.js';
import { checkSize, numel } from './types.js';

export type { FloatArray } from './types.js';

const EMPTY = new Float32Array(0);

/** A tensor's memory on the js backend: a Float32Array of its logical values, row-major. */
export class JsStorage implements Storage {
  private data_: Float32Array;
  private disposed_ = false;

  constructor(data: Float32Array) {
    this.data_ = data;
  }

  get size(): number {
    return this.data_.length;
  }

  get disposed(): boolean {
    return this.disposed_;
  }

  /** The values; throws after dispose(). */
  get data(): Float32Array {
    if (this.disposed_) throw new Error('js backend: storage used after dispose()');
    return this.data_;
  }

  dispose(): void {
    if (this.disposed_) throw new Error('js backend: storage disposed twice');
    this.disposed_ = true;
    this.data_ = EMPTY;
  }
}

/** A forward kernel's context for its backward. */
export class JsSaved implements Saved {
  private disposed_ = false;
  constructor(
    readonly kind: 'batchNorm' | 'maxPool2d',
    private readonly payload: { mean?: Float64Array; invstd?: Float64Array; argmax?: Int32Array },
  ) {}

  get disposed(): boolean {
    return this.disposed_;
  }

  get<K extends 'mean' | 'invstd' | 'argmax'>(kind: JsSaved['kind'], key: K): NonNullable<JsSaved['payload'][K]> {
    if (this.disposed_) throw new Error(`js backend: saved ${this.kind} context used after dispose()`);
    if (this.kind !== kind) throw new Error(`js backend: expected a saved ${kind} context, got ${this.kind}`);
    const v = this.payload[key];
    if (!v) throw new Error(`js backend: saved ${this.kind} context has no ${key}`);
    return v as NonNullable<JsSaved['payload'][K]>;
  }

  dispose(): void {
    if (this.disposed_) throw new Error(`js backend: saved ${this.kind} context disposed twice`);
    this.disposed_ = true;
    this.payload.mean = undefined;
    this.payload.invstd = undefined;
    this.payload.argmax = undefined;
  }
}

function arr(s: Storage, shape?: Shape, what = 'tensor'): Float32Array {
  if (!(s instanceof JsStorage)) throw new Error(`js backend: ${what} storage belongs to another backend`);
  const d = s.data;
  if (shape) checkSize(`js backend: ${what}`, d, shape);
  return d;
}

/** The kernels that take a precision run it only when it is fp32 (this backend computes in fp32). */
function fp32(p: Precision, kernel: string): void {
  if (p !== 'fp32') throw new Error(`js backend: ${kernel} runs fp32 only, not ${String(p)}; use \`--backend native\` for ${String(p)}`);
}

function own(data: Float32Array | Float64Array): JsStorage {
  return new JsStorage(data instanceof Float32Array ? data : Float32Array.from(data));
}

export class JsBackend implements Backend {
  readonly name = 'js';

  get precision(): Precision {
    return 'fp32';
  }

  describe(): string {
    return 'js (pure TypeScript reference kernels, fp32, 1 thread)';
  }

  setPrecision(p: Precision): void {
    if (p === 'fp32') return;
    throw new Error(`The js backend only runs fp32, not ${p}; use \`--backend native\` for ${p}`);
  }

  // ---- memory ----
  upload(data: Float32Array, shape: Shape): Storage {
    checkSize('js backend: upload', data, shape);
    return new JsStorage(Float32Array.from(data));
  }

  read(x: Storage, shape: Shape): Float32Array {
    return arr(x, shape, 'read');
  }

  zeros(shape: Shape): Storage {
    return new JsStorage(new Float32Array(numel(shape)));
  }

  dispose(x: Storage | Saved): void {
    if (x instanceof JsStorage || x instanceof JsSaved) x.dispose();
    else throw new Error('js backend: dispose() of an object another backend made');
  }

  // ---- convolution ----
  conv2d(x: Storage, xShape: Shape, w: Storage, wShape: Shape, opts: Conv2dOptions): Storage {
    fp32(opts.precision, 'conv2d');
    return own(conv2dForward(arr(x), xShape, arr(w), wShape, opts));
  }

  conv2dBackwardData(dy: Storage, w: Storage, wShape: Shape, xShape: Shape, opts: Conv2dBackwardOptions): Storage {
    fp32(opts.precision, 'conv2dBackwardData');
    return own(conv2dBackwardData(arr(dy), arr(w), wShape, xShape, opts));
  }

  conv2dBackwardWeights(dy: Storage, x: Storage, xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions): Storage {
    fp32(opts.precision, 'conv2dBackwardWeights');
    return own(conv2dBackwardWeights(arr(dy), arr(x), xShape, wShape, opts));
  }

  // ---- batch norm ----
  batchNormTrain(
    x: Storage, xShape: Shape, gamma: Storage, beta: Storage, runningMean: Storage, runningVar: Storage,
    opts: BatchNormOptions,
  ): { y: Storage; saved: Saved } {
    const r = batchNormTrain(arr(x), xShape, arr(gamma), arr(beta), arr(runningMean), arr(runningVar), opts);
    return { y: own(r.y), saved: new JsSaved('batchNorm', { mean: r.mean, invstd: r.invstd }) };
  }

  batchNormInfer(
    x: Storage, xShape: Shape, gamma: Storage, beta: Storage, runningMean: Storage, runningVar: Storage,
    opts: BatchNormOptions,
  ): Storage {
    return own(batchNormInfer(arr(x), xShape, arr(gamma), arr(beta), arr(runningMean), arr(runningVar), opts));
  }

  batchNormBackward(
    dy: Storage, x: Storage, y: Storage, xShape: Shape, gamma: Storage, beta: Storage, saved: Saved,
    opts: BatchNormOptions,
  ): { dx: Storage; dgamma: Storage; dbeta: Storage } {
    const s = savedOf(saved);
    const r = batchNormBackward(
      arr(dy), arr(x), arr(y), xShape, arr(gamma), arr(beta), s.get('batchNorm', 'mean'), s.get('batchNorm', 'invstd'), opts,
    );
    return { dx: own(r.dx), dgamma: own(r.dgamma), dbeta: own(r.dbeta) };
  }

  // ---- elementwise ----
  activation(kind: Activation, x: Storage, shape: Shape): Storage {
    return own(activationForward(kind, arr(x, shape)));
  }

  activationBackward(kind: Activation, dy: Storage, x: Storage, y: Storage, shape: Shape): Storage {
    return own(activationBackward(kind, arr(dy, shape, 'dy'), arr(x, shape), arr(y, shape, 'y')));
  }

  dropout(x: Storage, shape: Shape, p: number, seed: number): Storage {
    return own(dropoutForward(arr(x, shape), p, seed));
  }

  dropoutBackward(dy: Storage, shape: Shape, p: number, seed: number): Storage {
    return own(dropoutBackward(arr(dy, shape, 'dy'), p, seed));
  }

  add(a: Storage, b: Storage, shape: Shape): Storage {
    return own(add(arr(a, shape), arr(b, shape)));
  }

  addInPlace(a: Storage, b: Storage, shape: Shape): void {
    addInPlace(arr(a, shape), arr(b, shape));
  }

  // ---- pooling ----
  globalAvgPool(x: Storage, xShape: Shape): Storage {
    return own(globalAvgPool(arr(x), xShape));
  }

  globalAvgPoolBackward(dy: Storage, xShape: Shape, precision: Precision): Storage {
    fp32(precision, 'globalAvgPoolBackward');
    return own(globalAvgPoolBackward(arr(dy), xShape));
  }

  maxPool2d(x: Storage, xShape: Shape, kernel: number, stride: number, padding: number): { y: Storage; saved: Saved } {
    const r = maxPool2d(arr(x), xShape, kernel, stride, padding);
    return { y: own(r.y), saved: new JsSaved('maxPool2d', { argmax: r.argmax }) };
  }

  maxPool2dBackward(dy: Storage, xShape: Shape, saved: Saved): Storage {
    return own(maxPool2dBackward(arr(dy), xShape, savedOf(saved).get('maxPool2d', 'argmax')));
  }

  // ---- linear ----
  linear(x: Storage, xShape: Shape, w: Storage, wShape: Shape, b: Storage | null): Storage {
    return own(linearForward(arr(x), xShape, arr(w), wShape, b ? arr(b) : null));
  }

  linearBackward(
    dy: Storage, x: Storage, xShape: Shape, w: Storage, wShape: Shape, hasBias: boolean,
  ): { dx: Storage; dw: Storage; db: Storage | null } {
    const r = linearBackward(arr(dy), arr(x), xShape, arr(w), wShape, hasBias);
    return { dx: own(r.dx), dw: own(r.dw), db: r.db ? own(r.db) : null };
  }

  // ---- loss ----
  softmaxCrossEntropy(logits: Storage, shape: Shape, labels: Int32Array, labelSmoothing: number): { loss: number; dlogits: Storage } {
    const r = softmaxCrossEntropy(arr(logits), shape, labels, labelSmoothing);
    return { loss: r.loss, dlogits: own(r.dlogits) };
  }

  // ---- optimizer ----
  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, shape: Shape, opts: SgdOptions): void {
    sgdStep(arr(param, shape, 'param'), arr(grad, shape, 'grad'), momentumBuf ? arr(momentumBuf, shape, 'momentum buffer') : null, opts);
  }
}

function savedOf(s: Saved): JsSaved {
  if (!(s instanceof JsSaved)) throw new Error('js backend: saved context belongs to another backend');
  return s;
}
