/**
 * The one font every picture uses: DejaVu Sans from the `dejavu-fonts-ttf` package (Bitstream Vera
 * licence, free to redistribute). resvg is given these files and told not to look for system
 * fonts, so a PNG made on a bare container (no fontconfig, no /usr/share/fonts) has the same text
 * as one made on a desktop; and layout measures text with the same file's advance widths, so
 * labels that are placed side by side do not overlap. An SVG opened elsewhere falls back to
 * Verdana (Vera's metrics are close to it) or a narrower sans-serif: labels then only get shorter.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** For SVG: the bundled family first, then look-alikes that browsers have. */
export const FONT_STACK = "'DejaVu Sans', Verdana, 'Bitstream Vera Sans', sans-serif";

function fontDir(): string {
  return path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
}

export function fontFiles(): { regular: string; bold: string } {
  const dir = fontDir();
  return { regular: path.join(dir, 'DejaVuSans.ttf'), bold: path.join(dir, 'DejaVuSans-Bold.ttf') };
}

/**
 * The family PNGs are drawn with: DejaVu Sans cut to Latin, Greek, Cyrillic and the symbols
 * charts use (assets/fonts, made by scripts/subset-fonts.py), the same glyphs and advance widths.
 * resvg parses the font for every text element; the full one made a chart's labels cost ~35 ms,
 * this one ~9. Characters outside the cut come from the full DejaVu Sans, listed after it.
 */
export const PNG_FONT_FAMILY = 'memhunt Sans';

export function pngFontFiles(): string[] {
  const dir = path.join(__dirname, '..', '..', 'assets', 'fonts');
  const full = fontFiles();
  return [path.join(dir, 'memhunt-sans.ttf'), path.join(dir, 'memhunt-sans-bold.ttf'), full.regular, full.bold];
}

/**
 * Advance widths of one TrueType font, read from its `cmap` (format 4, the Basic Multilingual
 * Plane) and `hmtx` tables: all layout needs. ~3 ms per font file.
 */
class FontMetrics {
  /** Advance per BMP code point in font units; 0 = not in the font. */
  private readonly advance = new Uint16Array(65536);
  private readonly unitsPerEm: number;
  private readonly fallback: number;

  constructor(file: Buffer) {
    const numTables = file.readUInt16BE(4);
    const tables = new Map<string, number>();
    for (let i = 0; i < numTables; i++) {
      const rec = 12 + 16 * i;
      tables.set(file.toString('latin1', rec, rec + 4), file.readUInt32BE(rec + 8));
    }
    const need = (tag: string) => {
      const off = tables.get(tag);
      if (off === undefined) throw new Error(`font has no ${tag} table`);
      return off;
    };
    this.unitsPerEm = file.readUInt16BE(need('head') + 18);
    const numberOfHMetrics = file.readUInt16BE(need('hhea') + 34);
    const hmtx = need('hmtx');
    const glyphAdvance = (g: number) => file.readUInt16BE(hmtx + 4 * Math.min(g, numberOfHMetrics - 1));
    const cmap = need('cmap');
    let sub = -1;
    const n = file.readUInt16BE(cmap + 2);
    for (let i = 0; i < n; i++) {
      const platform = file.readUInt16BE(cmap + 4 + 8 * i);
      const encoding = file.readUInt16BE(cmap + 6 + 8 * i);
      const off = cmap + file.readUInt32BE(cmap + 8 + 8 * i);
      if (platform === 3 && encoding === 1 && file.readUInt16BE(off) === 4) sub = off;
    }
    if (sub < 0) throw new Error('font has no Unicode BMP cmap (format 4)');
    const segX2 = file.readUInt16BE(sub + 6);
    const ends = sub + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const rangeOffsets = deltas + segX2;
    for (let s = 0; s < segX2 / 2; s++) {
      const end = file.readUInt16BE(ends + 2 * s);
      const start = file.readUInt16BE(starts + 2 * s);
      const delta = file.readUInt16BE(deltas + 2 * s);
      const ro = file.readUInt16BE(rangeOffsets + 2 * s);
      for (let c = start; c <= end && c < 0xffff; c++) {
        let g: number;
        if (ro === 0) g = (c + delta) & 0xffff;
        else {
          const at = rangeOffsets + 2 * s + ro + 2 * (c - start);
          g = file.readUInt16BE(at);
          if (g !== 0) g = (g + delta) & 0xffff;
        }
        if (g !== 0) this.advance[c] = glyphAdvance(g);
      }
    }
    this.fallback = this.advance[0x4d] || this.unitsPerEm * 0.7; // "M" for characters the font lacks
  }

  /** Advance of a BMP code point in font units, 0 when the font lacks it. */
  advanceOf(code: number): number {
    return this.advance[code]!;
  }

  get fallbackAdvance(): number {
    return this.fallback;
  }

  get emUnits(): number {
    return this.unitsPerEm;
  }
}

interface MetricsPair {
  regular: FontMetrics;
  bold: FontMetrics;
}

function readPair(regular: string, bold: string): MetricsPair {
  return { regular: new FontMetrics(fs.readFileSync(regular)), bold: new FontMetrics(fs.readFileSync(bold)) };
}

/**
 * Metrics come from the cut fonts of PNG_FONT_FAMILY (a quarter of the glyphs: ~1 ms to read
 * instead of ~5), and from the full DejaVu Sans, read on first need, for characters the cut lacks.
 * Both have the same advance widths (the cut keeps DejaVu's), so every picture measures alike.
 */
let cut: MetricsPair | null = null;
let full: MetricsPair | null = null;

/** Width in px of text set in DejaVu Sans at sizePx. */
export function textWidth(text: string, sizePx: number, bold = false): number {
  if (!cut) {
    const [regular, boldFile] = pngFontFiles();
    cut = readPair(regular!, boldFile!);
  }
  const m = bold ? cut.bold : cut.regular;
  let units = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      units += m.fallbackAdvance;
      i++;
      continue;
    }
    let a = m.advanceOf(c);
    if (a === 0) {
      if (!full) {
        const f = fontFiles();
        full = readPair(f.regular, f.bold);
      }
      a = (bold ? full.bold : full.regular).advanceOf(c) || m.fallbackAdvance;
    }
    units += a;
  }
  return (units * sizePx) / m.emUnits;
}

/** Cuts text to fit maxPx, ending with "…"; "" when not even one character and the ellipsis fit. */
export function fitText(text: string, sizePx: number, maxPx: number, bold = false): string {
  if (textWidth(text, sizePx, bold) <= maxPx) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (textWidth(text.slice(0, mid) + '…', sizePx, bold) <= maxPx) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? '' : text.slice(0, lo).trimEnd() + '…';
}
