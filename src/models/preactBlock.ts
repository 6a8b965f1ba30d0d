import type { Activation, Shape } from '../backend/backend.js';
import type { Rng } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { add } from '../ops/index.js';
import { BatchNorm2d, Conv2d, Dropout, traceChain } from '../nn/layers.js';
import { release, step } from '../nn/release.js';
import { Module, type LayerTrace } from '../nn/module.js';

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

  forward(x: Tensor): Tensor {
    // step()/release() free each intermediate after its last use: all of them in inference, and in
    // training those no backward reads (see nn/release.ts).
    const o = this.bns[0].forward(x);
    const sc = this.shortcut ? this.shortcut.forward(o) : x;
    let y = step(o, (t) => this.convs[0].forward(t));
    for (let i = 1; i < this.convs.length; i++) {
      y = step(y, (t) => this.bns[i].forward(t));
      const drop = this.drop;
      if (drop) y = step(y, (t) => drop.forward(t));
      y = step(y, (t) => this.convs[i].forward(t));
    }
    const out = add(y, sc);
    release(y);
    release(sc, x);
    return out;
  }

  outputShape(s: Shape): Shape {
    return this.convs.reduce((shape, c) => c.outputShape(shape), s);
  }

  override trace(inShape: Shape, prefix = ''): LayerTrace[] {
    const main: [string, Module][] = [];
    this.convs.forEach((c, i) => main.push([`bn${i + 1}`, this.bns[i]], [`conv${i + 1}`, c]));
    const out = traceChain(main, inShape, prefix);
    if (this.shortcut) out.push(...this.shortcut.trace(inShape, `${prefix}.shortcut`));
    return out;
  }
}
