import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import sharp from 'sharp';
import type { EpochMetrics } from '../../src/report/metrics.js';
import {
  paretoFront,
  plotConfusionMatrix,
  plotCurvesOverlay,
  plotPareto,
  plotScatter,
  plotTrainingCurves,
  type PlotFiles,
} from '../../src/report/plots.js';
import { findFont, svgToPng } from '../../src/report/render.js';
import { fontFamilyName, loadFontWidths, textWidth } from '../../src/report/fontmetrics.js';

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-report-'));
process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));
const out = (name: string) => path.join(tmpDir, name);

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Checks both files and returns the SVG text and the PNG size from its IHDR chunk. */
function checkFiles(files: PlotFiles, base: string, labels: string[]): { svg: string; width: number; height: number } {
  assert.equal(files.svg, `${base}.svg`);
  assert.equal(files.png, `${base}.png`);
  const svg = fs.readFileSync(files.svg, 'utf8');
  assert.ok(svg.startsWith('<svg'), 'SVG starts with <svg');
  assert.ok(svg.trimEnd().endsWith('</svg>'), 'SVG ends with </svg>');
  for (const l of labels) assert.ok(svg.includes(`>${l}<`), `SVG contains text '${l}'`);
  const png = fs.readFileSync(files.png);
  assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), 'PNG signature');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  assert.ok(width > 0 && height > 0, `PNG size ${width}x${height}`);
  // Rendered at 2x the SVG's own size.
  const svgWidth = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1]);
  assert.ok(Math.abs(width - 2 * svgWidth) <= 2, `PNG width ${width} = 2 x SVG width ${svgWidth}`);
  const leftovers = fs.readdirSync(path.dirname(base)).filter((f) => f.endsWith('.tmp'));
  assert.deepEqual(leftovers, [], 'no .tmp files left behind');
  return { svg, width, height };
}

function curve(epochs: number, scale = 1, valEvery = 2): EpochMetrics[] {
  const rows: EpochMetrics[] = [];
  for (let e = 1; e <= epochs; e++) {
    const val = e % valEvery === 0;
    rows.push({
      epoch: e,
      lr: e <= epochs / 2 ? 0.1 : 0.02,
      train_loss: 2.3 * Math.exp(-e / (4 * scale)) + 0.05,
      train_acc: 1 - 0.9 * Math.exp(-e / (3 * scale)),
      val_loss: val ? 2.3 * Math.exp(-e / (5 * scale)) + 0.2 : null,
      val_acc: val ? 0.92 - 0.8 * Math.exp(-e / (3 * scale)) : null,
      seconds: 20,
      img_per_s: 2500,
    });
  }
  return rows;
}

const CIFAR = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

describe('plotTrainingCurves', () => {
  test('writes SVG + PNG with both panels, axis titles and legend', async () => {
    const base = out('curves');
    const files = await plotTrainingCurves(curve(12), base, 'WRN-16-4 on CIFAR-10');
    const { svg } = checkFiles(files, base, ['WRN-16-4 on CIFAR-10', 'Loss', 'Accuracy', 'epoch', 'cross-entropy loss', 'accuracy', 'train', 'val']);
    assert.match(svg, /best val acc [\d.]+% \(epoch 12\)/);
  });

  test('works without any validation values and with a single epoch', async () => {
    const rows = curve(1).map((r) => ({ ...r, val_loss: null, val_acc: null }));
    const { svg } = checkFiles(await plotTrainingCurves(rows, out('one-epoch')), out('one-epoch'), ['Training curves', 'train']);
    assert.ok(!svg.includes('>val<'), 'no val legend entry without validation data');
  });

  test('creates missing parent directories', async () => {
    const base = path.join(tmpDir, 'deep', 'er', 'curves');
    checkFiles(await plotTrainingCurves(curve(3), base), base, ['Loss']);
  });

  test('bad input: empty rows, broken rows, empty base', async () => {
    await assert.rejects(plotTrainingCurves([], out('x')), /plotTrainingCurves: rows is empty/);
    const bad = curve(3);
    (bad[1] as unknown as Record<string, unknown>).train_loss = Number.NaN;
    await assert.rejects(plotTrainingCurves(bad, out('x')), /plotTrainingCurves: rows\[1\]: field 'train_loss' expected a finite number/);
    await assert.rejects(plotTrainingCurves(curve(2), ''), /base must be a non-empty/);
  });
});

