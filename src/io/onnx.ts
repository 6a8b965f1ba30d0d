/**
 * ONNX export of this project's networks (WideResNet, PreActResNet, torchvision ResNets) in eval mode.
 *
 * Nodes: Conv, BatchNormalization, Relu / Sigmoid+Mul (SiLU) / Erf-based GELU 0.5*x*(1+erf(x/sqrt 2)),
 * Add, MaxPool, GlobalAveragePool + Flatten, Gemm. Dropout is the identity at inference and is left out.
 * Weights are initializers named as in the state dict; the graph input is `input` [N, C, H, W] float32 and
 * the output `logits` [N, classes]. N is a symbolic `batch` dimension with `dynamicBatch`, else fixed.
 * Metadata (arch, classes, in_channels, input size, mean/std, labels, ...) goes into metadata_props.
 *
 * Serialisation uses protobufjs with the subset of the ONNX schema (onnx/onnx.proto, IR version 8+) that a
 * model needs, declared below with the official field numbers; test/io/onnx-schema.test.ts checks every
 * declared field (number, type, repeatedness) against the official onnx.proto in CI. (The generated
 * `onnx-proto` package writes byte-identical files but brings a second, older protobufjs major and a
 * schema frozen at ONNX 1.10.2.)
 */
import * as fs from 'node:fs';
import protobuf from 'protobufjs';
import type { Activation } from '../backend/backend.js';
import type { Tensor } from '../core/tensor.js';
import { BatchNorm2d, Conv2d, Dropout, GlobalAvgPool, Linear, MaxPool2d, Sequential, Act } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import type { Network } from '../models/network.js';
import { PreActBlock } from '../models/preactBlock.js';
import { PreActResNet } from '../models/preactResNet.js';
import { Bottleneck, TorchvisionResNet } from '../models/torchvisionResNet.js';
import { WideResNet } from '../models/wideResNet.js';

export class OnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

// ---------------------------------------------------------------------------------------------
// Schema (subset of onnx.proto; field numbers as in the official schema)

const f = (type: string, id: number, rule?: 'repeated'): { type: string; id: number; rule?: string; options?: object } =>
  rule ? { type, id, rule, ...(isPackable(type) ? { options: { packed: true } } : {}) } : { type, id };

function isPackable(t: string): boolean {
  return ['int64', 'int32', 'float', 'double', 'uint64'].includes(t);
}

/** The subset of onnx.proto this exporter writes (field numbers as in the official schema). */
export const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            ir_version: f('int64', 1), opset_import: f('OperatorSetIdProto', 8, 'repeated'), producer_name: f('string', 2),
            producer_version: f('string', 3), domain: f('string', 4), model_version: f('int64', 5), doc_string: f('string', 6),
            graph: f('GraphProto', 7), metadata_props: f('StringStringEntryProto', 14, 'repeated'),
          },
        },
        OperatorSetIdProto: { fields: { domain: f('string', 1), version: f('int64', 2) } },
        StringStringEntryProto: { fields: { key: f('string', 1), value: f('string', 2) } },
        GraphProto: {
          fields: {
            node: f('NodeProto', 1, 'repeated'), name: f('string', 2), initializer: f('TensorProto', 5, 'repeated'),
            doc_string: f('string', 10), input: f('ValueInfoProto', 11, 'repeated'), output: f('ValueInfoProto', 12, 'repeated'),
            value_info: f('ValueInfoProto', 13, 'repeated'),
          },
        },
        NodeProto: {
          fields: {
            input: f('string', 1, 'repeated'), output: f('string', 2, 'repeated'), name: f('string', 3), op_type: f('string', 4),
            attribute: f('AttributeProto', 5, 'repeated'), doc_string: f('string', 6), domain: f('string', 7),
          },
        },
        AttributeProto: {
          fields: {
            name: f('string', 1), f: f('float', 2), i: f('int64', 3), s: f('bytes', 4), t: f('TensorProto', 5),
            floats: f('float', 7, 'repeated'), ints: f('int64', 8, 'repeated'), strings: f('bytes', 9, 'repeated'),
            doc_string: f('string', 13), type: f('int32', 20),
          },
        },
        TensorProto: {
          fields: {
            dims: f('int64', 1, 'repeated'), data_type: f('int32', 2), float_data: f('float', 4, 'repeated'),
            int64_data: f('int64', 7, 'repeated'), name: f('string', 8), raw_data: f('bytes', 9), doc_string: f('string', 12),
          },
        },
        ValueInfoProto: { fields: { name: f('string', 1), type: f('TypeProto', 2), doc_string: f('string', 3) } },
        TypeProto: {
          fields: { tensor_type: f('TypeProtoTensor', 1), denotation: f('string', 6) },
        },
        TypeProtoTensor: { fields: { elem_type: f('int32', 1), shape: f('TensorShapeProto', 2) } },
        TensorShapeProto: { fields: { dim: f('Dimension', 1, 'repeated') } },
        Dimension: { fields: { dim_value: f('int64', 1), dim_param: f('string', 2), denotation: f('string', 3) } },
      },
    },
  },
};

