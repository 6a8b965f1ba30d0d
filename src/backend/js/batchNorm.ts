/**
 * Batch normalisation over (N, spatial) per channel (NCHW, or [N,C]), with a fused activation after
 * the affine transform, exactly PyTorch's semantics:
 * - training: normalise with the batch mean and the biased batch variance; update the running
 *   statistics in place as running = (1 - momentum) * running + momentum * stat, using the
 *   unbiased variance (times m / (m - 1), m = N * H * W) for running_var;
 * - inference: normalise with the running statistics;
 * - backward: through the activation and the batch statistics.
 * Sums run in float64 whatever the storage type.
 */
import type { Activation, BatchNormOptions } from '../backend.js';
import { activateInPlace, geluGrad, siluGrad } from './activation.js';
import { type FloatArray, allocLike, checkSize, scratchF64 } from './types.js';

interface BnGeometry { n: number; c: number; hw: number; m: number }

function geometry(what: string, xShape: readonly number[], x: FloatArray, params: FloatArray[]): BnGeometry {
  if (xShape.length < 2) throw new Error(`${what}: expected NCHW or [N,C], got shape [${xShape.join(',')}]`);
  checkSize(`${what} input`, x, xShape);
  const [n, c] = xShape;
  let hw = 1;
  for (let i = 2; i < xShape.length; i++) hw *= xShape[i];
  for (const p of params) {
    if (p.length !== c) throw new Error(`${what}: a per-channel parameter holds ${p.length} values for ${c} channels`);
  }
  return { n, c, hw, m: n * hw };
}

export interface BatchNormTrainResult {
  y: FloatArray;
  /** Batch mean per channel. */
  mean: Float64Array;
  /** 1 / sqrt(biased batch variance + eps) per channel. */
  invstd: Float64Array;
}

export function batchNormTrain(
  x: FloatArray, xShape: readonly number[], gamma: FloatArray, beta: FloatArray,
  runningMean: FloatArray, runningVar: FloatArray, opts: BatchNormOptions,
): BatchNormTrainResult {
  const { n, c, hw, m } = geometry('batchNormTrain', xShape, x, [gamma, beta, runningMean, runningVar]);
  if (m <= 1) {
    throw new Error(`batchNormTrain: expected more than 1 value per channel when training, got input shape [${xShape.join(',')}]`);
  }
  const y = allocLike(x, x.length);
  const mean = new Float64Array(c);
  const invstd = new Float64Array(c);
  const chw = c * hw;
  const mom = opts.momentum;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) {
      const off = b * chw + ch * hw;
      for (let i = off; i < off + hw; i++) s += x[i];
    }
    const mu = s / m;
    let ss = 0;
    for (let b = 0; b < n; b++) {
      const off = b * chw + ch * hw;
      for (let i = off; i < off + hw; i++) {
        const d = x[i] - mu;
        ss += d * d;
      }
    }
    const varBiased = ss / m;
    const is = 1 / Math.sqrt(varBiased + opts.eps);
    mean[ch] = mu;
    invstd[ch] = is;
    const scale = gamma[ch] * is;
    const shift = beta[ch] - mu * scale;
    for (let b = 0; b < n; b++) {
      const off = b * chw + ch * hw;
      for (let i = off; i < off + hw; i++) y[i] = x[i] * scale + shift;
      activateInPlace(opts.activation, y, off, off + hw);
    }
    runningMean[ch] = (1 - mom) * runningMean[ch] + mom * mu;
    runningVar[ch] = (1 - mom) * runningVar[ch] + mom * (varBiased * m) / (m - 1);
  }
  return { y, mean, invstd };
}

export function batchNormInfer(
  x: FloatArray, xShape: readonly number[], gamma: FloatArray, beta: FloatArray,
  runningMean: FloatArray, runningVar: FloatArray, opts: BatchNormOptions,
): FloatArray {
  const { n, c, hw } = geometry('batchNormInfer', xShape, x, [gamma, beta, runningMean, runningVar]);
  const y = allocLike(x, x.length);
  const chw = c * hw;
  for (let ch = 0; ch < c; ch++) {
    const scale = gamma[ch] / Math.sqrt(runningVar[ch] + opts.eps);
    const shift = beta[ch] - runningMean[ch] * scale;
    for (let b = 0; b < n; b++) {
      const off = b * chw + ch * hw;
      for (let i = off; i < off + hw; i++) y[i] = x[i] * scale + shift;
      activateInPlace(opts.activation, y, off, off + hw);
    }
  }
  return y;
}

export interface BatchNormBackwardResult { dx: FloatArray; dgamma: FloatArray; dbeta: FloatArray }

/**
 * Backward of batchNormTrain. `y` is its output, `mean`/`invstd` its saved statistics.
 * With z = gamma * xhat + beta and dz = dy * act'(z):
 * dbeta = sum dz, dgamma = sum dz * xhat, dx = gamma * invstd * (dz - mean(dz) - xhat * mean(dz * xhat)).
 */
export function batchNormBackward(
  dy: FloatArray, x: FloatArray, y: FloatArray, xShape: readonly number[], gamma: FloatArray, beta: FloatArray,
  mean: Float64Array, invstd: Float64Array, opts: BatchNormOptions,
): BatchNormBackwardResult {
  const { n, c, hw, m } = geometry('batchNormBackward', xShape, x, [gamma, beta, mean, invstd]);
  checkSize('batchNormBackward dy', dy, xShape);
  checkSize('batchNormBackward y', y, xShape);
  const dx = allocLike(dy, dy.length);
  const dgamma = allocLike(gamma, c);
  const dbeta = allocLike(gamma, c);
  const dz = scratchF64('bn.dz', m);
  const chw = c * hw;
  const act: Activation = opts.activation;
  for (let ch = 0; ch < c; ch++) {
    const mu = mean[ch];
    const is = invstd[ch];
    const scale = gamma[ch] * is;
    const shift = beta[ch] - mu * scale;
    // dz = dy * act'(z), kept per channel in a float64 scratch (m values).
    let k = 0;
    for (let b = 0; b < n; b++) {
      const off = b * chw + ch * hw;
      switch (act) {
        case 'identity':
          for (let i = off; i < off + hw; i++) dz[k++] = dy[i];
          break;
        case 'relu':
          for (let i = off; i < off + hw; i++) dz[k++] = y[i] > 0 ? dy[i] : 0;
          break;
        case 'silu':
          for (let i = off; i < off + hw; i++) dz[k++] = dy[i] * siluGrad(x[i] * scale + shift);
          break;
        case 'gelu':
          for (let i = off; i < off + hw; i++) dz[k++] = dy[i] * geluGrad(x[i] * scale + shift);
          break;
        default:
          throw new Error(`batchNormBackward: unknown activation '${String(act)}'`);
      }
    }
    let sdz = 0;
    let sdzx = 0;
    k = 0;
    for (let b = 0; b < n; b++) {
      const off = b * chw + ch * hw;
      for (let i = off; i < off + hw; i++) {
        const g = dz[k++];
        sdz += g;
        sdzx += g * (x[i] - mu);
      }
    }
    sdzx *= is;
    dbeta[ch] = sdz;
    dgamma[ch] = sdzx;
    const mdz = sdz / m;
    const mdzx = (sdzx / m) * is;
    k = 0;
    for (let b = 0; b < n; b++) {
      const off = b * chw + ch * hw;
      for (let i = off; i < off + hw; i++) dx[i] = scale * (dz[k++] - mdz - (x[i] - mu) * mdzx);
    }
  }
  return { dx, dgamma, dbeta };
}
