import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { JsBackend } from '../../backend/js/index.js';
import { setBackend } from '../../core/engine.js';
import { writeSafetensors } from '../../io/safetensors.js';
import { metaToStrings } from '../../inference/modelMeta.js';
import { loadNetwork, readAnyWeights } from '../../inference/weights.js';
import { addFlags, CONVERT, MODEL_SHAPE, readFlags, withDefault } from '../flags.js';
import { UserError } from '../userError.js';

const FLAGS = { ...CONVERT, from: withDefault(CONVERT.from, 'auto'), dtype: withDefault(CONVERT.dtype, 'f32'), ...MODEL_SHAPE };

/** --mean/--std hold one value per input channel. */
function perChannel(flag: string, v: number[] | undefined, n: number): number[] | undefined {
  if (v !== undefined && v.length !== n) throw new UserError(`${flag}: expected ${n} comma-separated numbers (one per input channel), got ${v.length}`);
  return v;
}

export function register(program: Command): void {
  const cmd = program
    .command('convert')
    .description('convert weights (PyTorch .pth/.pt or safetensors, any supported layout) to a self-describing safetensors file; ' +
      '--classes, --in-channels default to the shapes of fc.weight and conv1.weight, --input-size (recorded in the metadata) to 32 / 224')
    .argument('<in>', 'input weights: .pth/.pt (torch.save, no Python needed) or .safetensors')
    .argument('<out>', 'output .safetensors');
  addFlags(cmd, FLAGS)
    .action(async (input: string, out: string, _opts: unknown, command: Command) => {
      const f = readFlags(FLAGS, command);
      if (!existsSync(input)) throw new UserError(`${input}: no such file`);
      const dtype = ({ f32: 'F32', f16: 'F16', bf16: 'BF16' } as const)[f.dtype];
      setBackend(new JsBackend());
      const { tensors, meta: fileMeta } = await readAnyWeights(input, f.from);
      const overrides = { arch: f.arch, classes: f.classes, inChannels: f.inChannels, inputSize: f.inputSize };
      // Builds the network and loads strictly: a file that does not fit the architecture fails here, listing every bad key.
      const { model, meta } = loadNetwork(input, tensors, fileMeta, overrides);
      const c = meta.inChannels;
      meta.mean = perChannel('--mean', f.mean, c) ?? meta.mean;
      meta.std = perChannel('--std', f.std, c) ?? meta.std;
      if (f.labels !== undefined) {
        const labels = f.labels;
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
