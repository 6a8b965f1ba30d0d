/**
 * State-dict importers: rename other CIFAR Wide-ResNet layouts to this project's canonical names
 * (those of src/models/wideResNet.ts and of the golden fixtures), detect the layout, infer the
 * architecture from the shapes, and check a state dict against a model strictly.
 *
 * Canonical (this project, torchvision-like module names):
 *   conv1.weight; layer{G}.{I}.bn1.*, .conv1.weight, .bn2.*, .conv2.weight, [.shortcut.weight];
 *   bn.*; fc.weight, fc.bias                                        (G = 1..3, I = 0..N-1)
 *
 * 'official' — the authors' functional PyTorch code (szagoruyko/wide-residual-networks, pytorch/resnet.py),
 * a flat dict of tensors saved as `dict(params=..., epoch=..., optimizer=...)`:
 *   conv0                                  -> conv1.weight          (conv tensors carry no '.weight')
 *   group{g}.block{i}.bn0.{weight,bias,running_mean,running_var} -> layer{g+1}.{i}.bn1.*
 *   group{g}.block{i}.conv0                -> layer{g+1}.{i}.conv1.weight
 *   group{g}.block{i}.bn1.*                -> layer{g+1}.{i}.bn2.*
 *   group{g}.block{i}.conv1                -> layer{g+1}.{i}.conv2.weight
 *   group{g}.block{i}.convdim              -> layer{g+1}.{i}.shortcut.weight
 *   bn.*, fc.weight, fc.bias               -> the same
 * (Older versions kept the BN statistics in a separate `stats` dict with the same names; readPth merges it.)
 * Same computation: the 1x1 `convdim` reads relu(bn0(x)), as our shortcut does.
 *
 * 'xternalz' — xternalz/WideResNet-pytorch (wideresnet.py), an nn.Module state dict:
 *   conv1.weight                           -> conv1.weight
 *   block{G}.layer.{i}.{bn1,conv1,bn2,conv2}.*  -> layer{G}.{i}.{bn1,conv1,bn2,conv2}.*
 *   block{G}.layer.{i}.convShortcut.weight -> layer{G}.{i}.shortcut.weight
 *   bn1.*                                  -> bn.*
 *   fc.weight, fc.bias                     -> the same
 * Same computation: when channels differ the block pre-activates x and the shortcut reads it.
 *
 * 'torchvision' — torchvision's ImageNet ResNets (resnet50, wide_resnet50_2, ...): our models use the same
 * names, so only `num_batches_tracked` is dropped.
 *
 * All layouts: `num_batches_tracked` buffers are dropped and a DataParallel 'module.' prefix is removed.
 */

export type Layout = 'canonical' | 'official' | 'xternalz' | 'torchvision';
export const LAYOUTS: readonly Layout[] = ['canonical', 'official', 'xternalz', 'torchvision'];

export interface Shaped {
  readonly shape: readonly number[];
}

export class StateDictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateDictError';
  }
}

const BN = '(weight|bias|running_mean|running_var)';

type Rule = [RegExp, (m: RegExpExecArray) => string];

const RULES: Record<Layout, Rule[]> = {
  canonical: [[/^(.*)$/, (m) => m[1]]],
  torchvision: [[/^(.*)$/, (m) => m[1]]],
  official: [
    [/^conv0(?:\.weight)?$/, () => 'conv1.weight'],
    [new RegExp(`^group([0-2])\\.block(\\d+)\\.bn0\\.${BN}$`), (m) => `layer${+m[1] + 1}.${m[2]}.bn1.${m[3]}`],
    [new RegExp(`^group([0-2])\\.block(\\d+)\\.bn1\\.${BN}$`), (m) => `layer${+m[1] + 1}.${m[2]}.bn2.${m[3]}`],
    [/^group([0-2])\.block(\d+)\.conv0(?:\.weight)?$/, (m) => `layer${+m[1] + 1}.${m[2]}.conv1.weight`],
    [/^group([0-2])\.block(\d+)\.conv1(?:\.weight)?$/, (m) => `layer${+m[1] + 1}.${m[2]}.conv2.weight`],
    [/^group([0-2])\.block(\d+)\.convdim(?:\.weight)?$/, (m) => `layer${+m[1] + 1}.${m[2]}.shortcut.weight`],
    [new RegExp(`^bn\\.${BN}$`), (m) => `bn.${m[1]}`],
    [/^fc\.(weight|bias)$/, (m) => `fc.${m[1]}`],
  ],
  xternalz: [
    [/^conv1\.weight$/, () => 'conv1.weight'],
    [new RegExp(`^block([1-3])\\.layer\\.(\\d+)\\.(bn1|bn2)\\.${BN}$`), (m) => `layer${m[1]}.${m[2]}.${m[3]}.${m[4]}`],
    [/^block([1-3])\.layer\.(\d+)\.(conv1|conv2)\.weight$/, (m) => `layer${m[1]}.${m[2]}.${m[3]}.weight`],
    [/^block([1-3])\.layer\.(\d+)\.convShortcut\.weight$/, (m) => `layer${m[1]}.${m[2]}.shortcut.weight`],
    [new RegExp(`^bn1\\.${BN}$`), (m) => `bn.${m[1]}`],
    [/^fc\.(weight|bias)$/, (m) => `fc.${m[1]}`],
  ],
};

