import type { Activation } from '../backend/backend.js';
import { Rng } from '../core/random.js';
import type { ConvSpec } from './preactBlock.js';
import { PreActNet, type StageSpec } from './preactNet.js';

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
export class WideResNet extends PreActNet {
  constructor(o: WideResNetOptions) {
    const block = o.block ?? BLOCK_TYPES.b33;
    const n = blocksPerGroup(o.depth, block);
    const stages: StageSpec[] = [16, 32, 64].map((base, g) => ({
      convs: block.map((kernel): ConvSpec => ({ kernel, channels: base * o.widen })),
      blocks: n,
      stride: g === 0 ? 1 : 2,
    }));
    const config = {
      arch: o.arch ?? `wrn-${o.depth}-${o.widen}`, classes: o.classes ?? 10, inChannels: o.inChannels ?? 3,
      dropout: o.dropout ?? 0, activation: o.activation ?? 'relu',
    };
    super(config, stages, o.rng ?? new Rng(0));
  }
}

export function wideResNet(o: WideResNetOptions): WideResNet {
  return new WideResNet(o);
}