describe('plotConfusionMatrix', () => {
  test('heatmap with counts in cells, true class rows, predicted columns', async () => {
    const m = CIFAR.map((_, i) => CIFAR.map((_, j) => (i === j ? 900 + i : (i * 3 + j) % 7)));
    const base = out('cm');
    const { svg } = checkFiles(await plotConfusionMatrix(m, CIFAR, base, 'CIFAR-10 test'), base, [
      ...CIFAR,
      'CIFAR-10 test',
      'true class',
      'predicted class',
      '900',
      '909',
    ]);
    assert.match(svg, /accuracy \d+\.\d\d% \(9045 \/ \d+\)/);
  });

  test('fractions are written with two decimals; labels are escaped', async () => {
    const base = out('cm-frac');
    const { svg } = checkFiles(await plotConfusionMatrix([[0.75, 0.25], [0.1, 0.9]], ['a<b', 'c&d'], base), base, ['0.75', '0.90', 'a&lt;b', 'c&amp;d']);
    assert.ok(svg.includes('>value<'), 'legend titled value for non-integer matrices');
  });

  test('many classes: no cell text, still renders', async () => {
    const n = 60;
    const labels = Array.from({ length: n }, (_, i) => `c${i}`);
    const m = labels.map((_, i) => labels.map((_, j) => (i === j ? 77 : 1)));
    const { svg } = checkFiles(await plotConfusionMatrix(m, labels, out('cm60')), out('cm60'), ['c0', 'true class']);
    assert.ok(!svg.includes('>77<'), 'no per-cell counts above 40 classes');
  });

  test('bad input: mismatched sizes, duplicate labels, negative or non-finite counts', async () => {
    const m2 = [[1, 2], [3, 4]];
    await assert.rejects(plotConfusionMatrix(m2, ['a', 'b', 'c'], out('x')), /matrix has 2 rows but labels has 3 classes; expected a 3x3 matrix/);
    await assert.rejects(plotConfusionMatrix([[1, 2], [3]], ['a', 'b'], out('x')), /matrix\[1\] has 1 columns; expected 2/);
    await assert.rejects(plotConfusionMatrix(m2, ['a', 'a'], out('x')), /labels must be unique, 'a' appears more than once/);
    await assert.rejects(plotConfusionMatrix([[1, -2], [3, 4]], ['a', 'b'], out('x')), /matrix\[0\]\[1\]: expected a count >= 0/);
    await assert.rejects(plotConfusionMatrix([[1, 2], [Number.NaN, 4]], ['a', 'b'], out('x')), /matrix\[1\]\[0\]: expected a finite number, got NaN/);
    await assert.rejects(plotConfusionMatrix([], [], out('x')), /labels must be a non-empty array/);
  });
});

const SIZE_POINTS = [
  { x: 0.69e6, y: 93.1, label: 'WRN-16-2', series: 'WRN', yErr: 0.2 },
  { x: 2.75e6, y: 94.7, label: 'WRN-16-4', series: 'WRN', yErr: 0.15 },
  { x: 36.5e6, y: 95.8, label: 'WRN-28-10', series: 'WRN' },
  { x: 1.7e6, y: 93.6, label: 'ResNet-164', series: 'pre-act ResNet', yErr: 0.3 },
  { x: 10.2e6, y: 94.5, label: 'ResNet-1001', series: 'pre-act ResNet' },
];

describe('plotScatter', () => {
  test('labelled points, error bars, series legend, log x', async () => {
    const base = out('scatter');
    const files = await plotScatter(SIZE_POINTS, base, { xTitle: 'parameters', yTitle: 'test accuracy (%)', logX: true, title: 'Accuracy vs size' });
    checkFiles(files, base, ['WRN-16-2', 'WRN-28-10', 'ResNet-1001', 'parameters', 'test accuracy (%)', 'Accuracy vs size', 'WRN', 'pre-act ResNet', '10M']);
  });

  test('plain points without series or error bars', async () => {
    const pts = [
      { x: 120, y: 0.91, label: 'run a' },
      { x: 340, y: 0.93, label: 'run b' },
    ];
    checkFiles(await plotScatter(pts, out('scatter-plain'), { xTitle: 'wall time (s)', yTitle: 'val acc' }), out('scatter-plain'), ['run a', 'run b', 'wall time (s)']);
  });

  test('bad input', async () => {
    const o = { xTitle: 'x', yTitle: 'y' };
    await assert.rejects(plotScatter([], out('x'), o), /plotScatter: points must be a non-empty array/);
    await assert.rejects(plotScatter([{ x: 1, y: Number.POSITIVE_INFINITY, label: 'a' }], out('x'), o), /points\[0\]\.y: expected a finite number/);
    await assert.rejects(plotScatter([{ x: 0, y: 1, label: 'a' }], out('x'), { ...o, logX: true }), /points\[0\]\.x: logX needs x > 0, got 0/);
    await assert.rejects(plotScatter([{ x: 1, y: 1, label: 'a', yErr: -1 }], out('x'), o), /points\[0\]\.yErr: expected >= 0/);
  });
});

