/**
 * onnxruntime-node for the suites that run our exported graphs through it: the few types they use, and
 * the module itself, or null when it is not installed (those tests then skip, saying so).
 */
import { createRequire } from 'node:module';

export interface OrtTensor { data: Float32Array; dims: readonly number[] }
export interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
  inputNames: string[];
  outputNames: string[];
}
export interface Ort {
  InferenceSession: { create(p: string): Promise<OrtSession> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
}

export const ort = ((): Ort | null => {
  try {
    return createRequire(import.meta.url)('onnxruntime-node') as Ort;
  } catch {
    return null;
  }
})();
