import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { readSafetensors } from '../../io/safetensors.js';
import { loadModel, topK } from '../../inference/classifier.js';
import { toFloat32 } from '../../inference/weights.js';
import { addFlags, COMPUTE, MODEL_SHAPE, OUTPUT, PREDICT, readFlags, required, withDefault } from '../flags.js';
import { useBackend } from '../useBackend.js';
import { UserError } from '../userError.js';

const FLAGS = { weights: required(PREDICT.weights), top: withDefault(PREDICT.top, 5), arch: PREDICT.arch, ...MODEL_SHAPE, ...COMPUTE, ...OUTPUT };

export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('top-k labels for image files, or logits for a .safetensors tensor `input` [N,C,H,W] (already normalised); ' +
      '--arch, --classes, --in-channels and --input-size are for weights without metadata (a plain PyTorch state dict)')
    .argument('<inputs...>', 'image files (PNG/JPEG/WebP), or one .safetensors file with an `input` tensor');
  addFlags(cmd, FLAGS)
    .action(async (inputs: string[], _opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      for (const i of inputs) if (!existsSync(i)) throw new UserError(`${i}: no such file`);
      const notice = useBackend(f);
      const k = f.top;
      const clf = await loadModel(f.weights, { arch: f.arch, classes: f.classes, inChannels: f.inChannels, inputSize: f.inputSize });
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
      if (!f.json) console.error(notice);
      for (const r of rows) {
        const top = topK(Float32Array.from(r.probs), clf.meta.labels, k);
        if (f.json) console.log(JSON.stringify({ ...r, top }));
        else console.log(`${r.input}: ${top.map((p) => `${p.label} ${(100 * p.probability).toFixed(1)}%`).join(', ')}`);
      }
      clf.dispose();
    });
}
