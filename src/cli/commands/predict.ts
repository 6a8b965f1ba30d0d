import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { readSafetensors } from '../../io/safetensors.js';
import { loadModel, topK } from '../../inference/classifier.js';
import { toFloat32 } from '../../inference/weights.js';
import { intFlag, UserError } from '../userError.js';
import { backendOptions, useBackend, type BackendFlags } from './backendFlags.js';

interface PredictFlags extends BackendFlags {
  weights?: string;
  top: string;
  json?: boolean;
  arch?: string;
  classes?: string;
  inChannels?: string;
  inputSize?: string;
}

export function register(program: Command): void {
  backendOptions(program
    .command('predict')
    .description('top-k labels for image files, or logits for a .safetensors tensor `input` [N,C,H,W] (already normalised)')
    .argument('<inputs...>', 'image files (PNG/JPEG/WebP), or one .safetensors file with an `input` tensor')
    .requiredOption('--weights <file>', 'weights (.safetensors or PyTorch .pth)')
    .option('--top <k>', 'number of labels to show', '5')
    .option('--json', 'print one JSON object per input row: logits, probs, top')
    .option('--arch <name>', 'architecture, for weights without metadata (a plain PyTorch state dict)')
    .option('--classes <K>', 'number of classes, for weights without metadata')
    .option('--in-channels <C>', 'input channels, for weights without metadata')
    .option('--input-size <S>', 'input size, for weights without metadata'))
    .action(async (inputs: string[], f: PredictFlags) => {
      for (const i of inputs) if (!existsSync(i)) throw new UserError(`${i}: no such file`);
      useBackend(f, Boolean(f.json));
      const k = intFlag('--top', f.top)!;
      const clf = await loadModel(f.weights!, {
        arch: f.arch, classes: intFlag('--classes', f.classes), inChannels: intFlag('--in-channels', f.inChannels), inputSize: intFlag('--input-size', f.inputSize),
      });
      const rows: { input: string; logits: number[]; probs: number[] }[] = [];
      if (inputs.length === 1 && inputs[0].endsWith('.safetensors')) {
        const file = inputs[0];
        const t = readSafetensors(file).tensors.get('input');
        if (!t) throw new UserError(`${file}: no tensor named 'input' (expected float32 [N,C,H,W], already normalised)`);
        const { inChannels: c } = clf.meta;
        if (t.shape.length !== 4 || t.shape[1] !== c) throw new UserError(`${file}: tensor 'input' has shape [${t.shape.join(',')}], expected [N,${c},H,W]`);
        const { logits, probs } = clf.run(toFloat32(file, 'input', t), t.shape);
        const kk = clf.meta.classes;
        for (let n = 0; n < t.shape[0]; n++) {
          rows.push({ input: `${file}#${n}`, logits: Array.from(logits.subarray(n * kk, (n + 1) * kk)), probs: Array.from(probs.subarray(n * kk, (n + 1) * kk)) });
        }
      } else {
        const { inChannels: c, inputSize: s, classes } = clf.meta;
        for (const file of inputs) {
          if (file.endsWith('.safetensors')) throw new UserError(`${file}: a .safetensors input must be the only input`);
          const { logits, probs } = clf.run(await clf.preprocess(file), [1, c, s, s]);
          rows.push({ input: file, logits: Array.from(logits.subarray(0, classes)), probs: Array.from(probs.subarray(0, classes)) });
        }
      }
      for (const r of rows) {
        const top = topK(Float32Array.from(r.probs), clf.meta.labels, k);
        if (f.json) console.log(JSON.stringify({ ...r, top }));
        else console.log(`${r.input}: ${top.map((p) => `${p.label} ${(100 * p.probability).toFixed(1)}%`).join(', ')}`);
      }
      clf.dispose();
    });
}
