/**
 * DataLoader throughput: images/s for Fashion-MNIST (the real set when found, else random data of its size)
 * and CIFAR-sized random data, with random crop (4-pixel reflection padding) + horizontal flip + normalisation,
 * batch 128, in-thread and with 1..N workers. The consumer does nothing, so this is the loader's capacity.
 *
 *   node dist/scripts/bench-loader.js [--epochs 2] [--workers 0,1,2] [--batch 128] [--json]
 */
import { availableParallelism } from 'node:os';
import { DataLoader } from '../src/data/loader.js';
import { allocShared, channelStats, type Dataset } from '../src/data/dataset.js';
import { resolveDataset } from '../src/data/resolve.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const epochs = Number(arg('epochs', '2'));
const batchSize = Number(arg('batch', '128'));
const json = process.argv.includes('--json');
const maxWorkers = Math.max(1, availableParallelism() - 1);
const workerCounts = arg('workers', [0, 1, Math.min(2, maxWorkers), maxWorkers].filter((v, i, a) => a.indexOf(v) === i).join(','))
  .split(',')
  .map(Number);

function randomData(name: string, n: number, c: number, h: number, w: number): Dataset {
  const images = allocShared('uint8', n * c * h * w) as Uint8Array;
  let s = 12345;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    images[i] = s >>> 24;
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % 10;
  return { images, labels, shape: [n, c, h, w], classes: Array.from({ length: 10 }, (_, i) => String(i)), meta: { name, split: 'train', sources: [] } };
}

async function fashion(): Promise<{ ds: Dataset; label: string }> {
  try {
    const s = await resolveDataset('fashion-mnist', { download: false });
    return { ds: s.train, label: `fashion-mnist (${s.source})` };
  } catch {
    return { ds: randomData('fashion-mnist-sized', 60000, 1, 28, 28), label: 'fashion-mnist-sized random data' };
  }
}

interface Row {
  dataset: string;
  shape: string;
  workers: number;
  imagesPerSecond: number;
  seconds: number;
}

async function bench(ds: Dataset, label: string): Promise<Row[]> {
  const rows: Row[] = [];
  const normalize = channelStats(ds);
  for (const workers of workerCounts) {
    const loader = new DataLoader(ds, { batchSize, workers, seed: 1, augment: { crop: { padding: 4, mode: 'reflect' }, flip: true }, normalize, dropLast: true });
    try {
      // Warm-up: JIT in this thread and in the workers.
      let k = 0;
      for await (const b of loader.epoch(1000)) {
        void b;
        if (++k >= 20) break;
      }
      loader.resetThroughput();
      for (let e = 0; e < epochs; e++) for await (const b of loader.epoch(e)) void b;
      const t = loader.throughput();
      rows.push({ dataset: label, shape: ds.shape.slice(1).join('x'), workers, imagesPerSecond: t.imagesPerSecond, seconds: t.seconds });
      if (!json) console.log(`${label.padEnd(48)} ${ds.shape.slice(1).join('x').padEnd(8)} workers=${workers}  ${Math.round(t.imagesPerSecond).toLocaleString('en-US').padStart(9)} img/s  (${t.images} images in ${t.seconds.toFixed(2)} s)`);
    } finally {
      await loader.close();
    }
  }
  return rows;
}

if (!json) console.log(`DataLoader throughput: crop(pad 4, reflect) + flip + normalise, batch ${batchSize}, ${epochs} epochs, ${availableParallelism()} cores`);
const f = await fashion();
const rows = [...(await bench(f.ds, f.label)), ...(await bench(randomData('cifar-sized', 50000, 3, 32, 32), 'cifar-sized random data'))];
if (json) console.log(JSON.stringify({ batchSize, epochs, cores: availableParallelism(), rows }));
