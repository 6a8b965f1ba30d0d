import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { Dataset } from '../../data/dataset.js';
import { subset } from '../../data/dataset.js';
import { resolveDataset } from '../../data/resolve.js';
import { evalBatches } from '../../inference/evaluate.js';
import { extractFeatures, type FeatureBatch } from '../../inference/features.js';
import { loadNetwork, readAnyWeights, toFloat32 } from '../../inference/weights.js';
import { readSafetensors } from '../../io/safetensors.js';
import { addFlags, COMPUTE, FEATURES, OUTPUT, readFlags, required, withDefault, type Values } from '../flags.js';
import { useBackend } from '../useBackend.js';
import { UserError } from '../userError.js';

const FLAGS = {
  ...FEATURES,
  weights: required(FEATURES.weights),
  split: withDefault(FEATURES.split, 'test'),
  stages: withDefault(FEATURES.stages, ['all']),
  pool: withDefault(FEATURES.pool, 'none'),
  batch: withDefault(FEATURES.batch, 64),
  out: required(FEATURES.out),
  ...COMPUTE,
  ...OUTPUT,
};
type FeaturesFlags = Values<typeof FLAGS>;

/** Where the images come from: their count, [C, H, W], batches, and whether they have labels. */
interface Source {
  name: string;
  count: number;
  imageShape: [number, number, number];
  labels: boolean;
  batches: Iterable<FeatureBatch>;
}

export function register(program: Command): void {
  const cmd = program
    .command('features')
    .description('write the feature maps of chosen stages (and the labels) to a .safetensors file, streamed to disk')
    .argument('[input]', 'a .safetensors file with a tensor `input` [N,C,H,W] (already normalised) and optionally `labels` [N]; or use --data');
  addFlags(cmd, FLAGS)
    .action(async (input: string | undefined, _opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      if ((input === undefined) === (f.data === undefined)) throw new UserError('give either an INPUT.safetensors file or --data, not both');
      if (!existsSync(f.weights)) throw new UserError(`--weights ${f.weights}: no such file`);
      const batch = f.batch;
      const notice = useBackend(f);
      const { tensors, meta: fileMeta } = await readAnyWeights(f.weights);
      const { model, meta } = loadNetwork(f.weights, tensors, fileMeta, { arch: f.arch });
      const stages = f.stages.length === 1 && f.stages[0] === 'all' ? model.stageNames() : f.stages.map((s) => s.trim());
      model.stageIndices(stages); // unknown names fail here, before any data is read
      const src = input !== undefined ? fileSource(input, batch) : await dataSource(f, meta, batch);
      if (src.imageShape[0] !== meta.inChannels) {
        throw new UserError(`${src.name}: images have ${src.imageShape[0]} channel(s), the weights ${f.weights} take ${meta.inChannels}`);
      }
      if (!f.json) console.error(notice);
      const bar = new cliProgress.SingleBar({
        format: ' features |{bar}| {value}/{total} images | ETA {eta_formatted}', hideCursor: true,
        noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 10000, etaBuffer: 20,
      }, cliProgress.Presets.shades_classic);
      const showBar = src.count > batch && !f.json;
      if (showBar) bar.start(src.count, 0);
      let written;
      try {
        written = await extractFeatures(model, src.batches, f.out, {
          stages, pool: f.pool, count: src.count, imageShape: src.imageShape, labels: src.labels,
          metadata: { format: 'wide-resnet-features/1', arch: meta.arch, weights: f.weights, source: src.name, pool: f.pool, mean: JSON.stringify(meta.mean), std: JSON.stringify(meta.std) },
          onProgress: (done) => showBar && bar.update(done),
        });
      } finally {
        if (showBar) bar.stop();
        model.dispose();
      }
      const shapes = Object.fromEntries(written.map((t) => [t.name, t.shape]));
      if (f.json) console.log(JSON.stringify({ out: f.out, images: src.count, tensors: shapes }));
      else console.log(`wrote ${f.out}: ${written.map((t) => `${t.name} [${t.shape.join(',')}]`).join(', ')}`);
    });
}

function fileSource(file: string, batch: number): Source {
  if (!existsSync(file)) throw new UserError(`${file}: no such file`);
  if (!file.endsWith('.safetensors')) throw new UserError(`${file}: expected a .safetensors file with an 'input' tensor (or use --data)`);
  const st = readSafetensors(file).tensors;
  const t = st.get('input');
  if (!t) throw new UserError(`${file}: no tensor named 'input' (expected float [N,C,H,W], already normalised)`);
  if (t.shape.length !== 4 || t.shape.some((d) => d < 1)) throw new UserError(`${file}: tensor 'input' has shape [${t.shape.join(',')}], expected [N,C,H,W]`);
  const x = toFloat32(file, 'input', t);
  const [n, c, h, w] = t.shape;
  const l = st.get('labels');
  if (l && (l.shape.length !== 1 || l.shape[0] !== n)) throw new UserError(`${file}: tensor 'labels' has shape [${l.shape.join(',')}], expected [${n}]`);
  const labels = l ? Int32Array.from(l.data as ArrayLike<number>) : undefined;
  const per = c * h * w;
  function* batches(): Generator<FeatureBatch> {
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      yield { x: x.subarray(s * per, (s + m) * per), shape: [m, c, h, w], ...(labels ? { labels: labels.subarray(s, s + m) } : {}) };
    }
  }
  return { name: file, count: n, imageShape: [c, h, w], labels: labels !== undefined, batches: batches() };
}

async function dataSource(f: FeaturesFlags, meta: { mean: number[]; std: number[] }, batch: number): Promise<Source> {
  const splits = await resolveDataset(f.data!, { valSize: f.split === 'val' ? 5000 : 0 });
  let ds: Dataset | undefined = f.split === 'train' ? splits.train : f.split === 'val' ? splits.val : splits.test;
  if (!ds) throw new UserError(`--data ${f.data}: has no ${f.split} split`);
  const limit = f.limit;
  if (limit && limit < ds.shape[0]) ds = subset(ds, Int32Array.from({ length: limit }, (_, i) => i), f.split);
  const [n, c, h, w] = ds.shape;
  if (meta.mean.length !== c) throw new UserError(`--data ${f.data}: images have ${c} channel(s), the weights take ${meta.mean.length}`);
  return { name: `${f.data} (${f.split})`, count: n, imageShape: [c, h, w], labels: true, batches: evalBatches(ds, meta, { batch }) };
}
