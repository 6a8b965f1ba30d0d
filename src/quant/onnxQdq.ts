/**
 * `wrn export --onnx` of int8 weights: a QDQ ONNX graph (QuantizeLinear/DequantizeLinear around every
 * int8 convolution: u8 activations with zero point 0, s8 per-channel weights with axis 0, int32 biases),
 * which onnxruntime turns into its own integer kernels. The same numbers as our int8 path: fp32 stem and
 * head, bn1 as Mul/Add/Relu before each block's quantization, ReLU and next BN folded into conv1, the
 * residual added in fp32.
 */
import { MetaBackend } from '../backend/meta.js';
import { withBackend } from '../core/engine.js';
import { checkExportOptions, encodeModel, Graph, int, ints, ONNX_TYPE, type OnnxExportOptions } from '../io/onnx.js';
import { createModel } from '../models/registry.js';
import type { Shape } from '../backend/backend.js';
import { pointName, quantGraph } from './graph.js';
import { Int8Reader, type Int8ModelConfig } from './int8Model.js';
import type { Int8Weights } from './quantize.js';

export function buildQdqOnnx(w: Int8Weights, cfg: Int8ModelConfig, where: string, o: OnnxExportOptions): { bytes: Uint8Array; nodes: number } {
  checkExportOptions(o);
  const net = withBackend(new MetaBackend(), () => createModel(cfg.arch, { classes: cfg.classes, inChannels: cfg.inChannels, activation: cfg.activation }));
  try {
    const q = quantGraph(net, where);
    const r = new Int8Reader(w, where);
    const g = new Graph();
    const u8zero = g.typed('zp_u8', new Uint8Array(1), [], ONNX_TYPE.UINT8);

    const qdq = (x: string, scale: number, name: string): string => {
      const s = g.scalar(`${name}.scale`, scale);
      const qv = g.node('QuantizeLinear', [x, s, u8zero], `${name}.q`);
      return g.node('DequantizeLinear', [qv, s, u8zero], `${name}.dq`);
    };
    const affineRelu = (x: string, a: Float32Array, b: Float32Array, name: string): string => {
      const c = a.length;
      const m = g.node('Mul', [x, g.init(`${name}.scale`, Float32Array.from(a), [1, c, 1, 1])], `${name}.mul`);
      const ad = g.node('Add', [m, g.init(`${name}.shift`, Float32Array.from(b), [1, c, 1, 1])], `${name}.add`);
      return g.node('Relu', [ad], `${name}.relu`);
    };
    /** Conv on a dequantized u8 input with DQ(s8 weights, per channel) and an optional DQ(int32 bias). */
    const qconv = (x: string, name: string, shape: Shape, stride: number, pad: number, sIn: number, bias: Float32Array | null): string => {
      const o = shape[0];
      const wq = r.s8(`${name}.weight`, shape);
      const ws = r.f32(`${name}.weight_scale`, [o]);
      const wInit = g.typed(`${name}.weight_q`, wq, shape, ONNX_TYPE.INT8);
      const wScale = g.init(`${name}.weight_scale`, Float32Array.from(ws), [o]);
      const wZero = g.typed(`${name}.weight_zp`, new Int8Array(o), [o], ONNX_TYPE.INT8);
      const wd = g.node('DequantizeLinear', [wInit, wScale, wZero], `${name}.weight`, [int('axis', 0)]);
      const inputs = [x, wd];
      if (bias) {
        const bs = Float32Array.from(ws, (s) => s * sIn);
        const bq = Int32Array.from(bias, (b, i) => Math.round(b / bs[i]));
        const bd = g.node('DequantizeLinear', [
          g.typed(`${name}.bias_q`, bq, [o], ONNX_TYPE.INT32), g.init(`${name}.bias_scale`, bs, [o]), g.typed(`${name}.bias_zp`, new Int32Array(o), [o], ONNX_TYPE.INT32),
        ], `${name}.bias`, [int('axis', 0)]);
        inputs.push(bd);
      }
      return g.node('Conv', inputs, name, [ints('kernel_shape', [shape[2], shape[3]]), ints('strides', [stride, stride]), ints('pads', [pad, pad, pad, pad])]);
    };

    const st = q.stem;
    let h = g.node('Conv', [g.unique('input'), g.init('conv1.weight', Float32Array.from(r.f32('conv1.weight', st.weight.shape)), st.weight.shape)], 'conv1', [
      ints('kernel_shape', [st.kernel, st.kernel]), ints('strides', [st.stride, st.stride]), ints('pads', [st.padding, st.padding, st.padding, st.padding]),
    ]);
    for (const b of q.blocks) {
      const c = b.bns[0].channels;
      const sIn = r.scale(pointName(b.prefix, 0));
      const o = qdq(affineRelu(h, r.f32(`${b.prefix}.bn1.scale`, [c]), r.f32(`${b.prefix}.bn1.shift`, [c]), `${b.prefix}.bn1`), sIn, `${b.prefix}.conv1.input`);
      const sc = b.shortcut ? qconv(o, `${b.prefix}.shortcut`, b.shortcut.weight.shape, b.shortcut.stride, b.shortcut.padding, sIn, null) : h;
      let y = o;
      b.convs.forEach((conv, i) => {
        const name = `${b.prefix}.conv${i + 1}`;
        const s = r.scale(pointName(b.prefix, i));
        if (i + 1 < b.convs.length) {
          const z = g.node('Relu', [qconv(y, name, conv.weight.shape, conv.stride, conv.padding, s, r.f32(`${name}.bias`, [conv.outChannels]))], `${name}.relu`);
          y = qdq(z, r.scale(pointName(b.prefix, i + 1)), `${b.prefix}.conv${i + 2}.input`);
        } else {
          y = qconv(y, name, conv.weight.shape, conv.stride, conv.padding, s, null);
        }
      });
      h = g.node('Add', [y, sc], `${b.prefix}.add`);
    }
    const k = q.head.channels;
    const pooled = g.node('GlobalAveragePool', [affineRelu(h, r.f32('bn.scale', [k]), r.f32('bn.shift', [k]), 'bn')], 'pool');
    const flat = g.node('Flatten', [pooled], 'flatten', [int('axis', 1)]);
    const logits = g.node('Gemm', [flat, g.init('fc.weight', Float32Array.from(r.f32('fc.weight', [cfg.classes, k])), [cfg.classes, k]),
      g.init('fc.bias', Float32Array.from(r.f32('fc.bias', [cfg.classes])), [cfg.classes])], 'fc', [int('transB', 1)]);
    return encodeModel(g, logits, { arch: cfg.arch, inChannels: cfg.inChannels, classes: cfg.classes }, o);
  } finally {
    withBackend(new MetaBackend(), () => net.dispose());
  }
}
