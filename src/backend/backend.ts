/**
 * The one interface every compute backend implements (tfjs-core style: ops call kernels, kernels live
 * in one folder per backend). Tensors hold an opaque `Storage` owned by their backend; a backend may
 * keep it in any layout or precision it likes (the native backend keeps oneDNN's blocked layouts),
 * as long as `read` returns the logical values in row-major (NCHW / [N,F]) float32 order.
 *
 * Conventions shared by every kernel:
 * - shapes are NCHW for images, [N,F] for features, OIHW for conv weights, [out,in] for linear;
 * - backward kernels never modify their inputs; forward kernels do not either, except that
 *   batch-norm training updates the running statistics in place (as PyTorch does);
 * - every returned Storage is new and owned by the caller, who must `dispose` it (a no-op on
 *   garbage-collected backends). Opaque `Saved` contexts are disposed the same way;
 * - no kernel reads process-wide state: a kernel whose result depends on a compute precision or a mode
 *   takes them as arguments (`Conv2dOptions`), and the others run in the precision their input
 *   storage holds (a backend's storage knows its data type).
 */

export type Shape = readonly number[];

/** Backend-owned memory for one tensor. Only the backend that made it may look inside. */
export interface Storage {
  /** Number of logical elements. */
  readonly size: number;
}

/** Backend-owned context saved by a forward kernel for its backward (e.g. BN mean/invstd, ReLU workspace). */
export interface Saved {
  readonly kind: string;
}

export type Activation = 'relu' | 'silu' | 'gelu' | 'identity';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'silu', 'gelu', 'identity'];

export type Precision = 'fp32' | 'bf16';

/**
 * 'training': a backward will follow; 'inference': none will, so a kernel may use primitives that keep
 * weights pre-transformed (the native backend's Winograd inference convolutions).
 */
export type Mode = 'training' | 'inference';

/** What a convolution layer declares: square stride and padding. */
export interface Conv2dParams {
  stride: number;
  padding: number;
}

/** A forward convolution call: its geometry, its compute precision and its mode. */
export interface Conv2dOptions extends Conv2dParams {
  /** Precision of input, weights and output; weights stay fp32 masters (a backend converts copies). */
  precision: Precision;
  mode: Mode;
}

/** A backward convolution call: the forward's geometry and precision (always a training call). */
export interface Conv2dBackwardOptions extends Conv2dParams {
  precision: Precision;
}

export interface BatchNormOptions {
  /** Running-stat update: running = (1 - momentum) * running + momentum * batchStat. PyTorch: 0.1. */
  momentum: number;
  /** PyTorch: 1e-5. */
  eps: number;
  /** Fused activation applied after the affine transform; `identity` for none. */
  activation: Activation;
}

export interface SgdOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  /** PyTorch creates the momentum buffer as a copy of the first (decayed) gradient: true on step 1. */
  firstStep: boolean;
}

export interface Backend {
  /** 'js' for the reference backend, 'native' for oneDNN, ... */
  readonly name: string;
  /** Human-readable line for the CLI ("native (oneDNN 2.6.3, avx512_core_amx, 2 threads)"). */
  describe(): string;
  /**
   * The compute precision this backend instance was set to (ops pass it to the kernels that take a
   * precision); weights, BN statistics and the loss stay fp32. Instance state only: two instances
   * with different precisions work side by side.
   */
  readonly precision: Precision;
  /** Sets this instance's precision; throws if this backend or CPU cannot run it (never switches silently). */
  setPrecision(p: Precision): void;

  // ---- memory -------------------------------------------------------------------------------
  /** Copies row-major float32 values into a new storage of the given logical shape. */
  upload(data: Float32Array, shape: Shape): Storage;
  /** Returns the logical values in row-major float32 order (a copy, or a view the caller must not keep). */
  read(x: Storage, shape: Shape): Float32Array;
  zeros(shape: Shape): Storage;
  dispose(x: Storage | Saved): void;

  // ---- convolution (no groups, no dilation; square stride/padding; any kernel size) ---------
  conv2d(x: Storage, xShape: Shape, w: Storage, wShape: Shape, opts: Conv2dOptions): Storage;
  conv2dBackwardData(dy: Storage, w: Storage, wShape: Shape, xShape: Shape, opts: Conv2dBackwardOptions): Storage;
  conv2dBackwardWeights(dy: Storage, x: Storage, xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions): Storage;

