/**
 * Synchronised batch normalisation (`--sync-bn`): the batch statistics of the global batch, so that
 * N ranks x B/N images compute what one process computes on B images.
 *
 * Forward: per-channel sums of this rank's x are allreduced (mean first, then the sum of squared
 * deviations, the same two-pass formula as the reference kernel), and the backend normalises with
 * those statistics through its own inference kernel. Backward: the per-channel sums of dz and
 * dz * xhat are allreduced and dx = gamma * invstd * (dz - mean(dz) - xhat * mean(dz * xhat)) is
 * computed over the global batch here, on the host, in float64 sums — oneDNN 2.6's batch-norm backward
 * reduces over the local batch only. dgamma/dbeta stay this rank's sums: the gradient allreduce
 * averages them like every other gradient.
 */
import type { Activation, BatchNormOptions, Backend } from '../backend/backend.js';
import { needsGrad, record } from '../core/autograd.js';
import { formatShape } from '../core/shape.js';
import { type Tensor, wrap } from '../core/tensor.js';
import type { Module } from '../nn/module.js';
import { BatchNorm2d, type BatchNormSync } from '../nn/layers.js';
import { batchNorm } from '../ops/batchNorm.js';
import { gradFn } from '../ops/gradFn.js';
import type { World } from './world.js';

interface Geometry { n: number; c: number; hw: number }

function geometry(x: Tensor, channels: number): Geometry {
  if (x.shape.length !== 4 || x.shape[1] !== channels) {
    throw new Error(`syncBatchNorm: input ${formatShape(x.shape)} does not have ${channels} channels`);
  }
  const [n, c, h, w] = x.shape;
  return { n, c, hw: h * w };
}

/** Per-channel sum of f(value, channel) over N, H, W, in float64. */
function channelSums(a: Float32Array, g: Geometry, f: (v: number, ch: number, i: number) => number): Float64Array {
  const out = new Float64Array(g.c);
  const chw = g.c * g.hw;
  for (let ch = 0; ch < g.c; ch++) {
    let s = 0;
    for (let b = 0; b < g.n; b++) {
      const off = b * chw + ch * g.hw;
      for (let i = off; i < off + g.hw; i++) s += f(a[i], ch, i);
    }
    out[ch] = s;
  }
  return out;
}

export class SyncBatchNorm implements BatchNormSync {
  /**
   * This rank's share of the global batch (local images / global images) in the current step. Local
   * gradients are means over the local batch; this converts them to the global batch's units.
   */
  share: number;

  constructor(private readonly world: World) {
    this.share = 1 / world.size;
  }

  forward(x: Tensor, bn: BatchNorm2d, opts: BatchNormOptions): Tensor {
    // Shape-only forwards (the meta backend, e.g. featureInfo) have no values to share.
    if (x.backend.name === 'meta') return batchNorm(x, bn, true, opts);
    const g = geometry(x, bn.channels);
    const b = x.backend;
    const xs = b.read(x.storage, x.shape);
    // Global mean, then global biased variance (two passes, as the reference kernel does).
    const first = new Float64Array(g.c + 1);
    first.set(channelSums(xs, g, (v) => v));
    first[g.c] = g.n * g.hw;
    this.world.allreduce(first);
    const m = first[g.c];
    if (m <= 1) throw new Error(`syncBatchNorm: expected more than 1 value per channel over all ranks, got ${m}`);
    const mean = first.subarray(0, g.c).map((s) => s / m);
    const ss = this.world.allreduce(channelSums(xs, g, (v, ch) => (v - mean[ch]) * (v - mean[ch])));
    const variance = ss.map((s) => s / m);
    const invstd = variance.map((v) => 1 / Math.sqrt(v + opts.eps));
    updateRunning(bn, mean, variance, m, opts.momentum);

    const meanS = b.upload(Float32Array.from(mean), [g.c]);
    const varS = b.upload(Float32Array.from(variance), [g.c]);
    const zS = b.batchNormInfer(x.storage, x.shape, bn.weight.storage, bn.bias.storage, meanS, varS, { ...opts, activation: 'identity' });
    b.dispose(meanS);
    b.dispose(varS);
    const act: Activation = opts.activation;
    const yS = act === 'identity' ? zS : b.activation(act, zS, x.shape);
    const y = wrap(yS, x.shape, b);
    if (!needsGrad(x, bn.weight, bn.bias)) {
      if (yS !== zS) b.dispose(zS);
      return y;
    }
    const saved = yS !== zS ? [zS] : [];
    return record(y, gradFn('syncBatchNorm', [x, bn.weight, bn.bias], (dy) => {
      const dz = act === 'identity' ? dy.storage : b.activationBackward(act, dy.storage, zS, y.storage, x.shape);
      try {
        return this.backward(b, g, x, bn, b.read(dz, x.shape), mean, invstd);
      } finally {
        if (dz !== dy.storage) b.dispose(dz);
      }
    }, saved, [x, y, bn.weight]));
  }

