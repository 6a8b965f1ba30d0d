import type { Rng } from '../core/random.js';

/** Kaiming-normal (He) init, mode fan_out, gain sqrt(2) for ReLU: what WRN and torchvision use for convs. */
export function kaimingNormalFanOut(shape: readonly number[], rng: Rng): Float32Array {
  const [o, , kh = 1, kw = 1] = shape;
  const std = Math.sqrt(2 / (o * kh * kw));
  return filled(shape, () => rng.normal() * std);
}

/** PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)). */
export function linearDefault(shape: readonly number[], fanIn: number, rng: Rng): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return filled(shape, () => (rng.next() * 2 - 1) * bound);
}

export function constant(shape: readonly number[], value: number): Float32Array {
  return filled(shape, () => value);
}

function filled(shape: readonly number[], f: () => number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}
