import type { Shape } from '../backend/backend.js';
import { MetaBackend } from '../backend/meta.js';
import { noGrad, tidy } from '../core/engine.js';
import { sizeOf } from '../core/shape.js';
import { Tensor } from '../core/tensor.js';
import type { Module } from '../nn/module.js';
import type { Network } from './network.js';

/** One layer as `wrn summary` shows it: its output shape, own parameters and MACs for one image. */
export interface LayerTrace {
  name: string;
  type: string;
  outShape: Shape;
  params: number;
  macs: number;
}

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
   * backward pass (conv, BN(+act), pool, linear outputs), plus the input.
   */
  activationBytes: number;
  /** Parameter memory in bytes (fp32). */
  paramBytes: number;
}

/** Per-layer summary for one image of shape [C,H,W], from the model's own forward on the meta backend. */
export function summarize(model: Network, inputSize: number): ModelSummary {
  const inputShape = [1, model.config.inChannels, inputSize, inputSize];
  const layers = traceLayers(model, inputShape);
  const params = model.numParameters();
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  const kept = layers.reduce((s, l) => s + sizeOf(l.outShape), sizeOf(inputShape));
  return { arch: model.config.arch, inputShape: inputShape.slice(1), layers, params, macs, activationBytes: kept * 4, paramBytes: params * 4 };
}

/**
 * Runs the model's forward (eval mode, no autograd) on a shapes-only input and records every leaf
 * layer's call, as PyTorch forward hooks would: name, type, output shape, own parameters, MACs.
 * Calls that return their input (dropout in eval mode) are not layers of the table.
 */
export function traceLayers(model: Network, inputShape: Shape): LayerTrace[] {
  const meta = new MetaBackend();
  const leaves = model.namedModules().filter(([, m]) => m.children().length === 0);
  const modes = model.namedModules().map(([, m]): [Module, boolean] => [m, m.training]);
  const out: LayerTrace[] = [];
  model.eval();
  try {
    for (const [name, m] of leaves) {
      const forward = m.forward;
      m.forward = (x: Tensor): Tensor => {
        const y = forward.call(m, x);
        if (y !== x) out.push({ name, type: m.constructor.name, outShape: y.shape, params: m.ownParameters(), macs: m.macs(y.shape) });
        return y;
      };
    }
    noGrad(() => tidy(() => {
      model.forward(new Tensor(meta.zeros(inputShape), inputShape, meta));
    }));
  } finally {
    // The hooks are own properties shadowing the class's method: deleting them restores it.
    for (const [, m] of leaves) delete (m as { forward?: unknown }).forward;
    for (const [m, training] of modes) m.training = training;
  }
  return out;
}
