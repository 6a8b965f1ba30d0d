import type { Command } from 'commander';
import { defaultWeightBits, quantizeFile } from '../../quant/index.js';
import { addFlags, COMPUTE, OUTPUT, QUANTIZE, readFlags, required, withDefault } from '../flags.js';
import { useBackend } from '../useBackend.js';
import { UserError } from '../userError.js';

const FLAGS = {
  ...QUANTIZE,
  weights: required(QUANTIZE.weights),
  method: withDefault(QUANTIZE.method, 'percentile'),
  calibSize: withDefault(QUANTIZE.calibSize, 1000),
  seed: withDefault(QUANTIZE.seed, 0),
  backend: COMPUTE.backend,
  ...OUTPUT,
};

export function register(program: Command): void {
  const cmd = program
    .command('quantize')
    .description('post-training static int8 quantization: s8 per-channel weights, u8 activations calibrated on images, for oneDNN int8 inference ' +
      '(--backend runs the fp32 calibration forward)');
  addFlags(cmd, FLAGS).action(async (_opts: unknown, c: Command) => {
    const f = readFlags(FLAGS, c);
    if (!f.calib) throw new UserError('--calib is required: the calibration images (e.g. --calib fashion-mnist)');
    if (!f.out) throw new UserError('--out is required (e.g. --out best-int8.safetensors)');
    if (!f.out.endsWith('.safetensors')) throw new UserError(`--out: '${f.out}' must end in .safetensors`);
    if (f.percentile !== undefined && f.method !== 'percentile') throw new UserError('--percentile goes with --method percentile');
    const notice = useBackend({ backend: f.backend });
    if (!f.json) console.error(notice);
    const t0 = performance.now();
    const r = await quantizeFile(f.weights, f.out, {
      calib: f.calib, calibSize: f.calibSize, method: f.method, percentile: f.percentile,
      weightBits: f.weightBits ? (Number(f.weightBits) as 7 | 8) : defaultWeightBits(), seed: f.seed,
    });
    const q = r.weights.info;
    const summary = {
      out: r.out, arch: r.meta.arch, method: q.method, weight_bits: q.weightBits, calibration: q.calibration,
      int8_convs: [...r.weights.tensors.keys()].filter((k) => k.endsWith('.weight_scale')).length,
      float_layers: q.floatLayers, activation_scales: q.activationScales, seconds: (performance.now() - t0) / 1000,
    };
    if (f.json) {
      console.log(JSON.stringify(summary));
      return;
    }
    console.log(`${r.meta.arch}: ${summary.int8_convs} convolutions in int8 (s8 per-channel ${q.weightBits}-bit weights, u8 activations), ` +
      `${q.method} calibration on ${q.calibration.images} images of ${q.calibration.data} (train split, seed ${q.calibration.seed})`);
    for (const [layer, why] of Object.entries(q.floatLayers)) console.log(`kept in ${layer}: ${why}`);
    console.log(`wrote ${r.out} (${summary.seconds.toFixed(1)} s)`);
  });
}
