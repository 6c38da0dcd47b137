/**
 * The heatmap's font and how wide text is in it: the layout sizes cells and
 * margins from these widths without a font engine.
 */

/** The font the SVG asks for and the PNG renderer loads (matplotlib's default font too). */
export const FONT_FAMILY = 'DejaVu Sans';
/** The SVG's `font-family`: DejaVu Sans, then fonts of similar metrics. */
export const SVG_FONT_FAMILY = "'DejaVu Sans', 'Bitstream Vera Sans', Verdana, Arial, Helvetica, sans-serif";
/** Where Debian's fonts-dejavu-core puts DejaVu Sans. */
export const DEJAVU_SANS = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/** Advance widths (em) of DejaVu Sans for the characters numbers are written with. */
const CHAR_EM: Record<string, number> = {
  '0': 0.636, '1': 0.636, '2': 0.636, '3': 0.636, '4': 0.636, '5': 0.636, '6': 0.636, '7': 0.636,
  '8': 0.636, '9': 0.636, '.': 0.318, ',': 0.318, '-': 0.361, '\u2212': 0.838, '+': 0.838,
  e: 0.615, '%': 0.95, ' ': 0.318, i: 0.278, n: 0.634, f: 0.352, l: 0.278, I: 0.295, j: 0.278, t: 0.392,
};

/** Width in px of `s` in DejaVu Sans at `size` px: exact for numbers, an estimate for other text. */
export function textWidth(s: string, size: number): number {
  let em = 0;
  for (const ch of s) {
    const w = CHAR_EM[ch];
    if (w !== undefined) em += w;
    else if (ch.codePointAt(0)! >= 0x2e80) em += 1.0; // CJK and other wide scripts
    else if (ch >= 'A' && ch <= 'Z') em += 0.7;
    else em += 0.6;
  }
  return em * size;
}
