import type { Activation } from '../backend/backend.js';
import { Rng } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { add, activation } from '../ops/index.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, MaxPool2d, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { Network, type NetworkParts } from './network.js';

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
    let y = this.bn1.forward(this.conv1.forward(x));
    y = this.bn2.forward(this.conv2.forward(y));
    y = this.bn3.forward(this.conv3.forward(y));
    const sc = this.downsample ? this.downsample.forward(x) : x;
    return activation(this.act, add(y, sc));
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
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool = new MaxPool2d(3, 2, 1);
  readonly layers: Sequential[] = [];
  readonly avgpool = new GlobalAvgPool();

  constructor(o: TorchvisionResNetOptions) {
    const act = o.activation ?? 'relu';
    super({ arch: o.arch, classes: o.classes ?? 1000, inChannels: o.inChannels ?? 3, dropout: 0, activation: act });
    const rng = o.rng ?? new Rng(0);
    const widthPerGroup = o.widthPerGroup ?? 64;
    this.conv1 = this.registerModule('conv1', new Conv2d(this.config.inChannels, 64, { kernel: 7, stride: 2, padding: 3 }, rng));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64, act));
    this.registerModule('maxpool', this.maxpool);
    let inplanes = 64;
    o.layers.forEach((blocks, i) => {
      const planes = 64 << i;
      const width = (planes * widthPerGroup) / 64;
      const layer = new Sequential();
      for (let b = 0; b < blocks; b++) {
        layer.add(new Bottleneck(inplanes, planes, b === 0 && i > 0 ? 2 : 1, width, act, rng));
        inplanes = planes * Bottleneck.expansion;
      }
      this.layers.push(this.registerModule(`layer${i + 1}`, layer));
    });
    this.registerModule('avgpool', this.avgpool);
    this.setClassifier(new Linear(inplanes, this.config.classes, rng));
  }

  protected parts(): NetworkParts {
    return { stem: [this.conv1, this.bn1, this.maxpool], stages: this.layers, norm: null, pool: this.avgpool };
  }
}
