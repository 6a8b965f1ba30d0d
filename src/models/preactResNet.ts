import type { Activation, Shape } from '../backend/backend.js';
import { Rng } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Sequential, traceChain } from '../nn/layers.js';
import type { LayerTrace, Module } from '../nn/module.js';
import { Network } from './network.js';
import { PreActBlock, type ConvSpec } from './preactBlock.js';

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
export class PreActResNet extends Network {
  readonly conv1: Conv2d;
  readonly layers: Sequential[] = [];
  readonly bn: BatchNorm2d;
  readonly pool = new GlobalAvgPool();
  readonly fc: Linear;

  constructor(o: PreActResNetOptions) {
    const kind = o.kind ?? defaultKind(o.depth);
    const act = o.activation ?? 'relu';
    const cfg = { classes: o.classes ?? 10, inChannels: o.inChannels ?? 3, dropout: 0, activation: act };
    super({ arch: o.arch ?? `preact-resnet-${o.depth}-${kind}`, ...cfg });
    const rng = o.rng ?? new Rng(0);
    const perBlock = kind === 'basic' ? 6 : 9;
    const n = (o.depth - 2) / perBlock;
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`pre-activation ResNet depth ${o.depth} does not fit ${kind} blocks: depth must be ${perBlock}N+2`);
    }
    this.conv1 = this.registerModule('conv1', new Conv2d(cfg.inChannels, 16, { kernel: 3 }, rng));
    let c = 16;
    [16, 32, 64].forEach((m, g) => {
      const specs: ConvSpec[] = kind === 'basic'
        ? [{ kernel: 3, channels: m }, { kernel: 3, channels: m }]
        : [{ kernel: 1, channels: m }, { kernel: 3, channels: m }, { kernel: 1, channels: 4 * m }];
      const stage = new Sequential();
      for (let i = 0; i < n; i++) {
        // Bottlenecks downsample in their 3x3 conv, as fb.resnet.torch's preresnet.lua does.
        stage.add(new PreActBlock(c, specs, i === 0 && g > 0 ? 2 : 1, act, 0, rng, kind === 'basic' ? 0 : 1));
        c = specs[specs.length - 1].channels;
      }
      this.layers.push(this.registerModule(`layer${g + 1}`, stage));
    });
    this.bn = this.registerModule('bn', new BatchNorm2d(c, act));
    this.fc = this.registerModule('fc', new Linear(c, cfg.classes, rng, true));
  }

  forward(x: Tensor): Tensor {
    let y = this.conv1.forward(x);
    for (const g of this.layers) y = g.forward(y);
    return this.fc.forward(this.pool.forward(this.bn.forward(y)));
  }

  private chain(): [string, Module][] {
    return [['conv1', this.conv1], ...this.layers.map((l, i): [string, Module] => [`layer${i + 1}`, l]),
      ['bn', this.bn], ['pool', this.pool], ['fc', this.fc]];
  }

  outputShape(s: Shape): Shape {
    return this.chain().reduce((shape, [, m]) => m.outputShape(shape), s);
  }

  override trace(inShape: Shape, prefix = ''): LayerTrace[] {
    return traceChain(this.chain(), inShape, prefix);
  }
}

/** He et al.'s choice: bottlenecks for the very deep nets (164, 1001), basic blocks otherwise. */
export function defaultKind(depth: number): PreActKind {
  return depth >= 164 && (depth - 2) % 9 === 0 ? 'bottleneck' : 'basic';
}

export function preActResNet(o: PreActResNetOptions): PreActResNet {
  return new PreActResNet(o);
}
