import type { Activation, BatchNormOptions, Shape } from '../backend/backend.js';
import { Rng } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { constant, kaimingNormalFanOut, linearDefault } from './init.js';
import { hostTensor, Module } from './module.js';

export interface Conv2dConfig {
  kernel: number;
  stride?: number;
  /** Defaults to "same" padding for odd kernels: (kernel - 1) / 2. */
  padding?: number;
}

/** Bias-free 2-D convolution, Kaiming-normal (fan_out) init. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly stride: number;
  readonly padding: number;

  constructor(readonly inChannels: number, readonly outChannels: number, cfg: Conv2dConfig, rng: Rng) {
    super();
    this.stride = cfg.stride ?? 1;
    this.padding = cfg.padding ?? (cfg.kernel - 1) >> 1;
    const shape = [outChannels, inChannels, cfg.kernel, cfg.kernel];
    this.weight = this.registerParameter('weight', hostTensor(() => kaimingNormalFanOut(shape, rng), shape));
  }

  get kernel(): number {
    return this.weight.shape[2];
  }

  forward(x: Tensor): Tensor {
    return ops.conv2d(x, this.weight, { stride: this.stride, padding: this.padding });
  }

  override macs([, c, h, w]: Shape): number {
    return c * h * w * this.inChannels * this.kernel * this.kernel;
  }
}

/**
 * BatchNorm2d (weight 1, bias 0, running mean 0, var 1; momentum 0.1, eps 1e-5) with an optional
 * fused activation: BN-act is the pre-activation unit of the paper's blocks, and a fused kernel
 * saves a full pass over the activations.
 */
/**
 * Batch statistics computed over more than this process's batch (data-parallel `--sync-bn`): the
 * training-mode forward of a BatchNorm2d that has one. Implemented in src/distributed.
 */
export interface BatchNormSync {
  forward(x: Tensor, bn: BatchNorm2d, opts: BatchNormOptions): Tensor;
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  momentum = 0.1;
  eps = 1e-5;
  /** Set by `useSyncBatchNorm` for data-parallel training; null: statistics of this process's batch. */
  sync: BatchNormSync | null = null;

  constructor(readonly channels: number, readonly activation: Activation = 'identity') {
    super();
    const s = [channels];
    this.weight = this.registerParameter('weight', hostTensor(() => constant(s, 1), s));
    this.bias = this.registerParameter('bias', hostTensor(() => constant(s, 0), s));
    this.runningMean = this.registerBuffer('running_mean', hostTensor(() => constant(s, 0), s));
    this.runningVar = this.registerBuffer('running_var', hostTensor(() => constant(s, 1), s));
  }

  forward(x: Tensor): Tensor {
    const opts = { momentum: this.momentum, eps: this.eps, activation: this.activation };
    if (this.training && this.sync) return this.sync.forward(x, this, opts);
    return ops.batchNorm(x, this, this.training, opts);
  }
}

export class Act extends Module {
  constructor(readonly kind: Activation) {
    super();
  }

  forward(x: Tensor): Tensor {
    return ops.activation(this.kind, x);
  }
}

/**
 * Dropout with a fresh seed per call drawn from the model's Rng, so that a run (and a resumed run)
 * replays the same masks.
 */
export class Dropout extends Module {
  constructor(readonly p: number, private readonly rng: Rng) {
    super();
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    // A shapes-only pass (meta backend) draws no seed: it must leave the run's random stream as it is.
    return ops.dropout(x, this.p, x.backend.name === 'meta' ? 0 : this.rng.nextUint32());
  }
}

/** Fully connected layer y = x W^T + b with PyTorch's default init (bias optionally zeroed by the model). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, readonly zeroBias = false) {
    super();
    const ws = [outFeatures, inFeatures];
    this.weight = this.registerParameter('weight', hostTensor(() => linearDefault(ws, inFeatures, rng), ws));
    const bs = [outFeatures];
    this.bias = this.registerParameter('bias', hostTensor(() => (zeroBias ? constant(bs, 0) : linearDefault(bs, inFeatures, rng)), bs));
  }

  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }

  override macs(): number {
    return this.inFeatures * this.outFeatures;
  }
}

export class MaxPool2d extends Module {
  constructor(readonly kernel: number, readonly stride: number, readonly padding: number) {
    super();
  }

  forward(x: Tensor): Tensor {
    return ops.maxPool2d(x, this.kernel, this.stride, this.padding);
  }
}

/** Global average pooling and flatten: [N,C,H,W] -> [N,C]. */
export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor {
    return ops.globalAvgPool(x);
  }
}

/** Children applied in order; names are their indices ("0", "1", ...) unless given. */
export class Sequential extends Module {
  private readonly layers: Module[] = [];

  constructor(layers: Module[] | [string, Module][] = []) {
    super();
    layers.forEach((l, i) => (Array.isArray(l) ? this.add(l[1], l[0]) : this.add(l, String(i))));
  }

  add(m: Module, name = String(this.layers.length)): this {
    this.layers.push(this.registerModule(name, m));
    return this;
  }

  get length(): number {
    return this.layers.length;
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((y, l) => l.forward(y), x);
  }
}

export { Rng };
