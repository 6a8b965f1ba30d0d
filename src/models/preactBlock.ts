import type { Activation } from '../backend/backend.js';
import type { Rng } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { add } from '../ops/index.js';
import { BatchNorm2d, Conv2d, Dropout } from '../nn/layers.js';
import { Module } from '../nn/module.js';

/** One convolution of a pre-activation block: its kernel size and output width. */
export interface ConvSpec {
  kernel: number;
  channels: number;
}

/**
 * A pre-activation residual block (He et al. 2016; Zagoruyko & Komodakis 2016):
 * for each conv i: BN-act, [dropout before every conv but the first], conv_i. Conv `strideConv`
 * (the first by default) carries the stride. Where channels or stride change, a 1x1 conv shortcut reads the
 * pre-activated input relu(bn1(x)) (as in the authors' code); otherwise the identity reads x.
 *
 * Names: bn1, conv1, bn2, conv2, ..., shortcut, as in the canonical WRN state dict.
 */
export class PreActBlock extends Module {
  private readonly bns: BatchNorm2d[] = [];
  private readonly convs: Conv2d[] = [];
  private readonly drop: Dropout | null;
  readonly shortcut: Conv2d | null;

  constructor(
    inChannels: number, convs: ConvSpec[], stride: number, act: Activation, dropout: number, rng: Rng, strideConv = 0,
  ) {
    super();
    let c = inChannels;
    convs.forEach((spec, i) => {
      this.bns.push(this.registerModule(`bn${i + 1}`, new BatchNorm2d(c, act)));
      this.convs.push(this.registerModule(`conv${i + 1}`, new Conv2d(c, spec.channels, { kernel: spec.kernel, stride: i === strideConv ? stride : 1 }, rng)));
      c = spec.channels;
    });
    this.drop = dropout > 0 ? this.registerModule('dropout', new Dropout(dropout, rng)) : null;
    this.shortcut = inChannels !== c || stride !== 1
      ? this.registerModule('shortcut', new Conv2d(inChannels, c, { kernel: 1, stride, padding: 0 }, rng))
      : null;
  }

  /** The block's layers in order (for graph rewrites such as int8 quantization, which folds and fuses them). */
  parts(): { bns: readonly BatchNorm2d[]; convs: readonly Conv2d[]; shortcut: Conv2d | null } {
    return { bns: this.bns, convs: this.convs, shortcut: this.shortcut };
  }

  forward(x: Tensor): Tensor {
    const o = this.bns[0].forward(x);
    const sc = this.shortcut ? this.shortcut.forward(o) : x;
    let y = this.convs[0].forward(o);
    for (let i = 1; i < this.convs.length; i++) {
      y = this.bns[i].forward(y);
      if (this.drop) y = this.drop.forward(y);
      y = this.convs[i].forward(y);
    }
    return add(y, sc);
  }
}
