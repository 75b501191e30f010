/**
 * DOT -> SVG with @viz-js/viz (Graphviz compiled to WebAssembly: no system Graphviz, the same
 * layout everywhere; one 1.2 MB file, its instance ready in ~30 ms here) and SVG -> PNG with resvg
 * and the bundled DejaVu Sans (as `memhunt plot` does: no system fonts, so the text is the same on
 * a bare container).
 */
import * as path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { instance } from '@viz-js/viz';
import { REFS_FONT } from './refs';

export async function dotToSvg(dot: string): Promise<string> {
  const viz = await instance();
  const r = viz.render(dot, { format: 'svg', engine: 'dot' });
  if (r.status !== 'success') {
    const why = r.errors.map((e) => e.message.trim()).join('; ');
    throw new Error(`Graphviz could not lay out the graph: ${why}`);
  }
  return r.output;
}

/** Largest PNG side: a graph of hundreds of nodes would otherwise make a picture nobody can open. */
const MAX_SIDE_PX = 8000;

export function svgToPng(svg: string): Buffer {
  const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  const probe = new Resvg(svg, { font: { loadSystemFonts: false } });
  const scale = Math.min(2, MAX_SIDE_PX / Math.max(probe.width, probe.height, 1));
  const r = new Resvg(svg, {
    font: {
      loadSystemFonts: false,
      fontFiles: [path.join(dir, 'DejaVuSans.ttf'), path.join(dir, 'DejaVuSans-Bold.ttf')],
      defaultFontFamily: REFS_FONT,
      sansSerifFamily: REFS_FONT,
    },
    fitTo: { mode: 'zoom', value: scale },
    background: '#ffffff',
  });
  return r.render().asPng();
}
