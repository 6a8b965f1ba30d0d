/**
 * Weight quantization: per-output-channel symmetric s8 (zero point 0), and the inference BN that folds
 * into the convolution before it. Without VNNI, oneDNN's int8 kernels add pairs of u8*s8 products in
 * 16 bits with saturation (vpmaddubsw), so weights must stay within 7 bits there (|q| <= 63), as oneDNN
 * documents; with VNNI the full 8 bits (|q| <= 127) are exact.
 */

export type WeightBits = 7 | 8;

export function qmaxOf(bits: WeightBits): number {
  return bits === 8 ? 127 : 63;
}

/** Inference BN as y = x * a + b per channel. */
export interface Affine {
  a: Float32Array;
  b: Float32Array;
}

export function bnAffine(gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array, eps: number): Affine {
  const c = gamma.length;
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    a[i] = gamma[i] / Math.sqrt(variance[i] + eps);
    b[i] = beta[i] - mean[i] * a[i];
  }
  return { a, b };
}

/** Folds a BN that follows a bias-free conv into it: W'[o] = W[o] * a[o], bias[o] = b[o]. */
export function foldBn(w: Float32Array, outChannels: number, bn: Affine): { w: Float32Array; bias: Float32Array } {
  const per = w.length / outChannels;
  const out = new Float32Array(w.length);
  for (let o = 0; o < outChannels; o++) {
    for (let j = 0; j < per; j++) out[o * per + j] = w[o * per + j] * bn.a[o];
  }
  return { w: out, bias: Float32Array.from(bn.b) };
}

export interface QuantizedWeights {
  q: Int8Array;
  /** Per output channel: real weight = q * scale. */
  scale: Float32Array;
}

/** Per-output-channel symmetric quantization to |q| <= qmax (an all-zero channel gets scale 1). */
export function quantizeWeights(w: Float32Array, outChannels: number, bits: WeightBits): QuantizedWeights {
  const qmax = qmaxOf(bits);
  const per = w.length / outChannels;
  const q = new Int8Array(w.length);
  const scale = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let m = 0;
    for (let j = 0; j < per; j++) m = Math.max(m, Math.abs(w[o * per + j]));
    const s = m > 0 ? m / qmax : 1;
    scale[o] = s;
    for (let j = 0; j < per; j++) q[o * per + j] = Math.max(-qmax, Math.min(qmax, Math.round(w[o * per + j] / s)));
  }
  return { q, scale };
}

/** 8-bit weights narrowed to 7 bits for a CPU without VNNI (scale grows by 127/63). */
export function narrowTo7Bits(w: QuantizedWeights): QuantizedWeights {
  const k = 63 / 127;
  const q = new Int8Array(w.q.length);
  for (let i = 0; i < q.length; i++) q[i] = Math.max(-63, Math.min(63, Math.round(w.q[i] * k)));
  return { q, scale: w.scale.map((s) => s / k) };
}

export function dequantize(w: QuantizedWeights): Float32Array {
  const per = w.q.length / w.scale.length;
  return Float32Array.from(w.q, (v, i) => v * w.scale[Math.floor(i / per)]);
}
