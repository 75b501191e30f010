/**
 * PNG: the SVG of svg.ts rasterised by resvg (Rust, through @resvg/resvg-js's prebuilt N-API
 * binary: no system libraries, no canvas, no browser). Fonts are the bundled DejaVu Sans files and
 * nothing else (loadSystemFonts: false): the same text on a bare container as on a desktop, and
 * ~40 ms saved that scanning system fonts costs. The labels are set in a cut of DejaVu Sans
 * (fonts.ts, pngFontFiles), with the full one behind it for any character the cut lacks.
 */
import type { Resvg as ResvgClass } from '@resvg/resvg-js';
import type { Chart } from './chart';
import { FONT_STACK, PNG_FONT_FAMILY, pngFontFiles } from './fonts';
import { escapeXml } from './layout';
import { renderSvg, type SvgChart, type SvgOptions } from './svg';

export interface PngChart extends SvgChart {
  png: Buffer;
  /** RGBA, row-major, width × height × 4 (tests read pixels from it). */
  pixels: Buffer;
  width: number;
  height: number;
}

let resvg: typeof ResvgClass | null = null;

/**
 * resvg's class. On Linux x64 its glibc binary is loaded directly: the package's own loader asks
 * process.report.getReport() whether the C library is musl, ~5 ms on every PNG. Anywhere else,
 * or if that binary is missing or does not load (musl), the package decides as usual.
 */
function resvgClass(): typeof ResvgClass {
  if (resvg) return resvg;
  if (process.platform === 'linux' && process.arch === 'x64') {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const native = require('@resvg/resvg-js-linux-x64-gnu') as { Resvg: new (svg: string | Buffer, options?: string) => ResvgClass };
      // What the package's index.js does: options cross to Rust as JSON.
      resvg = class extends native.Resvg {
        constructor(svg: string | Buffer, options?: object) {
          super(svg, JSON.stringify(options));
        }
      } as unknown as typeof ResvgClass;
      return resvg;
    } catch {
      // fall through to the package's loader
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  resvg = (require('@resvg/resvg-js') as { Resvg: typeof ResvgClass }).Resvg;
  return resvg;
}

/** Loads resvg's native module now (a caller with time to spare, e.g. while reading). */
export function loadRasteriser(): void {
  resvgClass();
}

/** The chart SVG's font list, as rasterised: the cut family first (fonts.ts, PNG_FONT_FAMILY). */
const SVG_FONT_ATTR = `font-family="${escapeXml(FONT_STACK)}"`;
const PNG_FONT_ATTR = `font-family="${escapeXml(`'${PNG_FONT_FAMILY}', ${FONT_STACK}`)}"`;

export function rasterise(svg: string, opts: { keepPixels?: boolean } = {}): { png: Buffer; pixels: Buffer; width: number; height: number } {
  const Resvg = resvgClass();
  const r = new Resvg(svg.replace(SVG_FONT_ATTR, PNG_FONT_ATTR), {
    font: { loadSystemFonts: false, fontFiles: pngFontFiles(), defaultFontFamily: PNG_FONT_FAMILY, sansSerifFamily: PNG_FONT_FAMILY },
    background: '#ffffff',
    shapeRendering: 2,
    textRendering: 1,
  });
  const img = r.render();
  return { png: img.asPng(), pixels: opts.keepPixels ? img.pixels : Buffer.alloc(0), width: img.width, height: img.height };
}

export function renderPng(chart: Chart, opts: SvgOptions & { keepPixels?: boolean } = {}): PngChart {
  const s = renderSvg(chart, opts);
  return { ...s, ...rasterise(s.svg, opts) };
}
