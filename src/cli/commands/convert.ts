import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { JsBackend } from '../../backend/js/index.js';
import { setBackend } from '../../core/engine.js';
import { writeSafetensors } from '../../io/safetensors.js';
import { LAYOUTS, type Layout } from '../../io/stateDict.js';
import { metaToStrings } from '../../inference/modelMeta.js';
import { loadNetwork, readAnyWeights } from '../../inference/weights.js';
import { intFlag, UserError } from '../userError.js';

interface ConvertFlags {
  from: string;
  arch?: string;
  classes?: string;
  inChannels?: string;
  inputSize?: string;
  mean?: string;
  std?: string;
  labels?: string;
  dataset?: string;
  dtype: string;
}

function numberList(flag: string, v: string | undefined, n: number): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length !== n || !xs.every(Number.isFinite)) throw new UserError(`${flag}: expected ${n} comma-separated numbers (one per input channel), got '${v}'`);
  return xs;
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('convert weights (PyTorch .pth/.pt or safetensors, any supported layout) to a self-describing safetensors file')
    .argument('<in>', 'input weights: .pth/.pt (torch.save, no Python needed) or .safetensors')
    .argument('<out>', 'output .safetensors')
    .option('--from <layout>', `source names: auto | ${LAYOUTS.join(' | ')} (official = the authors' functional PyTorch code, xternalz = xternalz/WideResNet-pytorch)`, 'auto')
    .option('--arch <name>', 'architecture (default: inferred from the shapes, e.g. wrn-28-10)')
    .option('--classes <K>', 'number of classes (default: from fc.weight)')
    .option('--in-channels <C>', 'input channels (default: from conv1.weight)')
    .option('--input-size <S>', 'input height = width recorded in the metadata (default 32 / 224)')
    .option('--mean <m>', 'per-channel normalisation mean recorded in the metadata, e.g. 0.4914,0.4822,0.4465')
    .option('--std <s>', 'per-channel normalisation std, e.g. 0.2470,0.2435,0.2616')
    .option('--labels <list>', 'class names, comma-separated (default 0..K-1)')
    .option('--dataset <name>', 'dataset name recorded in the metadata')
    .option('--dtype <t>', 'stored float type: f32 | f16 | bf16', 'f32')
    .action(async (input: string, out: string, f: ConvertFlags) => {
      if (!existsSync(input)) throw new UserError(`${input}: no such file`);
      if (f.from !== 'auto' && !(LAYOUTS as readonly string[]).includes(f.from)) {
        throw new UserError(`--from: expected auto, ${LAYOUTS.join(', ')}, got '${f.from}'`);
      }
      const dtype = ({ f32: 'F32', f16: 'F16', bf16: 'BF16' } as const)[f.dtype as 'f32' | 'f16' | 'bf16'];
      if (dtype === undefined) throw new UserError(`--dtype: expected f32, f16 or bf16, got '${f.dtype}'`);
      setBackend(new JsBackend());
      const { tensors, meta: fileMeta } = await readAnyWeights(input, f.from as Layout | 'auto');
      const overrides = { arch: f.arch, classes: intFlag('--classes', f.classes), inChannels: intFlag('--in-channels', f.inChannels), inputSize: intFlag('--input-size', f.inputSize) };
      // Builds the network and loads strictly: a file that does not fit the architecture fails here, listing every bad key.
      const { model, meta } = loadNetwork(input, tensors, fileMeta, overrides);
      const c = meta.inChannels;
      meta.mean = numberList('--mean', f.mean, c) ?? meta.mean;
      meta.std = numberList('--std', f.std, c) ?? meta.std;
      if (meta.std.some((s) => s <= 0)) throw new UserError(`--std: every value must be > 0, got '${f.std}'`);
      if (f.labels !== undefined) {
        const labels = f.labels.split(',').map((s) => s.trim());
        if (labels.length !== meta.classes) throw new UserError(`--labels: ${labels.length} names for ${meta.classes} classes`);
        meta.labels = labels;
      }
      if (f.dataset !== undefined) meta.dataset = f.dataset;
      writeSafetensors(out, model.stateDictArrays(), metaToStrings(meta), { floatDtype: dtype });
      const n = model.stateDict().size;
      console.log(`${out}: ${meta.arch}, ${meta.classes} classes, ${c} input channels, ${n} tensors (${dtype}), ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB`);
      model.dispose();
    });
}
