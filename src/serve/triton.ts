/**
 * A Triton Inference Server model repository for an exported model: NAME/config.pbtxt (onnxruntime
 * platform, dims without the batch dimension, dynamic batching, labels), NAME/1/model.onnx (with a
 * symbolic batch dimension) and NAME/labels.txt (for Triton's classification extension). The same
 * Open Inference Protocol client that talks to `wrn serve` then talks to Triton.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ModelMeta } from '../inference/modelMeta.js';

export interface TritonOptions {
  name: string;
  maxBatch: number;
  /** Triton's max_queue_delay_microseconds, from milliseconds. */
  windowMs: number;
}

export function tritonConfig(meta: ModelMeta, o: TritonOptions): string {
  const { inChannels: c, inputSize: s, classes } = meta;
  return `# Triton model configuration written by wide-resnet (${meta.arch})
name: "${o.name}"
platform: "onnxruntime_onnx"
max_batch_size: ${o.maxBatch}
input [
  {
    name: "input"
    data_type: TYPE_FP32
    dims: [ ${c}, ${s}, ${s} ]
  }
]
output [
  {
    name: "logits"
    data_type: TYPE_FP32
    dims: [ ${classes} ]
    label_filename: "labels.txt"
  }
]
dynamic_batching {
  max_queue_delay_microseconds: ${Math.round(o.windowMs * 1000)}
}
instance_group [ { kind: KIND_CPU, count: 1 } ]
`;
}

/** Writes DIR/NAME/{config.pbtxt, labels.txt, 1/model.onnx}; returns the paths written. */
export function writeTritonRepository(dir: string, onnx: Uint8Array, meta: ModelMeta, o: TritonOptions): string[] {
  const modelDir = path.join(dir, o.name);
  mkdirSync(path.join(modelDir, '1'), { recursive: true });
  const files = {
    config: path.join(modelDir, 'config.pbtxt'),
    labels: path.join(modelDir, 'labels.txt'),
    onnx: path.join(modelDir, '1', 'model.onnx'),
  };
  writeFileSync(files.config, tritonConfig(meta, o));
  writeFileSync(files.labels, `${meta.labels.join('\n')}\n`);
  writeFileSync(files.onnx, onnx);
  return Object.values(files);
}
