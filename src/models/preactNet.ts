import type { Rng } from '../core/random.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Sequential } from '../nn/layers.js';
import { Network, type NetworkConfig, type NetworkParts } from './network.js';
import { PreActBlock, type ConvSpec } from './preactBlock.js';

/** One group of identical pre-activation blocks; the first block carries the stride. */
export interface StageSpec {
  convs: ConvSpec[];
  blocks: number;
  stride: number;
  /** Which conv of a block carries the stride (0: the first). */
  strideConv?: number;
}

/**
 * The CIFAR-style pre-activation network both WRNs and He et al.'s thin ResNets are made of
 * (torchvision style: one generic class, the variants are data): conv3x3 to 16 channels; the
 * stages `layer1..`; final BN-act (`bn`), global average pool, linear (`fc`, zero bias).
 */
export class PreActNet extends Network {
  readonly conv1: Conv2d;
  readonly layers: Sequential[] = [];
  readonly bn: BatchNorm2d;
  readonly pool: GlobalAvgPool;

  constructor(config: NetworkConfig, stages: StageSpec[], rng: Rng) {
    super(config);
    this.conv1 = this.registerModule('conv1', new Conv2d(config.inChannels, 16, { kernel: 3 }, rng));
    let c = 16;
    stages.forEach((s, g) => {
      const stage = new Sequential();
      for (let i = 0; i < s.blocks; i++) {
        stage.add(new PreActBlock(c, s.convs, i === 0 ? s.stride : 1, config.activation, config.dropout, rng, s.strideConv ?? 0));
        c = s.convs[s.convs.length - 1].channels;
      }
      this.layers.push(this.registerModule(`layer${g + 1}`, stage));
    });
    this.bn = this.registerModule('bn', new BatchNorm2d(c, config.activation));
    this.pool = this.registerModule('pool', new GlobalAvgPool());
    this.setClassifier(new Linear(c, config.classes, rng, true));
  }

  protected parts(): NetworkParts {
    return { stem: [this.conv1], stages: this.layers, norm: this.bn, pool: this.pool };
  }
}
