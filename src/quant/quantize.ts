/**
 * Post-training static quantization of a pre-activation network into `Int8Weights`: per-output-channel
 * symmetric s8 weights with every BN that follows a conv inside a block folded into it (bn2 into conv1,
 * ...), u8 activation scales from calibration, bn1 of each block kept as an affine applied in the
 * quantization pass (it follows the residual add and feeds the shortcut, so it cannot fold), and the
 * stem conv and head in fp32.
 */
import type { Shape } from '../backend/backend.js';
import type { Tensor } from '../core/tensor.js';
import type { BatchNorm2d } from '../nn/layers.js';
import type { CalibrationMethod } from './calibration.js';
import type { CalibrationResult } from './calibrate.js';
import { FLOAT_LAYERS, pointName, type QuantGraph } from './graph.js';
import { bnAffine, foldBn, quantizeWeights, type Affine, type WeightBits } from './weights.js';

export type QTensor = { shape: Shape; data: Float32Array } | { shape: Shape; data: Int8Array };

/** What an int8 weights file holds. */
export interface Int8Weights {
  tensors: Map<string, QTensor>;
  info: QuantInfo;
}

export interface QuantInfo {
  method: CalibrationMethod;
  percentile?: number;
  weightBits: WeightBits;
  /** Quantization step of each u8 activation point (zero point 0). */
  activationScales: Record<string, number>;
  calibration: { data: string; split: string; images: number; seed: number };
  floatLayers: Record<string, string>;
  source?: string;
}

function host(t: Tensor): Float32Array {
  return t.toArray();
}

function affine(bn: BatchNorm2d): Affine {
  return bnAffine(host(bn.weight), host(bn.bias), host(bn.runningMean), host(bn.runningVar), bn.eps);
}

export interface QuantizeOptions {
  method: CalibrationMethod;
  percentile?: number;
  weightBits: WeightBits;
  calibration: { data: string; split: string; seed: number };
  source?: string;
}

export function quantizeGraph(g: QuantGraph, cal: CalibrationResult, o: QuantizeOptions): Int8Weights {
  const t = new Map<string, QTensor>();
  t.set('conv1.weight', { shape: g.stem.weight.shape, data: host(g.stem.weight) });
  for (const b of g.blocks) {
    const bn1 = affine(b.bns[0]);
    t.set(`${b.prefix}.bn1.scale`, { shape: [bn1.a.length], data: bn1.a });
    t.set(`${b.prefix}.bn1.shift`, { shape: [bn1.b.length], data: bn1.b });
    b.convs.forEach((conv, i) => {
      const name = `${b.prefix}.conv${i + 1}`;
      const shape = conv.weight.shape;
      let w = host(conv.weight);
      if (i + 1 < b.convs.length) {
        const folded = foldBn(w, shape[0], affine(b.bns[i + 1]));
        w = folded.w;
        t.set(`${name}.bias`, { shape: [shape[0]], data: folded.bias });
      }
      const q = quantizeWeights(w, shape[0], o.weightBits);
      t.set(`${name}.weight`, { shape, data: q.q });
      t.set(`${name}.weight_scale`, { shape: [shape[0]], data: q.scale });
      if (cal.scales[pointName(b.prefix, i)] === undefined) throw new Error(`calibration: no scale for ${pointName(b.prefix, i)}`);
    });
    if (b.shortcut) {
      const shape = b.shortcut.weight.shape;
      const q = quantizeWeights(host(b.shortcut.weight), shape[0], o.weightBits);
      t.set(`${b.prefix}.shortcut.weight`, { shape, data: q.q });
      t.set(`${b.prefix}.shortcut.weight_scale`, { shape: [shape[0]], data: q.scale });
    }
  }
  const head = affine(g.head);
  t.set('bn.scale', { shape: [head.a.length], data: head.a });
  t.set('bn.shift', { shape: [head.b.length], data: head.b });
  t.set('fc.weight', { shape: g.fc.weight.shape, data: host(g.fc.weight) });
  t.set('fc.bias', { shape: g.fc.bias.shape, data: host(g.fc.bias) });
  return {
    tensors: t,
    info: {
      method: o.method,
      ...(o.method === 'percentile' ? { percentile: o.percentile ?? 99.99 } : {}),
      weightBits: o.weightBits,
      activationScales: cal.scales,
      calibration: { ...o.calibration, images: cal.images },
      floatLayers: { ...FLOAT_LAYERS },
      ...(o.source ? { source: o.source } : {}),
    },
  };
}
