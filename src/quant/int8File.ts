/**
 * The int8 weights file: safetensors with s8 weights (I8), their per-channel scales and the fp32 layers
 * as tensors, and in `__metadata__` the model's own metadata plus how it was quantized: scheme, weight
 * bits, activation scales and zero points per point, calibration method and set, layers kept in fp32.
 */
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { metaFromStrings, metaToStrings, type ModelMeta } from '../inference/modelMeta.js';
import { CALIBRATION_METHODS, type CalibrationMethod } from './calibration.js';
import type { Int8Weights, QTensor, QuantInfo } from './quantize.js';

export const INT8_FORMAT = 'int8-static/1';

/** True when a safetensors header's metadata says the file holds int8 weights. */
export function isInt8Metadata(m: Record<string, string>): boolean {
  return m.quantization !== undefined;
}

export function writeInt8Weights(file: string, w: Int8Weights, meta: ModelMeta): void {
  const q = w.info;
  const zeroPoints = Object.fromEntries(Object.keys(q.activationScales).map((k) => [k, 0]));
  const metadata: Record<string, string> = {
    ...metaToStrings(meta),
    quantization: INT8_FORMAT,
    weight_scheme: 'per-output-channel symmetric s8, zero point 0; scales in the <layer>.weight_scale tensors',
    weight_bits: String(q.weightBits),
    activation_scheme: 'u8 after ReLU, zero point 0, one scale per activation (named after the conv that reads it)',
    activation_scales: JSON.stringify(q.activationScales),
    activation_zero_points: JSON.stringify(zeroPoints),
    calibration_method: q.method,
    ...(q.percentile !== undefined ? { calibration_percentile: String(q.percentile) } : {}),
    calibration_set: JSON.stringify(q.calibration),
    float_layers: JSON.stringify(q.floatLayers),
    ...(q.source ? { source_weights: q.source } : {}),
  };
  const tensors = new Map<string, TensorToWrite>();
  for (const [k, t] of w.tensors) tensors.set(k, { shape: t.shape, data: t.data });
  writeSafetensors(file, tensors, metadata);
}

function parseJson(file: string, field: string, text: string | undefined): unknown {
  if (text === undefined) throw new Error(`${file}: int8 metadata field '${field}' is missing (expected a file written by wrn quantize)`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${file}: int8 metadata field '${field}' is not valid JSON`);
  }
}

function quantInfo(file: string, m: Record<string, string>): QuantInfo {
  if (m.quantization !== INT8_FORMAT) throw new Error(`${file}: quantization '${m.quantization}' is not supported (expected ${INT8_FORMAT})`);
  const bits = Number(m.weight_bits);
  if (bits !== 7 && bits !== 8) throw new Error(`${file}: metadata field 'weight_bits' is '${m.weight_bits}', expected 7 or 8`);
  const method = m.calibration_method as CalibrationMethod;
  if (!CALIBRATION_METHODS.includes(method)) throw new Error(`${file}: metadata field 'calibration_method' is '${m.calibration_method}', expected one of ${CALIBRATION_METHODS.join(', ')}`);
  const scales = parseJson(file, 'activation_scales', m.activation_scales);
  if (typeof scales !== 'object' || scales === null || !Object.values(scales).every((v) => typeof v === 'number' && v > 0 && Number.isFinite(v))) {
    throw new Error(`${file}: metadata field 'activation_scales' must map activation names to positive numbers`);
  }
  const zps = parseJson(file, 'activation_zero_points', m.activation_zero_points);
  if (typeof zps !== 'object' || zps === null || !Object.values(zps).every((v) => v === 0)) {
    throw new Error(`${file}: metadata field 'activation_zero_points': only zero points of 0 are supported (u8 after ReLU)`);
  }
  return {
    method,
    ...(m.calibration_percentile !== undefined ? { percentile: Number(m.calibration_percentile) } : {}),
    weightBits: bits,
    activationScales: scales as Record<string, number>,
    calibration: parseJson(file, 'calibration_set', m.calibration_set) as QuantInfo['calibration'],
    floatLayers: parseJson(file, 'float_layers', m.float_layers ?? '{}') as Record<string, string>,
    ...(m.source_weights ? { source: m.source_weights } : {}),
  };
}

/** Reads an int8 weights file (one clear line on anything missing or malformed). */
export function readInt8Weights(file: string): { weights: Int8Weights; meta: Partial<ModelMeta> } {
  const f = readSafetensors(file);
  const info = quantInfo(file, f.metadata);
  const tensors = new Map<string, QTensor>();
  for (const [k, t] of f.tensors) {
    if (t.data instanceof Int8Array || t.data instanceof Float32Array) tensors.set(k, { shape: t.shape, data: t.data } as QTensor);
    else throw new Error(`${file}: tensor '${k}' has dtype ${t.dtype}, expected I8 weights or F32/F16/BF16 values`);
  }
  return { weights: { tensors, info }, meta: metaFromStrings(f.metadata, file) };
}