  private backward(
    b: Backend, g: Geometry, x: Tensor, bn: BatchNorm2d, dz: Float32Array, mean: Float64Array, invstd: Float64Array,
  ): Tensor[] {
    const xs = b.read(x.storage, x.shape);
    const sdz = channelSums(dz, g, (v) => v);
    const sdzx = channelSums(dz, g, (v, ch, i) => v * (xs[i] - mean[ch])).map((s, ch) => s * invstd[ch]);
    // Global sums in the global batch's units (each rank's dz is scaled by its local batch size).
    const global = new Float64Array(2 * g.c + 1);
    for (let ch = 0; ch < g.c; ch++) {
      global[ch] = sdz[ch] * this.share;
      global[g.c + ch] = sdzx[ch] * this.share;
    }
    global[2 * g.c] = g.n * g.hw;
    this.world.allreduce(global);
    const m = global[2 * g.c];
    const gamma = b.read(bn.weight.storage, bn.weight.shape);
    const dx = new Float32Array(dz.length);
    const chw = g.c * g.hw;
    for (let ch = 0; ch < g.c; ch++) {
      const is = invstd[ch];
      const scale = gamma[ch] * is;
      // Back in this rank's units.
      const mdz = global[ch] / m / this.share;
      const mdzx = (global[g.c + ch] / m / this.share) * is;
      const mu = mean[ch];
      for (let n = 0; n < g.n; n++) {
        const off = n * chw + ch * g.hw;
        for (let i = off; i < off + g.hw; i++) dx[i] = scale * (dz[i] - mdz - (xs[i] - mu) * mdzx);
      }
    }
    const shape = bn.weight.shape;
    return [
      wrap(b.upload(dx, x.shape), x.shape, b),
      wrap(b.upload(Float32Array.from(sdzx), shape), shape, b),
      wrap(b.upload(Float32Array.from(sdz), shape), shape, b),
    ];
  }
}

/** running = (1 - momentum) * running + momentum * stat, with the unbiased variance (PyTorch). */
function updateRunning(bn: BatchNorm2d, mean: Float64Array, variance: Float64Array, m: number, momentum: number): void {
  const rm = bn.runningMean.toArray();
  const rv = bn.runningVar.toArray();
  for (let ch = 0; ch < rm.length; ch++) {
    rm[ch] = (1 - momentum) * rm[ch] + momentum * mean[ch];
    rv[ch] = (1 - momentum) * rv[ch] + momentum * (variance[ch] * m) / (m - 1);
  }
  bn.runningMean.assign(rm);
  bn.runningVar.assign(rv);
}

/** Makes every BatchNorm2d of `model` use global batch statistics in training; returns the controller. */
export function useSyncBatchNorm(model: Module, world: World): SyncBatchNorm {
  const sync = new SyncBatchNorm(world);
  for (const [, m] of model.namedModules()) if (m instanceof BatchNorm2d) m.sync = sync;
  return sync;
}

