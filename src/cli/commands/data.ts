import type { Command } from 'commander';
import { resolveDataset, type ResolveOptions } from '../../data/resolve.js';
import { channelStats, type Dataset } from '../../data/dataset.js';
import { table, thousands } from '../format.js';
import { addFlags, DATASET, OUTPUT, readFlags, withDefault } from '../flags.js';

const FLAGS = {
  ...DATASET,
  valSeed: withDefault(DATASET.valSeed, 0),
  label: withDefault(DATASET.label, 'fine'),
  size: withDefault(DATASET.size, 32),
  ...OUTPUT,
};

interface SplitInfo {
  images: number;
  shape: number[];
  dtype: string;
  classes: number;
  mean: number[];
  std: number[];
}

function splitInfo(d: Dataset): SplitInfo {
  const s = channelStats(d);
  return {
    images: d.shape[0],
    shape: d.shape.slice(1),
    dtype: d.images instanceof Uint8Array ? 'uint8' : 'float32',
    classes: d.classes.length,
    mean: s.mean,
    std: s.std,
  };
}

const fmt = (v: number[]): string => v.map((x) => x.toFixed(4)).join(', ');

function progressPrinter(): ResolveOptions['downloadOptions'] {
  let lastPrint = 0;
  return {
    onProgress: (got, total) => {
      const now = Date.now();
      if (now - lastPrint < 1000) return;
      lastPrint = now;
      const pct = total ? ` (${((100 * got) / total).toFixed(1)}%)` : '';
      process.stderr.write(`wrn: downloading ... ${(got / 1048576).toFixed(1)} MiB${pct}\n`);
    },
  };
}

export function register(program: Command): void {
  const cmd = program
    .command('data')
    .argument('<name-or-path>', 'fashion-mnist, mnist, cifar10, cifar100, or a dataset file/folder (IDX, CIFAR .bin/.tar.gz, image folder, .safetensors)')
    .description('find a dataset and show, per split, the number of images, image shape, classes and per-channel mean/std');
  addFlags(cmd, FLAGS)
    .action(async (nameOrPath: string, _opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      const opts: ResolveOptions = {
        valSize: f.valSize ?? 0,
        valSeed: f.valSeed,
        labelMode: f.label,
        imageSize: f.size,
        channels: f.grayscale ? 1 : 3,
        download: f.download !== false && !process.env.WRN_NO_DOWNLOAD,
        downloadOptions: progressPrinter(),
        ...(f.dataDir ? { dataDir: f.dataDir } : {}),
        ...(f.cacheDir ? { cacheDir: f.cacheDir } : {}),
      };
      const ds = await resolveDataset(nameOrPath, opts);
      const splits: [string, Dataset][] = [];
      for (const k of ['train', 'val', 'test'] as const) {
        const d = ds[k];
        if (d) splits.push([k, d]);
      }
      const info = splits.map(([k, d]) => [k, splitInfo(d)] as const);
      const extra = ds.train.extraLabels;
      if (f.json) {
        console.log(
          JSON.stringify({
            name: ds.name,
            source: ds.source,
            classes: ds.classes,
            ...(extra ? { extra_labels: Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v.classes])) } : {}),
            normalization: ds.stats,
            splits: Object.fromEntries(info),
          }),
        );
        return;
      }
      console.log(`${ds.name}  (${ds.source})`);
      console.log('');
      const rows = info.map(([k, s]) => [k, thousands(s.images), s.shape.join('x'), s.dtype, String(s.classes), fmt(s.mean), fmt(s.std)]);
      console.log(table(['split', 'images', 'shape', 'dtype', 'classes', 'mean', 'std'], rows, [false, true, false, false, true, false, false]));
      console.log('');
      console.log(`classes (${ds.classes.length}): ${ds.classes.join(', ')}`);
      if (extra) for (const [k, v] of Object.entries(extra)) console.log(`${k} classes (${v.classes.length}): ${v.classes.join(', ')}`);
      console.log(`normalisation (train): mean [${fmt(ds.stats.mean)}], std [${fmt(ds.stats.std)}]`);
    });
}
