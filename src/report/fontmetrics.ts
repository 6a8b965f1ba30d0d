/**
 * Text widths from a TrueType/OpenType font's advance widths (cmap format 4 + hmtx), so that vega's headless layout
 * measures labels the way resvg will draw them. Without this vega guesses 0.8 em per character, which leaves wide
 * gaps and shifts titles away from their axes.
 */
import { readFileSync } from 'node:fs';

export interface FontWidths {
  unitsPerEm: number;
  /** Advance width in font units for a BMP code point; undefined when the font has no glyph for it. */
  advance(codePoint: number): number | undefined;
}

function table(buf: Buffer, tag: string): number {
  const numTables = buf.readUInt16BE(4);
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + 16 * i;
    if (buf.toString('latin1', rec, rec + 4) === tag) return buf.readUInt32BE(rec + 8);
  }
  throw new Error(`font has no '${tag}' table`);
}

/** Parses the advance widths of a .ttf/.otf file (not a .ttc collection). Throws on anything it cannot read. */
export function loadFontWidths(path: string): FontWidths {
  const buf = readFileSync(path);
  const unitsPerEm = buf.readUInt16BE(table(buf, 'head') + 18);
  const numHMetrics = buf.readUInt16BE(table(buf, 'hhea') + 34);
  const hmtx = table(buf, 'hmtx');
  const cmap = table(buf, 'cmap');
  let sub = -1;
  const nSub = buf.readUInt16BE(cmap + 2);
  for (let i = 0; i < nSub; i++) {
    const rec = cmap + 4 + 8 * i;
    const platform = buf.readUInt16BE(rec);
    const encoding = buf.readUInt16BE(rec + 2);
    const off = cmap + buf.readUInt32BE(rec + 4);
    if (buf.readUInt16BE(off) !== 4) continue;
    if ((platform === 3 && encoding === 1) || platform === 0) {
      sub = off;
      if (platform === 3) break;
    }
  }
  if (sub < 0) throw new Error('font has no format-4 Unicode cmap');
  const segCount = buf.readUInt16BE(sub + 6) / 2;
  const ends = sub + 14;
  const starts = ends + 2 * segCount + 2;
  const deltas = starts + 2 * segCount;
  const rangeOffsets = deltas + 2 * segCount;
  const glyphOf = (c: number): number => {
    for (let i = 0; i < segCount; i++) {
      if (buf.readUInt16BE(ends + 2 * i) < c) continue;
      const start = buf.readUInt16BE(starts + 2 * i);
      if (start > c) return 0;
      const delta = buf.readInt16BE(deltas + 2 * i);
      const ro = buf.readUInt16BE(rangeOffsets + 2 * i);
      if (ro === 0) return (c + delta) & 0xffff;
      const g = buf.readUInt16BE(rangeOffsets + 2 * i + ro + 2 * (c - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  const cache = new Map<number, number | undefined>();
  return {
    unitsPerEm,
    advance(c: number): number | undefined {
      if (cache.has(c)) return cache.get(c);
      let w: number | undefined;
      if (c <= 0xffff) {
        const g = glyphOf(c);
        if (g !== 0) w = buf.readUInt16BE(hmtx + 4 * Math.min(g, numHMetrics - 1));
      }
      cache.set(c, w);
      return w;
    },
  };
}

/** Width in px of `text` at `fontSize` px; characters the font lacks count as 0.6 em. */
export function textWidth(font: FontWidths, text: string, fontSize: number): number {
  let units = 0;
  for (const ch of text) units += font.advance(ch.codePointAt(0)!) ?? 0.6 * font.unitsPerEm;
  return (units / font.unitsPerEm) * fontSize;
}

/** The family name (name table, ID 16 or 1) of a .ttf/.otf file, or undefined if it cannot be read. */
export function fontFamilyName(path: string): string | undefined {
  try {
    const buf = readFileSync(path);
    const name = table(buf, 'name');
    const count = buf.readUInt16BE(name + 2);
    const strings = name + buf.readUInt16BE(name + 4);
    let best: { rank: number; value: string } | undefined;
    for (let i = 0; i < count; i++) {
      const rec = name + 6 + 12 * i;
      const platform = buf.readUInt16BE(rec);
      const id = buf.readUInt16BE(rec + 6);
      if (id !== 1 && id !== 16) continue;
      const len = buf.readUInt16BE(rec + 8);
      const off = strings + buf.readUInt16BE(rec + 10);
      let value: string;
      if (platform === 3 || platform === 0) {
        const units: number[] = [];
        for (let k = 0; k + 1 < len; k += 2) units.push(buf.readUInt16BE(off + k));
        value = String.fromCharCode(...units);
      } else if (platform === 1) {
        value = buf.toString('latin1', off, off + len);
      } else continue;
      // Prefer the typographic family (16) and Windows/Unicode records.
      const rank = (id === 16 ? 2 : 0) + (platform === 1 ? 0 : 1);
      if (value && (!best || rank > best.rank)) best = { rank, value };
    }
    return best?.value;
  } catch {
    return undefined;
  }
}
