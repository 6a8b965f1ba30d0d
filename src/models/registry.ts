import type { Activation } from '../backend/backend.js';
import { Rng } from '../core/random.js';
import { FeatureExtractor } from './features.js';
import type { Network } from './network.js';
import { defaultKind, PreActResNet, type PreActKind } from './preactResNet.js';
import { TorchvisionResNet } from './torchvisionResNet.js';
import { BLOCK_TYPES, WideResNet } from './wideResNet.js';

export interface ModelOptions {
  classes?: number;
  inChannels?: number;
  dropout?: number;
  activation?: Activation;
  /** Seed of the weight init (and of the dropout masks). */
  seed?: number;
  rng?: Rng;
}

/** Default input size of an architecture family (CIFAR nets 32, ImageNet nets 224). */
export function defaultInputSize(arch: string): number {
  return parseArch(arch).family === 'imagenet' ? 224 : 32;
}

/** Name bounds, checked before anything is built: at most this many blocks per group, this widening factor. */
export const MAX_BLOCKS_PER_GROUP = 200;
export const MAX_WIDEN = 64;

type Parsed =
  | { family: 'wrn'; depth: number; widen: number; block: string }
  | { family: 'preact'; depth: number; kind: PreActKind }
  | { family: 'imagenet'; name: keyof typeof IMAGENET };

const IMAGENET = {
  'resnet50': { layers: [3, 4, 6, 3], widthPerGroup: 64 },
  'resnet101': { layers: [3, 4, 23, 3], widthPerGroup: 64 },
  'wide-resnet50-2': { layers: [3, 4, 6, 3], widthPerGroup: 128 },
  'wide-resnet101-2': { layers: [3, 4, 23, 3], widthPerGroup: 128 },
} as const;

/**
 * Architecture names:
 * - `wrn-D-K[-BLOCK]`: WRN-D-K, BLOCK one of b33 (default), b313, b131, b13, b31, b311, b3, b333, b3333;
 * - `preact-resnet-D[-basic|-bottleneck]`: He et al.'s pre-activation ResNets (110 basic; 164, 1001 bottleneck);
 * - `resnet50`, `resnet101`, `wide-resnet50-2`, `wide-resnet101-2` (torchvision's `wide_resnet50_2` spelling too).
 */
export function parseArch(name: string): Parsed {
  const a = name.trim().toLowerCase().replace(/_/g, '-');
  let m = /^wrn-(\d+)-(\d+)(?:-(b\d+))?$/.exec(a);
  if (m) {
    const block = m[3] ?? 'b33';
    if (!(block in BLOCK_TYPES)) {
      throw new Error(`unknown block type '${block}' in '${name}': expected one of ${Object.keys(BLOCK_TYPES).join(', ')}`);
    }
    const depth = Number(m[1]);
    const widen = Number(m[2]);
    if (depth > 6 * MAX_BLOCKS_PER_GROUP + 4) {
      throw new Error(`WRN depth ${m[1]} in '${name}' is too deep: expected depth 6N+4 with N <= ${MAX_BLOCKS_PER_GROUP} (at most ${6 * MAX_BLOCKS_PER_GROUP + 4})`);
    }
    if (widen < 1 || widen > MAX_WIDEN) throw new Error(`widening factor ${m[2]} in '${name}': expected an integer in [1, ${MAX_WIDEN}]`);
    return { family: 'wrn', depth, widen, block };
  }
  m = /^preact-resnet-(\d+)(?:-(basic|bottleneck))?$/.exec(a);
  if (m) {
    const depth = Number(m[1]);
    if (depth > 9 * MAX_BLOCKS_PER_GROUP + 2) {
      throw new Error(`pre-activation ResNet depth ${m[1]} in '${name}' is too deep: expected at most ${9 * MAX_BLOCKS_PER_GROUP + 2} (N <= ${MAX_BLOCKS_PER_GROUP} blocks per stage)`);
    }
    return { family: 'preact', depth, kind: (m[2] as PreActKind | undefined) ?? defaultKind(depth) };
  }
  if (a in IMAGENET) return { family: 'imagenet', name: a as keyof typeof IMAGENET };
  throw new Error(`unknown architecture '${name}': expected wrn-D-K[-b33|-b313|...], preact-resnet-D, resnet50, resnet101, wide-resnet50-2 or wide-resnet101-2`);
}

/** The canonical spelling of an architecture name (what checkpoints record). */
export function canonicalArch(name: string): string {
  const p = parseArch(name);
  switch (p.family) {
    case 'wrn': return `wrn-${p.depth}-${p.widen}${p.block === 'b33' ? '' : `-${p.block}`}`;
    case 'preact': return `preact-resnet-${p.depth}${p.kind === defaultKind(p.depth) ? '' : `-${p.kind}`}`;
    case 'imagenet': return p.name;
  }
}

/** timm's `features_only`: the model returns its stages' feature maps (see FeatureExtractor). */
export interface FeatureOptions {
  featuresOnly: true;
  /** Stages by index (0: layer1) or name (`layer2`); default all. */
  outIndices?: readonly (number | string)[];
}

/** Builds any registered architecture; with `featuresOnly`, as a backbone returning feature maps. */
export function createModel(arch: string, o: ModelOptions & FeatureOptions): FeatureExtractor;
export function createModel(arch: string, o?: ModelOptions & { featuresOnly?: false }): Network;
export function createModel(arch: string, o: ModelOptions & { featuresOnly?: boolean; outIndices?: readonly (number | string)[] } = {}): Network | FeatureExtractor {
  const net = createNetwork(arch, o);
  return o.featuresOnly ? new FeatureExtractor(net, o.outIndices) : net;
}

function createNetwork(arch: string, o: ModelOptions): Network {
  const p = parseArch(arch);
  const rng = o.rng ?? new Rng(o.seed ?? 0);
  const common = { classes: o.classes, inChannels: o.inChannels, activation: o.activation, rng, arch: canonicalArch(arch) };
  switch (p.family) {
    case 'wrn':
      return new WideResNet({ ...common, depth: p.depth, widen: p.widen, block: BLOCK_TYPES[p.block], dropout: o.dropout });
    case 'preact':
      if (o.dropout) throw new Error(`${arch}: the pre-activation ResNet baselines have no dropout`);
      return new PreActResNet({ ...common, depth: p.depth, kind: p.kind });
    case 'imagenet':
      if (o.dropout) throw new Error(`${arch}: torchvision's ResNets have no dropout`);
      return new TorchvisionResNet({ ...common, ...IMAGENET[p.name], layers: [...IMAGENET[p.name].layers] as [number, number, number, number] });
  }
}

/** A few names to show in help texts. */
export const EXAMPLE_ARCHS = ['wrn-28-10', 'wrn-16-4', 'wrn-40-4-b313', 'preact-resnet-164', 'wide-resnet50-2'];
