import type { Activation, Shape } from '../backend/backend.js';
import { Rng } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { add, activation } from '../ops/index.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, MaxPool2d, Sequential, traceChain } from '../nn/layers.js';
import { Module, type LayerTrace } from '../nn/module.js';
import { chain, release, step } from '../nn/release.js';
import { Network } from './network.js';

/**
 * torchvision's post-activation Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv):
 * conv1 1x1 - bn1 - act - conv2 3x3 - bn2 - act - conv3 1x1 - bn3, + downsample(x), act.
 * Parameter names are torchvision's, so its state dicts load as they are.
 */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride: number, width: number, readonly act: Activation, rng: Rng) {
    super();
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.registerModule('conv1', new Conv2d(inplanes, width, { kernel: 1 }, rng));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width, act));
    this.conv2 = this.registerModule('conv2', new Conv2d(width, width, { kernel: 3, stride }, rng));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(width, act));
    this.conv3 = this.registerModule('conv3', new Conv2d(width, out, { kernel: 1 }, rng));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(out));
    this.downsample = stride !== 1 || inplanes !== out
      ? this.registerModule('downsample', new Sequential([new Conv2d(inplanes, out, { kernel: 1, stride, padding: 0 }, rng), new BatchNorm2d(out)]))
      : null;
  }

  forward(x: Tensor): Tensor {
    // chain()/step()/release() free each intermediate after its last use: all of them in inference, and in
    // training those no backward reads (see nn/release.ts).
    const y = chain(x, [this.conv1, this.bn1, this.conv2, this.bn2, this.conv3, this.bn3]);
    const sc = this.downsample ? this.downsample.forward(x) : x;
    const sum = add(y, sc);
    release(y);
    release(sc, x);
    return step(sum, (t) => activation(this.act, t));
  }

  outputShape(s: Shape): Shape {
    return this.conv3.outputShape(this.conv2.outputShape(this.conv1.outputShape(s)));
  }

  override trace(inShape: Shape, prefix = ''): LayerTrace[] {
    const out = traceChain(this.children().filter(([n]) => n !== 'downsample'), inShape, prefix);
    if (this.downsample) out.push(...this.downsample.trace(inShape, `${prefix}.downsample`));
    return out;
  }
}

export interface TorchvisionResNetOptions {
  layers: readonly [number, number, number, number];
  /** torchvision's width_per_group: 64 for resnet50, 128 for wide_resnet50_2. */
  widthPerGroup?: number;
  classes?: number;
  inChannels?: number;
  activation?: Activation;
  rng?: Rng;
  arch: string;
}

/** torchvision's ImageNet ResNet with Bottleneck blocks (resnet50/101, wide_resnet50_2/101_2). */
export class TorchvisionResNet extends Network {
  constructor(o: TorchvisionResNetOptions) {
    const act = o.activation ?? 'relu';
    super({ arch: o.arch, classes: o.classes ?? 1000, inChannels: o.inChannels ?? 3, dropout: 0, activation: act });
    const rng = o.rng ?? new Rng(0);
    const widthPerGroup = o.widthPerGroup ?? 64;
    this.registerModule('conv1', new Conv2d(this.config.inChannels, 64, { kernel: 7, stride: 2, padding: 3 }, rng));
    this.registerModule('bn1', new BatchNorm2d(64, act));
    this.registerModule('maxpool', new MaxPool2d(3, 2, 1));
    let inplanes = 64;
    o.layers.forEach((blocks, i) => {
      const planes = 64 << i;
      const width = (planes * widthPerGroup) / 64;
      const layer = new Sequential();
      for (let b = 0; b < blocks; b++) {
        layer.add(new Bottleneck(inplanes, planes, b === 0 && i > 0 ? 2 : 1, width, act, rng));
        inplanes = planes * Bottleneck.expansion;
      }
      this.registerModule(`layer${i + 1}`, layer);
    });
    this.registerModule('avgpool', new GlobalAvgPool());
    this.registerModule('fc', new Linear(inplanes, this.config.classes, rng));
  }

  forward(x: Tensor): Tensor {
    return chain(x, this.children().map(([, m]) => m));
  }

  outputShape(s: Shape): Shape {
    return this.children().reduce((shape, [, m]) => m.outputShape(shape), s);
  }

  override trace(inShape: Shape, prefix = ''): LayerTrace[] {
    return traceChain(this.children(), inShape, prefix);
  }
}