describe('plotCurvesOverlay', () => {
  const runs = [
    { name: 'WRN-16-2', rows: curve(10, 1) },
    { name: 'WRN-16-4', rows: curve(10, 1.3) },
    { name: 'WRN-28-10', rows: curve(8, 1.6) },
  ];

  test('one line per run for val_acc and train_loss', async () => {
    checkFiles(await plotCurvesOverlay(runs, out('ov-acc'), 'val_acc'), out('ov-acc'), ['WRN-16-2', 'WRN-16-4', 'WRN-28-10', 'validation accuracy', 'epoch', 'run']);
    checkFiles(await plotCurvesOverlay(runs, out('ov-loss'), 'train_loss', 'Loss by width'), out('ov-loss'), ['Loss by width', 'training loss']);
    checkFiles(await plotCurvesOverlay(runs, out('ov-lr'), 'lr'), out('ov-lr'), ['learning rate']);
  });

  test('bad input', async () => {
    await assert.rejects(plotCurvesOverlay([], out('x'), 'val_acc'), /runs must be a non-empty array/);
    await assert.rejects(plotCurvesOverlay([runs[0]!, runs[0]!], out('x'), 'val_acc'), /runs\[1\]\.name: 'WRN-16-2' is used by two runs/);
    await assert.rejects(plotCurvesOverlay([{ name: 'a', rows: [] }], out('x'), 'val_acc'), /runs\[0\]\.rows \('a'\) is empty/);
    await assert.rejects(plotCurvesOverlay(runs, out('x'), 'bogus' as 'val_acc'), /metric must be one of lr, train_loss/);
    const noVal = [{ name: 'a', rows: curve(3).map((r) => ({ ...r, val_acc: null })) }];
    await assert.rejects(plotCurvesOverlay(noVal, out('x'), 'val_acc'), /no run has a value for 'val_acc'/);
  });
});

describe('Pareto', () => {
  test('paretoFront: lower x and higher y are better by default', () => {
    const pts = SIZE_POINTS.map(({ x, y }) => ({ x, y }));
    assert.deepEqual(paretoFront(pts), [true, true, true, true, false]);
    assert.deepEqual(paretoFront([{ x: 1, y: 1 }, { x: 1, y: 1 }]), [true, true], 'ties dominate neither');
    assert.deepEqual(paretoFront([{ x: 1, y: 2 }, { x: 2, y: 3 }]), [true, true]);
    assert.deepEqual(paretoFront([{ x: 1, y: 2 }, { x: 2, y: 3 }], { higherYIsBetter: false }), [true, false]);
    assert.deepEqual(paretoFront([{ x: 1, y: 2 }, { x: 2, y: 3 }], { lowerXIsBetter: false }), [false, true]);
  });

  test('plotPareto marks the front and labels every point', async () => {
    const front = paretoFront(SIZE_POINTS);
    const pts = SIZE_POINTS.map((p, i) => ({ x: p.x, y: p.y, label: p.label, front: front[i]! }));
    const base = out('pareto');
    const { svg } = checkFiles(await plotPareto(pts, base, { xTitle: 'parameters', yTitle: 'test accuracy (%)', logX: true }), base, [
      ...SIZE_POINTS.map((p) => p.label),
      'Pareto front',
      'dominated',
      '4 of 5 points on the front',
    ]);
    assert.ok(svg.includes('stroke-dasharray'), 'front drawn as a dashed line');
  });

  test('bad input', async () => {
    const o = { xTitle: 'x', yTitle: 'y' };
    await assert.rejects(plotPareto([{ x: 1, y: 1, label: 'a', front: 'yes' as unknown as boolean }], out('x'), o), /points\[0\]\.front: expected true or false/);
    await assert.rejects(plotPareto([{ x: 1, y: 1, label: 'a', front: true }], out('x'), { xTitle: 'x' } as typeof o), /options\.yTitle: expected a string/);
  });
});

describe('fonts', () => {
  const font = findFont();
  const skip = font.files.length === 0 ? 'no DejaVu/Liberation/Noto Sans font on this machine (Debian: fonts-dejavu-core)' : false;

  test('PNG text is drawn (resvg has a font)', { skip }, async () => {
    const svg = (text: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="10" y="28" font-family="${font.family}, sans-serif" font-size="20">${text}</text></svg>`;
    const dark = async (png: Uint8Array) => {
      const { data } = await sharp(Buffer.from(png)).greyscale().raw().toBuffer({ resolveWithObject: true });
      let n = 0;
      for (const v of data) if (v < 128) n++;
      return n;
    };
    assert.equal(await dark(await svgToPng(svg(''), 1)), 0);
    assert.ok((await dark(await svgToPng(svg('Epoch 12'), 1))) > 100, 'text pixels present');
  });

  test('family name read from the font file', { skip }, () => {
    assert.equal(fontFamilyName(font.regular!), font.family);
    assert.equal(fontFamilyName(path.join(tmpDir, 'missing.ttf')), undefined);
  });

  test('advance-width text measurement matches what resvg draws', { skip }, () => {
    const widths = loadFontWidths(font.regular!);
    for (const text of ['validation accuracy', 'WRN-28-10', 'airplane 0.95']) {
      const w = textWidth(widths, text, 20);
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="0" y="28" font-family="${font.family}" font-size="20">${text}</text></svg>`;
      const bbox = new Resvg(svg, { font: { loadSystemFonts: false, fontFiles: font.files, defaultFontFamily: font.family } }).getBBox();
      assert.ok(bbox, 'text has a bounding box');
      assert.ok(Math.abs(bbox.width - w) / w < 0.08, `'${text}': measured ${w.toFixed(1)} px, drawn ${bbox.width.toFixed(1)} px`);
    }
  });
});