function stripModulePrefix(names: string[]): string[] {
  return names.length > 0 && names.every((k) => k.startsWith('module.')) ? names.map((k) => k.slice(7)) : names;
}

/** Guesses the layout from the names; null when none fits. */
export function detectLayout(names: Iterable<string>): Layout | null {
  const ks = new Set(stripModulePrefix([...names]).filter((k) => !k.endsWith('num_batches_tracked')));
  if (ks.has('group0.block0.conv0') || ks.has('group0.block0.conv0.weight') || (ks.has('conv0') && [...ks].some((k) => k.startsWith('group0.')))) return 'official';
  if ([...ks].some((k) => /^block[1-3]\.layer\.\d+\./.test(k))) return 'xternalz';
  if (ks.has('bn.weight') && [...ks].some((k) => /^layer[1-3]\.\d+\.conv1\.weight$/.test(k))) return 'canonical';
  if (ks.has('bn1.weight') && [...ks].some((k) => /^layer[1-4]\.\d+\.conv3\.weight$/.test(k))) return 'torchvision';
  return null;
}

function preview(keys: string[], max = 12): string {
  return keys.slice(0, max).join(', ') + (keys.length > max ? `, ... (${keys.length} in all)` : '');
}

/**
 * Renames a state dict of layout `from` ('auto': detected) to canonical names. Throws one error listing
 * every key the layout does not know. `label` names the source in messages.
 */
export function toCanonical<T>(
  tensors: ReadonlyMap<string, T>,
  from: Layout | 'auto' = 'auto',
  label = 'state dict',
): { layout: Layout; tensors: Map<string, T> } {
  const original = [...tensors.keys()];
  const names = stripModulePrefix(original);
  let layout: Layout;
  if (from === 'auto') {
    const d = detectLayout(names);
    if (d === null) {
      throw new StateDictError(
        `${label}: cannot tell the layout of this state dict (expected ${LAYOUTS.join(', ')} names; ` +
        `pass --from to choose); keys: ${preview(names)}`,
      );
    }
    layout = d;
  } else layout = from;
  const out = new Map<string, T>();
  const unknown: string[] = [];
  const clashes: string[] = [];
  names.forEach((k, idx) => {
    if (k.endsWith('.num_batches_tracked') || k === 'num_batches_tracked') return;
    let renamed: string | null = null;
    for (const [re, f] of RULES[layout]) {
      const m = re.exec(k);
      if (m !== null) {
        renamed = f(m);
        break;
      }
    }
    if (renamed === null) {
      unknown.push(k);
      return;
    }
    if (out.has(renamed)) clashes.push(`${k} -> ${renamed}`);
    out.set(renamed, tensors.get(original[idx]) as T);
  });
  if (unknown.length > 0 || clashes.length > 0) {
    const parts: string[] = [];
    if (unknown.length > 0) parts.push(`${unknown.length} keys not in the ${layout} layout: ${preview(unknown)}`);
    if (clashes.length > 0) parts.push(`keys mapping to the same name: ${preview(clashes)}`);
    throw new StateDictError(`${label}: ${parts.join('; ')}`);
  }
  return { layout, tensors: out };
}

export interface InferredArch {
  /** A name src/models/registry.ts understands, e.g. 'wrn-28-10', 'wrn-40-4-b313', 'wide-resnet50-2'. */
  readonly arch: string;
  readonly inChannels: number;
  readonly classes: number;
}

function shapeOf<T extends Shaped>(t: ReadonlyMap<string, T>, k: string, label: string): readonly number[] {
  const v = t.get(k);
  if (v === undefined) throw new StateDictError(`${label}: cannot infer the architecture: no '${k}'`);
  return v.shape;
}

