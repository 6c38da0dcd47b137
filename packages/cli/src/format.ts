/** Number formatting of the CLI's output. */

/** A fraction as a percentage with about 3 significant digits: 0.9741 -> "97.4%", 0.0002 -> "0.02%". */
export function percent(v: number): string {
  const p = v * 100;
  if (p === 0) return '0%';
  if (p >= 10) return `${p.toFixed(1)}%`;
  if (p >= 1) return `${p.toFixed(2)}%`;
  return `${p.toPrecision(2)}%`;
}

/** An integer with thousands separators: 124890 -> "124,890". */
export function count(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Seconds as "12.3 s". */
export function seconds(s: number): string {
  return `${s.toFixed(1)} s`;
}
