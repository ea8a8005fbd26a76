// Colour scales: a sequential map for attention values, categorical colours for heads.

const STOPS: [number, [number, number, number]][] = [
  [0, [255, 255, 255]],
  [0.12, [222, 235, 247]],
  [0.3, [158, 202, 225]],
  [0.5, [66, 146, 198]],
  [0.72, [33, 113, 181]],
  [0.88, [8, 69, 148]],
  [1, [8, 29, 88]],
];

/** 256 RGBA entries, white (0) to deep blue (1). */
export const LUT: Uint8ClampedArray = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 1;
    while (k < STOPS.length - 1 && STOPS[k][0] < t) k++;
    const [t0, c0] = STOPS[k - 1];
    const [t1, c1] = STOPS[k];
    const f = (t - t0) / (t1 - t0);
    for (let ch = 0; ch < 3; ch++) lut[i * 4 + ch] = Math.round(c0[ch] + (c1[ch] - c0[ch]) * f);
    lut[i * 4 + 3] = 255;
  }
  return lut;
})();

export function lutIndex(v: number, max: number): number {
  if (!(max > 0) || !(v > 0)) return 0;
  return Math.min(255, Math.round((v / max) * 255));
}

export function cssColor(v: number, max: number): string {
  const i = lutIndex(v, max) * 4;
  return `rgb(${LUT[i]},${LUT[i + 1]},${LUT[i + 2]})`;
}

/** Tableau-10-like head colours (repeats beyond 10 heads with a different lightness). */
const HEAD = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export function headColor(h: number): string {
  return HEAD[h % HEAD.length];
}

/** The text colour that reads on a cell of value v. */
export function inkOn(v: number, max: number): string {
  return lutIndex(v, max) > 150 ? '#fff' : '#123';
}