/** Infers the architecture of a canonical WRN or torchvision ResNet state dict from its names and shapes. */
export function inferArch<T extends Shaped>(t: ReadonlyMap<string, T>, label = 'state dict'): InferredArch {
  const stem = shapeOf(t, 'conv1.weight', label);
  const fc = shapeOf(t, 'fc.weight', label);
  if (stem.length !== 4 || fc.length !== 2) throw new StateDictError(`${label}: conv1.weight ${JSON.stringify(stem)} / fc.weight ${JSON.stringify(fc)} are not a conv / linear weight`);
  const blocks = (g: number): number => {
    let n = 0;
    while (t.has(`layer${g}.${n}.conv1.weight`)) n++;
    return n;
  };
  const common = { inChannels: stem[1], classes: fc[0] };
  if (t.has('layer4.0.conv1.weight')) {
    const layers = [1, 2, 3, 4].map(blocks).join(',');
    const width = shapeOf(t, 'layer1.0.conv1.weight', label)[0];
    const depth = ({ '3,4,6,3': 50, '3,4,23,3': 101 } as Record<string, number>)[layers];
    if (depth === undefined || (width !== 64 && width !== 128)) {
      throw new StateDictError(`${label}: a torchvision-style ResNet with blocks [${layers}] and width ${width} is not one of resnet50/101, wide-resnet50-2/101-2`);
    }
    return { ...common, arch: width === 64 ? `resnet${depth}` : `wide-resnet${depth}-2` };
  }
  const n = blocks(1);
  if (n === 0 || blocks(2) !== n || blocks(3) !== n) {
    throw new StateDictError(`${label}: cannot infer the architecture: groups hold ${[1, 2, 3].map(blocks).join(', ')} blocks, expected the same N >= 1 in layer1..3`);
  }
  let kernels = '';
  for (let i = 1; t.has(`layer1.0.conv${i}.weight`); i++) kernels += String(shapeOf(t, `layer1.0.conv${i}.weight`, label)[2]);
  const widths = [1, 2, 3].map((g) => {
    let last = 1;
    while (t.has(`layer${g}.0.conv${last + 1}.weight`)) last++;
    return shapeOf(t, `layer${g}.0.conv${last}.weight`, label)[0];
  });
  const k = widths[0] / 16;
  if (!Number.isInteger(k) || widths[1] !== 32 * k || widths[2] !== 64 * k || stem[0] !== 16) {
    throw new StateDictError(`${label}: group widths ${widths.join(', ')} (stem ${stem[0]}) are not 16k, 32k, 64k with a 16-channel stem`);
  }
  return { ...common, arch: `wrn-${6 * n + 4}-${k}${kernels === '33' ? '' : `-b${kernels}`}` };
}

/**
 * Strict check of provided names/shapes against expected ones: one error listing ALL missing,
 * unexpected and mis-shaped keys (none: returns).
 */
export function checkStateDict(
  expected: ReadonlyMap<string, Shaped | readonly number[]>,
  provided: ReadonlyMap<string, Shaped | readonly number[]>,
  label = 'state dict',
  what = 'the model',
): void {
  const shape = (v: Shaped | readonly number[]): readonly number[] => (Array.isArray(v) ? (v as readonly number[]) : (v as Shaped).shape);
  const fmt = (s: readonly number[]): string => `[${s.join(',')}]`;
  const missing = [...expected.keys()].filter((k) => !provided.has(k));
  const unexpected = [...provided.keys()].filter((k) => !expected.has(k));
  const misShaped: string[] = [];
  for (const [k, v] of expected) {
    const p = provided.get(k);
    if (p === undefined) continue;
    const a = shape(p);
    const e = shape(v);
    if (a.length !== e.length || a.some((d, i) => d !== e[i])) misShaped.push(`${k} is ${fmt(a)}, expected ${fmt(e)}`);
  }
  if (missing.length + unexpected.length + misShaped.length === 0) return;
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`${missing.length} missing: ${missing.join(', ')}`);
  if (unexpected.length > 0) parts.push(`${unexpected.length} unexpected: ${unexpected.join(', ')}`);
  if (misShaped.length > 0) parts.push(`${misShaped.length} mis-shaped: ${misShaped.join('; ')}`);
  throw new StateDictError(`${label}: does not fit ${what} (${parts.join('; ')})`);
}