let modelType: protobuf.Type | null = null;
function schema(): protobuf.Type {
  if (modelType === null) modelType = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

const FLOAT = 1;
/** TensorProto data types of the initializers we write. */
export const ONNX_TYPE = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 } as const;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

interface AttrJSON { name: string; type: number; f?: number; i?: number; s?: Uint8Array; ints?: number[]; floats?: number[] }
interface NodeJSON { input: string[]; output: string[]; name: string; op_type: string; attribute: AttrJSON[] }
interface TensorJSON { name: string; dims: number[]; data_type: number; raw_data: Uint8Array }

/** Decodes a serialised ModelProto into plain objects (tests, inspection). */
export function decodeOnnx(bytes: Uint8Array): Record<string, unknown> {
  const t = schema();
  return t.toObject(t.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Graph building

export const ints = (name: string, v: number[]): AttrJSON => ({ name, type: ATTR.INTS, ints: v });
export const int = (name: string, v: number): AttrJSON => ({ name, type: ATTR.INT, i: v });
const float = (name: string, v: number): AttrJSON => ({ name, type: ATTR.FLOAT, f: v });

/** Nodes and initializers of one graph, with unique value names. */
export class Graph {
  readonly nodes: NodeJSON[] = [];
  readonly inits: TensorJSON[] = [];
  private readonly names = new Set<string>();
  private n = 0;

  unique(base: string): string {
    let name = base || 'v';
    while (this.names.has(name)) name = `${base}_${++this.n}`;
    this.names.add(name);
    return name;
  }

  /** `t` as a Float32Array must be a fresh array (the initializer keeps a view of it). */
  init(name: string, t: Tensor | Float32Array, shape?: readonly number[]): string {
    const data = t instanceof Float32Array ? t : t.toArray();
    const dims = [...(shape ?? (t as Tensor).shape)];
    const n = this.unique(name);
    this.inits.push({ name: n, dims, data_type: FLOAT, raw_data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
    return n;
  }

  /** An initializer of another element type (quantized weights, zero points, int32 biases). */
  typed(name: string, data: Int8Array | Uint8Array | Int32Array | Float32Array, dims: readonly number[], type: number): string {
    const n = this.unique(name);
    this.inits.push({ name: n, dims: [...dims], data_type: type, raw_data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
    return n;
  }

  scalar(name: string, v: number): string {
    return this.init(name, Float32Array.of(v), []);
  }

  node(op: string, inputs: string[], out: string, attrs: AttrJSON[] = []): string {
    const o = this.unique(out);
    this.nodes.push({ input: inputs, output: [o], name: o, op_type: op, attribute: attrs });
    return o;
  }
}

function emitActivation(g: Graph, act: Activation, x: string, path: string): string {
  switch (act) {
    case 'identity': return x;
    case 'relu': return g.node('Relu', [x], `${path}.relu`);
    case 'silu': {
      const s = g.node('Sigmoid', [x], `${path}.sigmoid`);
      return g.node('Mul', [x, s], `${path}.silu`);
    }
    case 'gelu': {
      // 0.5 * x * (1 + erf(x / sqrt 2)): the exact GELU of our kernels, from opset-1..13 primitives.
      const d = g.node('Div', [x, g.scalar(`${path}.gelu.sqrt2`, Math.SQRT2)], `${path}.gelu.div`);
      const e = g.node('Erf', [d], `${path}.gelu.erf`);
      const p = g.node('Add', [e, g.scalar(`${path}.gelu.one`, 1)], `${path}.gelu.add`);
      const m = g.node('Mul', [x, p], `${path}.gelu.mul`);
      return g.node('Mul', [m, g.scalar(`${path}.gelu.half`, 0.5)], `${path}.gelu`);
    }
  }
}

function child(m: Module, name: string): Module | null {
  return m.children().find(([n]) => n === name)?.[1] ?? null;
}

function emit(g: Graph, m: Module, x: string, path: string): string {
  const p = (name: string): string => (path ? `${path}.${name}` : name);
  if (m instanceof Conv2d) {
    const k = m.kernel;
    return g.node('Conv', [x, g.init(p('weight'), m.weight)], path, [
      ints('kernel_shape', [k, k]), ints('strides', [m.stride, m.stride]), ints('pads', [m.padding, m.padding, m.padding, m.padding]),
      ints('dilations', [1, 1]), int('group', 1),
    ]);
  }
  if (m instanceof BatchNorm2d) {
    const y = g.node('BatchNormalization', [
      x, g.init(p('weight'), m.weight), g.init(p('bias'), m.bias), g.init(p('running_mean'), m.runningMean), g.init(p('running_var'), m.runningVar),
    ], path, [float('epsilon', m.eps)]);
    return emitActivation(g, m.activation, y, path);
  }
  if (m instanceof Act) return emitActivation(g, m.kind, x, path);
  if (m instanceof Dropout) return x;
  if (m instanceof Linear) {
    return g.node('Gemm', [x, g.init(p('weight'), m.weight), g.init(p('bias'), m.bias)], path, [
      float('alpha', 1), float('beta', 1), int('transA', 0), int('transB', 1),
    ]);
  }
  if (m instanceof MaxPool2d) {
    return g.node('MaxPool', [x], path, [
      ints('kernel_shape', [m.kernel, m.kernel]), ints('strides', [m.stride, m.stride]),
      ints('pads', [m.padding, m.padding, m.padding, m.padding]),
    ]);
  }
  if (m instanceof GlobalAvgPool) {
    const y = g.node('GlobalAveragePool', [x], `${path || 'pool'}.gap`);
    return g.node('Flatten', [y], `${path || 'pool'}.flatten`, [int('axis', 1)]);
  }
  if (m instanceof PreActBlock) {
    // o = bn1(x) [fused act]; sc = shortcut(o) or x; y = conv1(o); then bn_i, [dropout], conv_i; y + sc.
    const bn1 = child(m, 'bn1');
    const conv1 = child(m, 'conv1');
    if (bn1 === null || conv1 === null) throw new OnnxExportError(`onnx export: block '${path}' has no bn1/conv1`);
    const o = emit(g, bn1, x, p('bn1'));
    const sc = m.shortcut !== null ? emit(g, m.shortcut, o, p('shortcut')) : x;
    let y = emit(g, conv1, o, p('conv1'));
    for (let i = 2; ; i++) {
      const bn = child(m, `bn${i}`);
      const conv = child(m, `conv${i}`);
      if (bn === null || conv === null) break;
      y = emit(g, conv, emit(g, bn, y, p(`bn${i}`)), p(`conv${i}`));
    }
    return g.node('Add', [y, sc], p('add'));
  }
  if (m instanceof Bottleneck) {
    let y = emit(g, m.bn1, emit(g, m.conv1, x, p('conv1')), p('bn1'));
    y = emit(g, m.bn2, emit(g, m.conv2, y, p('conv2')), p('bn2'));
    y = emit(g, m.bn3, emit(g, m.conv3, y, p('conv3')), p('bn3'));
    const sc = m.downsample !== null ? emit(g, m.downsample, x, p('downsample')) : x;
    return emitActivation(g, m.act, g.node('Add', [y, sc], p('add')), path);
  }
  if (m instanceof WideResNet || m instanceof PreActResNet) {
    let y = emit(g, m.conv1, x, p('conv1'));
    m.layers.forEach((l, i) => (y = emit(g, l, y, p(`layer${i + 1}`))));
    y = emit(g, m.bn, y, p('bn'));
    y = emit(g, m.pool, y, p('pool'));
    return emit(g, m.fc, y, p('fc'));
  }
  if (m instanceof Sequential || m instanceof TorchvisionResNet) {
    return m.children().reduce((y, [n, c]) => emit(g, c, y, p(n)), x);
  }
  throw new OnnxExportError(`onnx export: no ONNX mapping for module ${m.constructor.name} at '${path || '<root>'}'`);
}

// ---------------------------------------------------------------------------------------------
// Model

export interface OnnxExportOptions {
  /** Default opset 17; 13..21 accepted. */
  readonly opset?: number;
  /** Symbolic batch dimension 'batch' (default false: fixed `batchSize`). */
  readonly dynamicBatch?: boolean;
  /** Fixed batch size when not dynamic (default 1). */
  readonly batchSize?: number;
  /** Spatial input size (square). */
  readonly inputSize: number;
  /** Goes into metadata_props (all strings). */
  readonly metadata?: Record<string, string>;
  readonly producerVersion?: string;
  readonly docString?: string;
}

export const DEFAULT_OPSET = 17;

/** IR version that goes with an opset (onnx's versioning table). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

/** Builds the ONNX ModelProto bytes of a network (eval mode). */
export function buildOnnx(model: Network, o: OnnxExportOptions): Uint8Array {
  return build(model, o).bytes;
}

function build(model: Network, o: OnnxExportOptions): { bytes: Uint8Array; nodes: number } {
  const opset = o.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < 13 || opset > 21) throw new OnnxExportError(`onnx export: opset ${opset} not supported (expected 13..21)`);
  if (!Number.isInteger(o.inputSize) || o.inputSize < 1) throw new OnnxExportError(`onnx export: input size ${o.inputSize}, expected a positive integer`);
  const batch = o.batchSize ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new OnnxExportError(`onnx export: batch size ${batch}, expected a positive integer`);
  const wasTraining = model.training;
  model.eval();
  const g = new Graph();
  let out: string;
  try {
    const input = g.unique('input');
    out = emit(g, model, input, '');
  } finally {
    model.train(wasTraining);
  }
  const classes = model.config.classes;
  return encodeModel(g, out, { arch: model.config.arch, inChannels: model.config.inChannels, classes }, o);
}

/**
 * The ModelProto of a built graph whose input is 'input' and whose last value is `out` (named
 * 'logits' through an Identity).
 */
export function encodeModel(
  g: Graph, out: string, m: { arch: string; inChannels: number; classes: number }, o: OnnxExportOptions,
): { bytes: Uint8Array; nodes: number } {
  const opset = o.opset ?? DEFAULT_OPSET;
  const batch = o.batchSize ?? 1;
  const model = { config: m };
  const classes = m.classes;
  // Name the output 'logits' (Identity keeps the last node's own name).
  const logits = g.node('Identity', [out], 'logits');
  const bdim = o.dynamicBatch ? { dim_param: 'batch' } : { dim_value: batch };
  const s = o.inputSize;
  const vi = (name: string, dims: object[]): object => ({ name, type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims } } } });
  const meta = Object.entries(o.metadata ?? {}).map(([key, value]) => ({ key, value }));
  const obj = {
    ir_version: irVersionFor(opset),
    producer_name: 'wide-resnet',
    producer_version: o.producerVersion ?? '0.1.0',
    model_version: 1,
    doc_string: o.docString ?? `${model.config.arch} exported by wide-resnet`,
    opset_import: [{ domain: '', version: opset }],
    metadata_props: meta,
    graph: {
      name: model.config.arch,
      node: g.nodes,
      initializer: g.inits,
      input: [vi('input', [bdim, { dim_value: model.config.inChannels }, { dim_value: s }, { dim_value: s }])],
      output: [vi(logits, [bdim, { dim_value: classes }])],
    },
  };
  const t = schema();
  const err = t.verify(obj);
  if (err !== null) throw new Error(`onnx export: internal schema error: ${err}`);
  return { bytes: t.encode(t.fromObject(obj)).finish(), nodes: g.nodes.length };
}

/** Checks the options every export shares (opset, input size, batch). */
export function checkExportOptions(o: OnnxExportOptions): void {
  const opset = o.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < 13 || opset > 21) throw new OnnxExportError(`onnx export: opset ${opset} not supported (expected 13..21)`);
  if (!Number.isInteger(o.inputSize) || o.inputSize < 1) throw new OnnxExportError(`onnx export: input size ${o.inputSize}, expected a positive integer`);
  const batch = o.batchSize ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new OnnxExportError(`onnx export: batch size ${batch}, expected a positive integer`);
}

/** Writes the ONNX model to `file` atomically. */
export function exportOnnx(model: Network, file: string, o: OnnxExportOptions): { bytes: number; nodes: number } {
  return writeOnnx(file, build(model, o));
}

/** Writes encoded ModelProto bytes to `file` atomically. */
export function writeOnnx(file: string, { bytes, nodes }: { bytes: Uint8Array; nodes: number }): { bytes: number; nodes: number } {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
    throw new OnnxExportError(`${file}: write failed: ${(e as Error).message}`);
  }
  return { bytes: bytes.length, nodes };
}
