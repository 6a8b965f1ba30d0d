/**
 * The Open Inference Protocol (KServe V2) REST subset `wrn serve` speaks: model metadata, and the
 * infer request/response for one FP32 input tensor `input` [N, C, H, W] and one output `logits` [N, K],
 * with the classification extension (`parameters: { classification: k }`, Triton-style
 * "score:index:label" strings, where score is the logit as Triton reports the output value).
 */
import type { ModelMeta } from '../inference/modelMeta.js';
import { HttpError } from './httpError.js';

export interface ModelInfo {
  name: string;
  meta: ModelMeta;
  maxBatch: number;
  backend: string;
}

export function modelMetadata(m: ModelInfo): object {
  const { inChannels: c, inputSize: s, classes } = m.meta;
  return {
    name: m.name,
    versions: ['1'],
    platform: 'wide-resnet',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, c, s, s] }],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, classes] }],
    parameters: {
      arch: m.meta.arch,
      labels: m.meta.labels,
      mean: m.meta.mean,
      std: m.meta.std,
      max_batch_size: m.maxBatch,
      backend: m.backend,
    },
  };
}

export interface InferRequest {
  id?: string;
  x: Float32Array;
  rows: number;
  /** Top-k classification strings instead of logits (0 = logits). */
  classification: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates an infer request body against the model; every failure is a 400 naming the field. */
export function parseInferRequest(body: unknown, m: ModelInfo): InferRequest {
  const { inChannels: c, inputSize: s, classes } = m.meta;
  const expected = `[N,${c},${s},${s}] with N in 1..${m.maxBatch}`;
  if (!isObject(body)) throw new HttpError(400, 'request body: expected a JSON object with "inputs"');
  if (body.id !== undefined && typeof body.id !== 'string') throw new HttpError(400, '"id": expected a string');
  if (!Array.isArray(body.inputs) || body.inputs.length !== 1) throw new HttpError(400, `"inputs": expected an array of exactly one tensor named "input", FP32 ${expected}`);
  const t: unknown = body.inputs[0];
  if (!isObject(t)) throw new HttpError(400, '"inputs[0]": expected an object with name, shape, datatype and data');
  if (t.name !== 'input') throw new HttpError(400, `"inputs[0].name" is ${JSON.stringify(t.name)}, expected "input"`);
  if (t.datatype !== 'FP32') throw new HttpError(400, `"inputs[0].datatype" is ${JSON.stringify(t.datatype)}, expected "FP32"`);
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d))
    || shape[1] !== c || shape[2] !== s || shape[3] !== s || shape[0] < 1 || shape[0] > m.maxBatch) {
    throw new HttpError(400, `"inputs[0].shape" is ${JSON.stringify(shape)}, expected ${expected}`);
  }
  const rows = shape[0] as number;
  const count = rows * c * s * s;
  const x = new Float32Array(count);
  const filled = flatten(t.data, x, 0);
  if (filled !== count) throw new HttpError(400, `"inputs[0].data" holds ${filled < 0 ? 'something other than numbers' : `${filled} numbers`}, expected ${count} finite numbers (shape ${JSON.stringify(shape)}, row-major, flat or nested)`);
  const classification = classificationOf(body, classes);
  return { id: body.id as string | undefined, x, rows, classification };
}

/**
 * Copies a flat or nested array of finite numbers into `out` from `at`; returns the count written, or
 * -1 on a non-number (or more values than fit, so that memory stays bounded by the declared shape).
 */
function flatten(v: unknown, out: Float32Array, at: number): number {
  if (!Array.isArray(v)) return -1;
  let n = 0;
  for (const e of v) {
    if (typeof e === 'number') {
      if (!Number.isFinite(e) || at + n >= out.length) return -1;
      out[at + n++] = e;
    } else {
      const k = flatten(e, out, at + n);
      if (k < 0) return -1;
      n += k;
    }
  }
  return n;
}

/** k from the request's or the "logits" output's `parameters.classification` (Triton puts it on the output). */
function classificationOf(body: Record<string, unknown>, classes: number): number {
  let k: unknown;
  if (isObject(body.parameters) && body.parameters.classification !== undefined) k = body.parameters.classification;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw new HttpError(400, '"outputs": expected an array of requested outputs');
    for (const [i, o] of body.outputs.entries()) {
      if (!isObject(o) || o.name !== 'logits') throw new HttpError(400, `"outputs[${i}].name": expected "logits", the model's only output`);
      if (isObject(o.parameters) && o.parameters.classification !== undefined) k = o.parameters.classification;
    }
  }
  if (k === undefined) return 0;
  if (!Number.isInteger(k) || (k as number) < 1 || (k as number) > classes) {
    throw new HttpError(400, `"parameters.classification" is ${JSON.stringify(k)}, expected an integer in 1..${classes}`);
  }
  return k as number;
}

/** The infer response: logits [N, K] FP32, or with classification k, [N, k] BYTES "score:index:label". */
export function inferResponse(m: ModelInfo, req: InferRequest, logits: Float32Array): object {
  const K = m.meta.classes;
  const output = req.classification === 0
    ? { name: 'logits', datatype: 'FP32', shape: [req.rows, K], data: Array.from(logits) }
    : { name: 'logits', datatype: 'BYTES', shape: [req.rows, req.classification], data: classify(logits, req.rows, K, req.classification, m.meta.labels) };
  return { model_name: m.name, model_version: '1', ...(req.id !== undefined ? { id: req.id } : {}), outputs: [output] };
}

function classify(logits: Float32Array, rows: number, K: number, k: number, labels: readonly string[]): string[] {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * K, (r + 1) * K);
    const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, k);
    for (const i of order) out.push(`${row[i]}:${i}:${labels[i]}`);
  }
  return out;
}
