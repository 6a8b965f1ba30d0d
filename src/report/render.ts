/**
 * Vega-Lite spec -> SVG (vega's headless View.toSVG, no canvas) -> PNG (@resvg/resvg-js), written atomically.
 * vega, vega-lite and resvg are imported lazily so that importing the library does not load them.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { type FontWidths, fontFamilyName, loadFontWidths, textWidth } from './fontmetrics.js';

/** The two files a plot function writes. */
export interface PlotFiles {
  svg: string;
  png: string;
}

/** The font the PNG renderer uses for every text element. */
export interface FontSetup {
  /** Family name written into the SVG and used by resvg as the sans-serif / default family. */
  family: string;
  /** Font files given to resvg (regular first, then bold if found); empty when none was found. */
  files: string[];
  regular?: string;
  bold?: string;
}

/** Sans-serif fonts we look for, best first. */
const PREFERRED: ReadonlyArray<{ family: string; regular: string; bold: string }> = [
  { family: 'DejaVu Sans', regular: 'DejaVuSans.ttf', bold: 'DejaVuSans-Bold.ttf' },
  { family: 'Liberation Sans', regular: 'LiberationSans-Regular.ttf', bold: 'LiberationSans-Bold.ttf' },
  { family: 'Noto Sans', regular: 'NotoSans-Regular.ttf', bold: 'NotoSans-Bold.ttf' },
];

function fontDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.WRN_FONT_DIR) dirs.push(process.env.WRN_FONT_DIR);
  dirs.push('/usr/share/fonts', '/usr/local/share/fonts', join(homedir(), '.local/share/fonts'), join(homedir(), '.fonts'));
  if (process.platform === 'darwin') dirs.push('/System/Library/Fonts', '/Library/Fonts');
  if (process.platform === 'win32') dirs.push(join(process.env.WINDIR ?? 'C:\\Windows', 'Fonts'));
  return dirs;
}

/** All font files under `dir` (recursively, depth-limited), keyed by base name. */
function scan(dir: string, out: Map<string, string>, depth = 0): void {
  if (depth > 5) return;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) scan(p, out, depth + 1);
    else if (/\.(ttf|otf|ttc)$/i.test(e) && !out.has(e)) out.set(e, p);
  }
}

let cachedFont: FontSetup | undefined;

/**
 * Finds a sans-serif font for PNG text. WRN_FONT_FILE (a .ttf/.otf path; family from its name table or WRN_FONT_FAMILY)
 * overrides the search; otherwise DejaVu Sans
 * (Debian: fonts-dejavu-core), Liberation Sans or Noto Sans are looked for under the usual font directories
 * (and WRN_FONT_DIR). Returns files = [] when none is found.
 */
export function findFont(): FontSetup {
  if (cachedFont) return cachedFont;
  const envFile = process.env.WRN_FONT_FILE;
  if (envFile) {
    if (!existsSync(envFile)) throw new Error(`WRN_FONT_FILE: font file ${envFile} does not exist`);
    const family = process.env.WRN_FONT_FAMILY ?? fontFamilyName(envFile);
    if (!family) throw new Error(`WRN_FONT_FILE: cannot read a family name from ${envFile}; set WRN_FONT_FAMILY too`);
    cachedFont = { family, files: [envFile], regular: envFile };
    return cachedFont;
  }
  const found = new Map<string, string>();
  for (const d of fontDirs()) scan(d, found);
  for (const f of PREFERRED) {
    const regular = found.get(f.regular);
    if (!regular) continue;
    const bold = found.get(f.bold);
    cachedFont = { family: f.family, files: bold ? [regular, bold] : [regular], regular, ...(bold ? { bold } : {}) };
    return cachedFont;
  }
  cachedFont = { family: 'sans-serif', files: [] };
  return cachedFont;
}

let warnedNoFont = false;

/** Shared look: white background, the chosen font, readable sizes. */
export function baseConfig(family: string): NonNullable<TopLevelSpec['config']> {
  return {
    font: family,
    background: 'white',
    padding: 8,
    title: { fontSize: 15, anchor: 'middle' },
    axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' },
    legend: { labelFontSize: 11, titleFontSize: 12 },
    view: { stroke: '#bbbbbb' },
  };
}

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}
type VegaTextMetrics = { width: (item: TextItem, text: unknown) => number };

let metricsInstalled = false;

/**
 * Gives vega (which has no canvas here) text widths measured from the font resvg will draw with. Falls back to
 * vega's own estimate when no font file was found or it cannot be parsed.
 */
function installTextMetrics(vega: unknown): void {
  if (metricsInstalled) return;
  metricsInstalled = true;
  const tm = (vega as { textMetrics?: VegaTextMetrics }).textMetrics;
  const font = findFont();
  if (!tm || !font.regular) return;
  let regular: FontWidths;
  let bold: FontWidths;
  try {
    regular = loadFontWidths(font.regular);
    bold = font.bold ? loadFontWidths(font.bold) : regular;
  } catch {
    return;
  }
  tm.width = (item: TextItem, text: unknown): number => {
    const t = text == null ? '' : String(text).trim();
    const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    if (size <= 0 || t === '') return 0;
    const w = item.fontWeight;
    const isBold = w === 'bold' || w === 'bolder' || (typeof w === 'number' && w >= 600) || (typeof w === 'string' && Number(w) >= 600);
    const width = textWidth(isBold ? bold : regular, t, size);
    // vega truncates text longer than `limit` with an ellipsis; its width is then at most the limit.
    return item.limit && item.limit > 0 ? Math.min(width, item.limit) : width;
  };
}

/** Compiles a Vega-Lite spec to an SVG string (headless: text is measured with the PNG font's advance widths). */
export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  installTextMetrics(vega);
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterizes an SVG string to PNG bytes with resvg, at `scale` times the SVG's size. */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const font = findFont();
  if (font.files.length === 0 && !warnedNoFont) {
    warnedNoFont = true;
    process.emitWarning(
      'report: no DejaVu/Liberation/Noto Sans font found; PNG text may be missing. ' +
        'Install Debian fonts-dejavu-core, or set WRN_FONT_FILE to a .ttf file.',
    );
  }
  const resvg = new Resvg(svg, {
    font: {
      loadSystemFonts: font.files.length === 0,
      fontFiles: font.files,
      ...(font.files.length > 0 ? { defaultFontFamily: font.family, sansSerifFamily: font.family } : {}),
    },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/** Renders a Vega-Lite spec to `<base>.svg` and `<base>.png` (each written to a .tmp file, then renamed). */
export async function renderPlot(spec: TopLevelSpec, base: string): Promise<PlotFiles> {
  const files: PlotFiles = { svg: `${base}.svg`, png: `${base}.png` };
  const svg = await specToSvg(spec);
  const png = await svgToPng(svg);
  await mkdir(dirname(files.svg), { recursive: true });
  await writeAtomic(files.svg, svg);
  await writeAtomic(files.png, png);
  return files;
}
