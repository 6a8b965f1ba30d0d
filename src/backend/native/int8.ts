/**
 * Bindings of the addon's int8 inference path (native/src/int8_addon.cc): a quantized pre-activation
 * network built once from host arrays, then run on float32 NCHW batches; and one quantized convolution
 * as a test hook.
 */
import { loadAddon, nativeUnavailableReason } from './addon.js';

/** One u8s8 convolution (see QConvSpec in native/src/int8.h). */
export interface QConvDesc {
  shape: readonly [number, number, number, number];
  weights: Int8Array;
  /** Per output channel, in accumulator units (already divided by input scale x weight scale). */
  bias: Float32Array;
  /** Per output channel: real value (or next quantization step) per accumulator unit. */
  outputScales: Float32Array;
  stride: number;
  pad: number;
  relu: boolean;
  u8Out: boolean;
  sum: boolean;
  /** Test hook only: what an f32 destination holds before a sum (NCHW). */
  init?: Float32Array;
}

export interface QBlockDesc {
  bnA: Float32Array;
  bnB: Float32Array;
  inScale: number;
  convs: QConvDesc[];
  shortcut: QConvDesc | null;
}

export interface Int8NetDesc {
  stem: { shape: readonly number[]; weights: Float32Array; stride: number; pad: number };
  blocks: QBlockDesc[];
  headA: Float32Array;
  headB: Float32Array;
  fcW: Float32Array;
  fcB: Float32Array;
  classes: number;
}

export interface Int8Addon {
  int8Info(): { isa: string; vnni: boolean };
  int8NetCreate(d: Int8NetDesc): number;
  int8NetForward(h: number, x: Float32Array, shape: readonly number[]): Float32Array;
  int8Conv2d(x: Uint8Array, shape: readonly number[], c: QConvDesc): Float32Array;
  free(h: number): void;
}

/** The int8 bindings, or an Error saying in one line why they are unavailable. */
export function int8Addon(): Int8Addon | Error {
  // The loader has checked the addon against kernels.def, which lists the int8 functions.
  const a = loadAddon();
  if (!a) return new Error(`int8 inference needs the oneDNN addon, which is not available (${nativeUnavailableReason() ?? 'unknown reason'})`);
  return a as unknown as Int8Addon;
}
