import type { Activation, Shape } from '../backend/backend.js';
import { Rng } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Sequential, traceChain } from '../nn/layers.js';
import type { LayerTrace } from '../nn/module.js';
import { Network } from './network.js';
import { PreActBlock, type ConvSpec } from './preactBlock.js';

/**
 * The paper's block types: kernel sizes of the convolutions in a block, B(3,3) being the basic
 * block. Deepening factor l = number of convolutions (B(3), B(3,3,3), ...).
 */
export type BlockType = readonly number[];
export const BLOCK_TYPES: Record<string, BlockType> = {
  b33: [3, 3], b313: [3, 1, 3], b131: [1, 3, 1], b13: [1, 3], b31: [3, 1], b311: [3, 1, 1],
  b3: [3], b333: [3, 3, 3], b3333: [3, 3, 3, 3],
};

export interface WideResNetOptions {
  depth: number;
  widen: number;
  classes?: number;
  inChannels?: number;
  dropout?: number;
  block?: BlockType;
  activation?: Activation;
  /** Seeds the init and the dropout masks. */
  rng?: Rng;
  arch?: string;
}

/**
 * Blocks per group. The paper names nets by the depth of their B(3,3) version: the authors' code
 * takes N = (depth - 4) / 6 blocks per group whatever the block type, which is how Table 2 gets
 * WRN-22-2 B(3,1,3) at 1.1M and WRN-40-2 B(1,3,1) at 1.4M parameters. We count the same way.
 */
export function blocksPerGroup(depth: number, block: BlockType): number {
  const n = (depth - 4) / 6;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`WRN depth ${depth} does not fit: depth must be 6N+4 (10, 16, 22, 28, 40, ...), with N blocks B(${block.join(',')}) per group`);
  }
  return n;
}

/**
 * WRN-d-k (Zagoruyko & Komodakis 2016): conv3x3 to 16 channels; three groups of N pre-activation
 * blocks with 16k, 32k, 64k channels and strides 1, 2, 2; final BN-act, global average pool, linear.
 */
export class WideResNet extends Network {
  readonly conv1: Conv2d;
  readonly layers: Sequential[] = [];
  readonly bn: BatchNorm2d;
  readonly pool = new GlobalAvgPool();
  readonly fc: Linear;

  constructor(o: WideResNetOptions) {
    const block = o.block ?? BLOCK_TYPES.b33;
    const act = o.activation ?? 'relu';
    const cfg = { classes: o.classes ?? 10, inChannels: o.inChannels ?? 3, dropout: o.dropout ?? 0, activation: act };
    super({ arch: o.arch ?? `wrn-${o.depth}-${o.widen}`, ...cfg });
    const rng = o.rng ?? new Rng(0);
    const n = blocksPerGroup(o.depth, block);
    this.conv1 = this.registerModule('conv1', new Conv2d(cfg.inChannels, 16, { kernel: 3 }, rng));
    let c = 16;
    [16, 32, 64].forEach((base, g) => {
      const width = base * o.widen;
      const specs: ConvSpec[] = block.map((kernel) => ({ kernel, channels: width }));
      const group = new Sequential();
      for (let i = 0; i < n; i++) {
        group.add(new PreActBlock(c, specs, i === 0 && g > 0 ? 2 : 1, act, cfg.dropout, rng));
        c = width;
      }
      this.layers.push(this.registerModule(`layer${g + 1}`, group));
    });
    this.bn = this.registerModule('bn', new BatchNorm2d(c, act));
    this.fc = this.registerModule('fc', new Linear(c, cfg.classes, rng, true));
  }

  forward(x: Tensor): Tensor {
    let y = this.conv1.forward(x);
    for (const g of this.layers) y = g.forward(y);
    return this.fc.forward(this.pool.forward(this.bn.forward(y)));
  }

  private chain(): [string, import('../nn/module.js').Module][] {
    return [['conv1', this.conv1], ...this.layers.map((l, i): [string, Sequential] => [`layer${i + 1}`, l]),
      ['bn', this.bn], ['pool', this.pool], ['fc', this.fc]];
  }

  outputShape(s: Shape): Shape {
    return this.chain().reduce((shape, [, m]) => m.outputShape(shape), s);
  }

  override trace(inShape: Shape, prefix = ''): LayerTrace[] {
    return traceChain(this.chain(), inShape, prefix);
  }
}

export function wideResNet(o: WideResNetOptions): WideResNet {
  return new WideResNet(o);
}
