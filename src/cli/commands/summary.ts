import type { Command } from 'commander';
import { MetaBackend } from '../../backend/meta.js';
import { withBackend } from '../../core/engine.js';
import { formatShape } from '../../core/shape.js';
import { createModel, defaultInputSize, EXAMPLE_ARCHS, summarize } from '../../models/index.js';
import { bytes, si, table, thousands } from '../format.js';
import { addFlags, ARCH, checkValue, MODEL_SHAPE, OUTPUT, readFlags, withDefault } from '../flags.js';

const FLAGS = { ...MODEL_SHAPE, inChannels: withDefault(MODEL_SHAPE.inChannels, 3), ...OUTPUT };

export function register(program: Command): void {
  const cmd = program
    .command('summary')
    .argument('<arch>', `architecture, e.g. ${EXAMPLE_ARCHS.join(', ')}`)
    .description('per-layer table (output shape, params, MACs) and totals: parameters, MACs and training activation memory per image ' +
      '(--classes default: 10 for CIFAR nets, 1000 for ImageNet nets; --input-size: 32 or 224)');
  addFlags(cmd, FLAGS)
    .action((name: string, _opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      const arch = checkValue(ARCH.arch, name, '<arch>');
      // Shapes are static: the model is built on the shapes-only backend, no weights are allocated.
      const model = withBackend(new MetaBackend(), () => createModel(arch, { classes: f.classes, inChannels: f.inChannels }));
      const size = f.inputSize ?? defaultInputSize(arch);
      const s = summarize(model, size);
      if (f.json) {
        console.log(JSON.stringify({
          arch: s.arch, input: s.inputShape, classes: model.config.classes, params: s.params, macs: s.macs,
          activation_bytes_per_image: s.activationBytes, param_bytes: s.paramBytes,
          layers: s.layers.map((l) => ({ name: l.name, type: l.type, output: l.outShape.slice(1), params: l.params, macs: l.macs })),
        }));
        return;
      }
      const rows = s.layers.map((l) => [l.name, l.type, formatShape(l.outShape.slice(1)), thousands(l.params), thousands(l.macs)]);
      console.log(table(['layer', 'type', 'output', 'params', 'MACs'], rows, [false, false, false, true, true]));
      console.log('');
      console.log(`${s.arch}, input ${formatShape(s.inputShape)}, ${model.config.classes} classes`);
      console.log(`parameters:                 ${thousands(s.params)} (${bytes(s.paramBytes)} fp32)`);
      console.log(`MACs per image:             ${thousands(s.macs)} (${si(s.macs)})`);
      console.log(`training activations/image: ${bytes(s.activationBytes)} fp32 (layer outputs kept for backward)`);
    });
}
