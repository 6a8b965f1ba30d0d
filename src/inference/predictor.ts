import type { Shape } from '../backend/backend.js';
import type { NetworkConfig } from '../models/network.js';

/**
 * A classifier that is not a trainable Network: it maps normalised images to logits on its own
 * engine (the int8 network of `wrn quantize`). Evaluation and prediction accept either.
 */
export interface Predictor {
  readonly config: NetworkConfig;
  logits(x: Float32Array, shape: Shape): Float32Array;
  dispose(): void;
}

export function isPredictor(m: object): m is Predictor {
  return typeof (m as Partial<Predictor>).logits === 'function';
}
