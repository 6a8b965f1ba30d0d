import type { Shape } from '../backend/backend.js';
import { sizeOf } from '../core/shape.js';
import type { LayerTrace } from '../nn/module.js';
import type { Network } from './network.js';

export interface ModelSummary {
  arch: string;
  inputShape: Shape;
  layers: LayerTrace[];
  /** Exact number of trainable parameters. */
  params: number;
  /** Multiply-accumulates per image, convolutions and linear layers (as PyTorch forward hooks count them). */
  macs: number;
  /**
   * Activation memory per image for training, in bytes (fp32): every layer output kept for the
   * backward pass (conv, BN(+act), add, pool, linear outputs), plus the input.
   */
  activationBytes: number;
  /** Parameter memory in bytes (fp32). */
  paramBytes: number;
}

/** Static per-layer summary for one image of shape [C,H,W]; nothing is computed on a backend. */
export function summarize(model: Network, inputSize: number): ModelSummary {
  const inputShape = [1, model.config.inChannels, inputSize, inputSize];
  const layers = model.trace(inputShape);
  const params = model.numParameters();
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  const kept = layers.reduce((s, l) => s + sizeOf(l.outShape), sizeOf(inputShape));
  return { arch: model.config.arch, inputShape: inputShape.slice(1), layers, params, macs, activationBytes: kept * 4, paramBytes: params * 4 };
}
