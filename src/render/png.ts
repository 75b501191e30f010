/**
 * PNG: the SVG of svg.ts rasterised by resvg (Rust, through @resvg/resvg-js's prebuilt N-API
 * binary: no system libraries, no canvas, no browser). Fonts are the bundled DejaVu Sans files and
 * nothing else (loadSystemFonts: false): the same text on a bare container as on a desktop, and
 * ~40 ms saved that scanning system fonts costs.
 */
import { Resvg } from '@resvg/resvg-js';
import type { Chart } from './chart';
import { FONT_FAMILY, fontFiles } from './fonts';
import { renderSvg, type SvgChart, type SvgOptions } from './svg';

export interface PngChart extends SvgChart {
  png: Buffer;
  /** RGBA, row-major, width × height × 4 (tests read pixels from it). */
  pixels: Buffer;
  width: number;
  height: number;
}

export function rasterise(svg: string, opts: { keepPixels?: boolean } = {}): { png: Buffer; pixels: Buffer; width: number; height: number } {
  const files = fontFiles();
  const r = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: [files.regular, files.bold], defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
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
