/**
 * PNG rendering of the heatmap's SVG by resvg, the optional peer dependency
 * `@resvg/resvg-js`: loaded on the first PNG, so SVG heatmaps need nothing
 * but this folder.
 */
import * as fs from 'fs';
import type { ResvgRenderOptions } from '@resvg/resvg-js';
import { DEJAVU_SANS, FONT_FAMILY } from './text';

/** The SVG `svg` as a PNG file's bytes, zoomed by `scale`, on white. */
export function renderPng(svg: string, scale: number): Buffer {
  const { Resvg } = resvgModule();
  const resvg = new Resvg(svg, {
    font: resvgFontOptions(),
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    background: '#ffffff',
  });
  return resvg.render().asPng();
}

/** `@resvg/resvg-js`, or an Error saying how to install it. */
function resvgModule(): typeof import('@resvg/resvg-js') {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  } catch (cause) {
    throw missingResvg(cause);
  }
}

let resolved = false;

/**
 * Throws {@link resvgModule}'s Error when `@resvg/resvg-js` cannot be found,
 * without loading it: the async functions check on the calling thread, then
 * load and run it on their render thread.
 */
export function checkResvgInstalled(): void {
  if (resolved) return;
  try {
    require.resolve('@resvg/resvg-js');
  } catch (cause) {
    throw missingResvg(cause);
  }
  resolved = true;
}

function missingResvg(cause: unknown): Error {
  const error = new Error(
    'PNG heatmaps are rendered by the package @resvg/resvg-js, which is not installed: `npm install @resvg/resvg-js` ' +
      '(SVG heatmaps need nothing more).',
  );
  (error as Error & { cause?: unknown }).cause = cause;
  return error;
}

let fontOptions: ResvgRenderOptions['font'] | undefined;

/** DejaVu Sans from its Debian path (fonts-dejavu-core); the system's fonts when it is missing. */
function resvgFontOptions(): ResvgRenderOptions['font'] {
  if (!fontOptions) {
    fontOptions = fs.existsSync(DEJAVU_SANS)
      ? { fontFiles: [DEJAVU_SANS], loadSystemFonts: false, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY }
      : { loadSystemFonts: true };
  }
  return fontOptions;
}
