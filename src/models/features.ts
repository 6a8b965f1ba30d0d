import type { Shape } from '../backend/backend.js';
import type { Tensor } from '../core/tensor.js';
import type { FeatureInfo, Network } from './network.js';

/**
 * A network used as a backbone (timm's `features_only`): `forward` returns the feature maps of the
 * selected stages, each the caller's to keep and dispose. The whole network is kept, so that
 * classifier weight files load into it as they are; the stages after the last selected one and the
 * head are never run.
 */
export class FeatureExtractor {
  readonly outIndices: readonly number[];
  readonly featureInfo: readonly FeatureInfo[];

  constructor(readonly network: Network, outIndices?: readonly (number | string)[]) {
    this.outIndices = network.stageIndices(outIndices ?? network.stageNames());
    const all = network.featureInfo;
    this.featureInfo = this.outIndices.map((i) => all[i]);
  }

  forward(x: Tensor): Tensor[] {
    return this.network.forwardStages(x, this.outIndices);
  }

  eval(): this {
    this.network.eval();
    return this;
  }

  loadStateDict(values: ReadonlyMap<string, { shape: Shape; data: Float32Array }>, source?: string): void {
    this.network.loadStateDict(values, source);
  }

  dispose(): void {
    this.network.dispose();
  }
}