  // ---- batch normalization over N,H,W per channel, with optional fused activation -----------
  /** Training mode: batch statistics (biased variance for normalising), running stats updated in place with the unbiased variance. */
  batchNormTrain(
    x: Storage, xShape: Shape, gamma: Storage, beta: Storage, runningMean: Storage, runningVar: Storage,
    opts: BatchNormOptions,
  ): { y: Storage; saved: Saved };
  /** Inference mode: running statistics. */
  batchNormInfer(
    x: Storage, xShape: Shape, gamma: Storage, beta: Storage, runningMean: Storage, runningVar: Storage,
    opts: BatchNormOptions,
  ): Storage;
  /** Backward of batchNormTrain (including its fused activation). `y` is that call's output. */
  batchNormBackward(
    dy: Storage, x: Storage, y: Storage, xShape: Shape, gamma: Storage, beta: Storage, saved: Saved,
    opts: BatchNormOptions,
  ): { dx: Storage; dgamma: Storage; dbeta: Storage };

  // ---- elementwise --------------------------------------------------------------------------
  activation(kind: Activation, x: Storage, shape: Shape): Storage;
  /** `x` is the activation's input, `y` its output (kernels use whichever they need). */
  activationBackward(kind: Activation, dy: Storage, x: Storage, y: Storage, shape: Shape): Storage;
  /**
   * Inverted dropout: y = x * keep / (1 - p). keep[i] = hash(seed, i) >= p, where i is the logical
   * row-major index and `dropoutKeep` below is the one definition every backend must reproduce.
   */
  dropout(x: Storage, shape: Shape, p: number, seed: number): Storage;
  dropoutBackward(dy: Storage, shape: Shape, p: number, seed: number): Storage;
  add(a: Storage, b: Storage, shape: Shape): Storage;
  /** a += b, in place (gradient accumulation). */
  addInPlace(a: Storage, b: Storage, shape: Shape): void;

  // ---- pooling ------------------------------------------------------------------------------
  /** [N,C,H,W] -> [N,C] mean over H,W. */
  globalAvgPool(x: Storage, xShape: Shape): Storage;
  /** The gradient of globalAvgPool's input, in `precision` (that of the forward's input). */
  globalAvgPoolBackward(dy: Storage, xShape: Shape, precision: Precision): Storage;
  /** Max pooling (ImageNet stem: kernel 3, stride 2, padding 1); padding never wins. */
  maxPool2d(x: Storage, xShape: Shape, kernel: number, stride: number, padding: number): { y: Storage; saved: Saved };
  maxPool2dBackward(dy: Storage, xShape: Shape, saved: Saved): Storage;

  // ---- linear: y = x w^T + b ----------------------------------------------------------------
  linear(x: Storage, xShape: Shape, w: Storage, wShape: Shape, b: Storage | null): Storage;
  linearBackward(
    dy: Storage, x: Storage, xShape: Shape, w: Storage, wShape: Shape, hasBias: boolean,
  ): { dx: Storage; dw: Storage; db: Storage | null };

  // ---- loss ---------------------------------------------------------------------------------
  /**
   * Mean softmax cross-entropy with optional label smoothing (PyTorch's definition:
   * target = (1 - s) * onehot + s / K). Returns the loss and d(loss)/d(logits).
   */
  softmaxCrossEntropy(
    logits: Storage, shape: Shape, labels: Int32Array, labelSmoothing: number,
  ): { loss: number; dlogits: Storage };

  // ---- optimizer ----------------------------------------------------------------------------
  /**
   * One SGD step for one parameter, exactly torch.optim.SGD: g = grad + wd * p;
   * if momentum: buf = firstStep ? g : momentum * buf + (1 - dampening) * g;
   * g = nesterov ? g + momentum * buf : buf; p -= lr * g. Updates `param` and `momentumBuf` in place.
   */
  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, shape: Shape, opts: SgdOptions): void;
}

/**
 * The dropout mask every backend must reproduce: a stateless hash of (seed, logical index), so that
 * masks agree across backends and a resumed run replays the same masks.
 */
export function dropoutKeep(seed: number, index: number, p: number): boolean {
  return dropoutHash(seed, index) >= p * 4294967296;
}

/** 32-bit finaliser of (seed, index) (lowbias32 by Chris Wellons); returns an unsigned 32-bit integer. */
export function dropoutHash(seed: number, index: number): number {
  let h = (Math.imul(index, 0x9e3779b9) ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}
