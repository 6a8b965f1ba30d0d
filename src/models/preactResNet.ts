import type { Activation } from '../backend/backend.js';
import { Rng } from '../core/random.js';
import { PreActNet, type StageSpec } from './preactNet.js';

export type PreActKind = 'basic' | 'bottleneck';

export interface PreActResNetOptions {
  depth: number;
  kind?: PreActKind;
  classes?: number;
  inChannels?: number;
  activation?: Activation;
  rng?: Rng;
  arch?: string;
}

/**
 * The thin pre-activation ResNets of He et al. 2016 ("Identity Mappings in Deep Residual Networks")
 * that the WRN paper compares against, CIFAR layout: conv3x3 to 16 channels, three stages with
 * strides 1, 2, 2, final BN-act, average pool, linear.
 * - basic (ResNet-110): depth 6N+2, blocks B(3,3) with 16, 32, 64 channels;
 * - bottleneck (ResNet-164, ResNet-1001): depth 9N+2, blocks 1x1 (m) - 3x3 (m, stride) - 1x1 (4m),
 *   m = 16, 32, 64.
 */
export class PreActResNet extends PreActNet {
  constructor(o: PreActResNetOptions) {
    const kind = o.kind ?? defaultKind(o.depth);
    const perBlock = kind === 'basic' ? 6 : 9;
    const n = (o.depth - 2) / perBlock;
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`pre-activation ResNet depth ${o.depth} does not fit ${kind} blocks: depth must be ${perBlock}N+2`);
    }
    const stages: StageSpec[] = [16, 32, 64].map((m, g) => ({
      convs: kind === 'basic'
        ? [{ kernel: 3, channels: m }, { kernel: 3, channels: m }]
        : [{ kernel: 1, channels: m }, { kernel: 3, channels: m }, { kernel: 1, channels: 4 * m }],
      blocks: n,
      stride: g === 0 ? 1 : 2,
      // Bottlenecks downsample in their 3x3 conv, as fb.resnet.torch's preresnet.lua does.
      strideConv: kind === 'basic' ? 0 : 1,
    }));
    const config = {
      arch: o.arch ?? `preact-resnet-${o.depth}-${kind}`, classes: o.classes ?? 10, inChannels: o.inChannels ?? 3,
      dropout: 0, activation: o.activation ?? 'relu',
    };
    super(config, stages, o.rng ?? new Rng(0));
  }
}

/** He et al.'s choice: bottlenecks for the very deep nets (164, 1001), basic blocks otherwise. */
export function defaultKind(depth: number): PreActKind {
  return depth >= 164 && (depth - 2) % 9 === 0 ? 'bottleneck' : 'basic';
}

export function preActResNet(o: PreActResNetOptions): PreActResNet {
  return new PreActResNet(o);
}
