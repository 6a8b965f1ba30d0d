import { MetaBackend } from '../backend/meta.js';
import { withBackend } from '../core/engine.js';
import { canonicalArch, createModel, parseArch } from '../models/registry.js';
import { summarize } from '../models/summary.js';
import { BLOCK_TYPES } from '../models/wideResNet.js';

/** One configuration that `wrn plan` considers. */
export interface Candidate {
  /** Canonical registry name (createModel accepts it). */
  arch: string;
  family: 'wrn' | 'preact';
  depth: number;
  /** Widening factor k (1 for the thin pre-activation ResNets). */
  widen: number;
  /** Block type: b33, b313, ... for WRNs; basic / bottleneck for the pre-activation ResNets. */
  block: string;
  params: number;
  /** Multiply-accumulates per image (forward). */
  macs: number;
  /** Training activation memory per image, bytes (fp32), as `wrn summary` counts it. */
  activationBytes: number;
}

export interface EnumerateOptions {
  /** WRN block types (default ['b33']). */
  blocks?: string[];
  /** Largest N in depth 6N+4 (default 20: depths 10 ... 124). */
  maxN?: number;
  /** Largest widening factor (default 12). */
  maxWidth?: number;
  inputSize?: number;
  inChannels?: number;
  classes?: number;
  /** Include the thin pre-activation ResNet baselines (default true). */
  baselines?: boolean;
}

/** He et al.'s pre-activation ResNets for CIFAR that the WRN paper compares against. */
export const PREACT_BASELINES = ['preact-resnet-20', 'preact-resnet-32', 'preact-resnet-44', 'preact-resnet-56', 'preact-resnet-110',
  'preact-resnet-164', 'preact-resnet-1001'] as const;

/** Exact counts of one architecture, built on the shapes-only backend (nothing is allocated). */
export function countArch(arch: string, o: { inputSize?: number; inChannels?: number; classes?: number } = {}): Candidate {
  const p = parseArch(arch);
  if (p.family === 'imagenet') throw new Error(`${arch}: wrn plan considers the CIFAR-style WRNs and pre-activation ResNets only`);
  const model = withBackend(new MetaBackend(), () => createModel(arch, { classes: o.classes ?? 10, inChannels: o.inChannels ?? 3 }));
  const s = summarize(model, o.inputSize ?? 32);
  return {
    arch: canonicalArch(arch),
    family: p.family,
    depth: p.depth,
    widen: p.family === 'wrn' ? p.widen : 1,
    block: p.family === 'wrn' ? p.block : p.kind,
    params: s.params,
    macs: s.macs,
    activationBytes: s.activationBytes,
  };
}

/** All WRN-d-k (d = 6N+4, N = 1..maxN; k = 1..maxWidth; each block type) and the pre-activation baselines. */
export function enumerateCandidates(o: EnumerateOptions = {}): Candidate[] {
  const blocks = o.blocks ?? ['b33'];
  for (const b of blocks) {
    if (!(b in BLOCK_TYPES)) throw new Error(`--blocks: unknown block type '${b}', expected some of ${Object.keys(BLOCK_TYPES).join(', ')}`);
  }
  const maxN = o.maxN ?? 20;
  const maxWidth = o.maxWidth ?? 12;
  const shape = { inputSize: o.inputSize, inChannels: o.inChannels, classes: o.classes };
  const out: Candidate[] = [];
  for (const b of blocks) {
    for (let n = 1; n <= maxN; n++) {
      for (let k = 1; k <= maxWidth; k++) out.push(countArch(`wrn-${6 * n + 4}-${k}${b === 'b33' ? '' : `-${b}`}`, shape));
    }
  }
  if (o.baselines ?? true) for (const a of PREACT_BASELINES) out.push(countArch(a, shape));
  return out;
}
