// The one vega engine: any vega-lite spec drawn offline (no browser, no network) to SVG by a headless
// vega View, cropped to what is drawn, and to PNG by resvg. Every chart (ladder, trend, tune, fleet)
// goes through here.
import type { TopLevelSpec } from 'vega-lite';
import { RunError } from '../errors.ts';

/** DejaVu Sans first: Debian's fonts-dejavu-core, which resvg is told to use; other viewers fall back. */
export const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';

/** The title and subtitle of a page's chart (ladder, trend): one look. */
export const TITLE_STYLE = {
  anchor: 'start',
  fontSize: 16,
  subtitleFontSize: 12.5,
  subtitleColor: '#444',
  offset: 14,
} as const;

// The renderers are loaded on first use: most commands never draw, and loading them takes half a
// second of every command's start-up.
const renderers = async () => {
  const [{ Resvg }, vega, { compile }] = await Promise.all([
    import('@resvg/resvg-js'),
    import('vega'),
    import('vega-lite'),
  ]);
  return { Resvg, vega, compile };
};
type Renderers = Awaited<ReturnType<typeof renderers>>;

/** A vega loader that refuses every load: the chart's data is inline and must never hit the network. */
function offlineLoader(vega: Renderers['vega']) {
  const l = vega.loader();
  const refuse = async (uri: string) => {
    throw new RunError(`ladder chart: refusing to load ${uri}: charts are drawn offline`);
  };
  return Object.assign(l, { load: refuse, sanitize: refuse, http: refuse, file: refuse });
}

/** resvg's fonts: the system's (fontconfig's folders, /usr/share/fonts among them), DejaVu Sans first. */
const FONT_OPTIONS = () => ({
  loadSystemFonts: true,
  defaultFontFamily: 'DejaVu Sans',
  sansSerifFamily: 'DejaVu Sans',
});

/**
 * Without a canvas, vega estimates text widths generously (0.8 em a character), so its SVG is much
 * wider than what it draws. resvg lays the text out with the real fonts: the SVG is cropped to that
 * box plus a margin, and gets its white background back.
 */
function cropToContent(Resvg: Renderers['Resvg'], svg: string, margin = 14): string {
  const box = new Resvg(svg, { font: FONT_OPTIONS() }).getBBox();
  if (!box || !(box.width > 0 && box.height > 0)) return svg;
  const x = Math.floor(box.x - margin);
  const y = Math.floor(box.y - margin);
  const w = Math.ceil(box.width + 2 * margin);
  const h = Math.ceil(box.height + 2 * margin);
  return svg.replace(/^<svg([^>]*)>/, (_all, attrs: string) => {
    const kept = attrs.replace(/\s(width|height|viewBox)="[^"]*"/g, '');
    return `<svg${kept} width="${w}" height="${h}" viewBox="${x} ${y} ${w} ${h}"><rect x="${x}" y="${y}" width="${w}" height="${h}" fill="white"/>`;
  });
}

/** Any vega-lite spec as a standalone SVG document, drawn offline and cropped to what is drawn. */
/**
 * The last pictures drawn, by their input: the same spec draws the same SVG, and the same SVG the same
 * PNG. One process draws the same pictures again when it writes several runs' reports (a night and
 * its trend page, the tests' in-process runs): the "nothing to draw" pictures of every sleep-backend
 * run cost 0.3 s of CPU each time.
 */
const drawn = new Map<string, Promise<string | Buffer>>();
function remember<T extends string | Buffer>(key: string, draw: () => Promise<T>): Promise<T> {
  let hit = drawn.get(key) as Promise<T> | undefined;
  if (!hit) {
    hit = draw();
    hit.catch(() => drawn.delete(key)); // a failure is not remembered
    drawn.set(key, hit);
    if (drawn.size > 32) drawn.delete(drawn.keys().next().value!);
  }
  return hit;
}

export function specToSvg(spec: TopLevelSpec): Promise<string> {
  return remember(`spec:${JSON.stringify(spec)}`, () => drawSvg(spec));
}

async function drawSvg(spec: TopLevelSpec): Promise<string> {
  const { Resvg, vega, compile } = await renderers();
  const vg = compile(spec).spec;
  delete vg.background; // measured without it (it would cover the whole canvas), put back by cropToContent
  const view = new vega.View(vega.parse(vg), {
    renderer: 'none',
    loader: offlineLoader(vega) as never,
    logLevel: 1 /* warn */,
  });
  try {
    return cropToContent(Resvg, await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** The SVG rasterized by resvg, at `scale` (2: crisp on high-density screens and in documents). */
export function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  return remember(`png:${scale}:${svg}`, () => drawPng(svg, scale));
}

async function drawPng(svg: string, scale: number): Promise<Buffer> {
  const { Resvg } = await renderers();
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: FONT_OPTIONS(),
  });
  return resvg.render().asPng();
}
