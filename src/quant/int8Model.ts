/**
 * An int8 network on the oneDNN addon, built from `Int8Weights`: the layer structure (strides, paddings,
 * which blocks have a shortcut) comes from the architecture, the numbers from the weights. Output scales
 * and biases in accumulator units are derived here, so the native side only executes.
 */
import type { Shape } from '../backend/backend.js';
import { MetaBackend } from '../backend/meta.js';
import { int8Addon, type Int8Addon, type QBlockDesc, type QConvDesc } from '../backend/native/int8.js';
import { withBackend } from '../core/engine.js';
import type { Activation } from '../backend/backend.js';
import type { NetworkConfig } from '../models/network.js';
import { createModel } from '../models/registry.js';
import type { Predictor } from '../inference/predictor.js';
import { pointName, quantGraph } from './graph.js';
import type { Int8Weights, QTensor } from './quantize.js';
import { narrowTo7Bits } from './weights.js';

export interface Int8ModelConfig {
  arch: string;
  classes: number;
  inChannels: number;
  activation: Activation;
}

/** Typed, shape-checked access to the tensors and activation scales of int8 weights (one line on a mismatch). */
export class Int8Reader {
  constructor(private readonly w: Int8Weights, private readonly where: string) {}

  private get(name: string, shape: Shape): QTensor {
    const t = this.w.tensors.get(name);
    if (!t) throw new Error(`${this.where}: tensor '${name}' is missing (expected int8 weights written by wrn quantize for this architecture)`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${this.where}: tensor '${name}' has shape [${t.shape.join(',')}], expected [${shape.join(',')}]`);
    }
    return t;
  }

  f32(name: string, shape: Shape): Float32Array {
    const t = this.get(name, shape);
    if (!(t.data instanceof Float32Array)) throw new Error(`${this.where}: tensor '${name}' must be floating point`);
    return t.data;
  }

  s8(name: string, shape: Shape): Int8Array {
    const t = this.get(name, shape);
    if (!(t.data instanceof Int8Array)) throw new Error(`${this.where}: tensor '${name}' must be I8 (int8 weights)`);
    return t.data;
  }

  scale(point: string): number {
    const s = this.w.info.activationScales[point];
    if (!(typeof s === 'number' && s > 0)) throw new Error(`${this.where}: no activation scale for '${point}' in the metadata`);
    return s;
  }
}

export class Int8Model implements Predictor {
  private handle: number;

  constructor(readonly config: NetworkConfig, private readonly addon: Int8Addon, handle: number, readonly isa: string, readonly weightBits: number,
    /** Set when the weights had to change to run here (8-bit weights narrowed to 7 bits without VNNI). */
    readonly notice: string | null) {
    this.handle = handle;
  }

  logits(x: Float32Array, shape: Shape): Float32Array {
    if (this.handle < 0) throw new Error('int8 model: used after dispose()');
    return this.addon.int8NetForward(this.handle, x, shape);
  }

  describe(): string {
    return `int8 (oneDNN u8s8 convolutions, ${this.weightBits}-bit weights, ISA ${this.isa})`;
  }

  dispose(): void {
    if (this.handle >= 0) this.addon.free(this.handle);
    this.handle = -1;
  }
}

/** Builds the native int8 network; throws one line when the addon, the architecture or a tensor does not fit. */
export function buildInt8Model(w: Int8Weights, cfg: Int8ModelConfig, where: string): Int8Model {
  const addon = int8Addon();
  if (addon instanceof Error) throw new Error(`${where}: ${addon.message}`);
  const { isa, vnni } = addon.int8Info();
  const net = withBackend(new MetaBackend(), () => createModel(cfg.arch, { classes: cfg.classes, inChannels: cfg.inChannels, activation: cfg.activation }));
  const g = quantGraph(net, where);
  const r = new Int8Reader(w, where);
  // Without VNNI oneDNN's int8 kernels saturate pairs of u8*s8 products at 16 bits: narrow 8-bit weights.
  const narrow = w.info.weightBits === 8 && !vnni;
  const notice = narrow
    ? `note: this CPU has no VNNI (oneDNN ISA ${isa}); its int8 kernels need 7-bit weights, so the 8-bit weights were requantized to 7 bits (quantize with --weight-bits 7 to avoid the double rounding)`
    : null;
  const weights = (name: string, shape: Shape): { q: Int8Array; scale: Float32Array } => {
    const q = { q: r.s8(`${name}.weight`, shape), scale: r.f32(`${name}.weight_scale`, [shape[0]]) };
    return narrow ? narrowTo7Bits(q) : q;
  };
  const qconv = (name: string, shape: Shape, stride: number, pad: number, sIn: number, out: { sOut: number; bias: Float32Array } | 'sum' | 'f32'): QConvDesc => {
    const o = shape[0];
    const wq = weights(name, shape);
    const outputScales = new Float32Array(o);
    const bias = new Float32Array(o);
    for (let c = 0; c < o; c++) {
      const acc = sIn * wq.scale[c]; // real value of one accumulator unit
      if (typeof out === 'object') {
        outputScales[c] = acc / out.sOut;
        bias[c] = out.bias[c] / acc;
      } else {
        outputScales[c] = acc;
      }
    }
    return {
      shape: [shape[0], shape[1], shape[2], shape[3]], weights: wq.q, bias, outputScales, stride, pad,
      relu: typeof out === 'object', u8Out: typeof out === 'object', sum: out === 'sum',
    };
  };
  const blocks: QBlockDesc[] = g.blocks.map((b) => {
    const c = b.bns[0].channels;
    const inScale = r.scale(pointName(b.prefix, 0));
    const convs = b.convs.map((conv, i) => {
      const name = `${b.prefix}.conv${i + 1}`;
      const sIn = r.scale(pointName(b.prefix, i));
      const last = i + 1 === b.convs.length;
      const out = last ? 'sum' as const : { sOut: r.scale(pointName(b.prefix, i + 1)), bias: r.f32(`${name}.bias`, [conv.outChannels]) };
      return qconv(name, conv.weight.shape, conv.stride, conv.padding, sIn, out);
    });
    const sc = b.shortcut;
    return {
      bnA: r.f32(`${b.prefix}.bn1.scale`, [c]), bnB: r.f32(`${b.prefix}.bn1.shift`, [c]), inScale, convs,
      shortcut: sc ? qconv(`${b.prefix}.shortcut`, sc.weight.shape, sc.stride, sc.padding, inScale, 'f32') : null,
    };
  });
  const k = g.head.channels;
  const handle = addon.int8NetCreate({
    stem: { shape: g.stem.weight.shape, weights: r.f32('conv1.weight', g.stem.weight.shape), stride: g.stem.stride, pad: g.stem.padding },
    blocks,
    headA: r.f32('bn.scale', [k]), headB: r.f32('bn.shift', [k]),
    fcW: r.f32('fc.weight', [cfg.classes, k]), fcB: r.f32('fc.bias', [cfg.classes]), classes: cfg.classes,
  });
  withBackend(new MetaBackend(), () => net.dispose());
  return new Int8Model(net.config, addon, handle, isa, narrow ? 7 : w.info.weightBits, notice);
}
