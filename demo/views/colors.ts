// Colour scales: a sequential map for attention values, categorical colours for heads, and how values read.

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

/** Tableau 10: the head colours of models with up to 10 heads. */
const TABLEAU10 = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** OKLCH (lightness 0–1, chroma, hue in degrees) to sRGB bytes; chroma is reduced until the colour is in gamut. */
export function oklchToRgb(l: number, c: number, hue: number): [number, number, number] {
  const enc = (x: number) => (x <= 0.0031308 ? 12.92 * x : 1.055 * Math.pow(x, 1 / 2.4) - 0.055);
  for (let k = c; ; k -= 0.005) {
    const a = k * Math.cos((hue * Math.PI) / 180);
    const b = k * Math.sin((hue * Math.PI) / 180);
    const l_ = (l + 0.3963377774 * a + 0.2158037573 * b) ** 3;
    const m_ = (l - 0.1055613458 * a - 0.0638541728 * b) ** 3;
    const s_ = (l - 0.0894841775 * a - 1.291485548 * b) ** 3;
    const rgb = [4.0767416621 * l_ - 3.3077115913 * m_ + 0.2309699292 * s_, -1.2684380046 * l_ + 2.6097574011 * m_ - 0.3413193965 * s_, -0.0041960863 * l_ - 0.7034186147 * m_ + 1.707614701 * s_];
    if (k <= 0 || rgb.every((x) => x >= -1e-3 && x <= 1 + 1e-3)) return rgb.map((x) => Math.round(255 * enc(Math.min(1, Math.max(0, x))))) as [number, number, number];
  }
}

const hex = (rgb: readonly number[]) => `#${rgb.map((x) => x.toString(16).padStart(2, '0')).join('')}`;

const palettes = new Map<number, string[]>();

/** Lightness levels of the generated palette, taken in turn. */
const LEVELS = [0.48, 0.66, 0.84];

/**
 * Distinct colours for `heads` heads. Up to 10: Tableau 10. More: hues evenly spaced around OKLCH (perceptually even),
 * lightness cycling through three levels, so heads close in hue differ in lightness (the count is rounded up to a
 * multiple of three for the spacing, so the first and last never meet). test/head_colors.test.ts measures the smallest
 * OKLab distance: 0.09 at 16 heads, 0.047 at 32.
 */
export function headPalette(heads: number): string[] {
  let p = palettes.get(heads);
  if (!p) {
    const spaced = Math.ceil(heads / LEVELS.length) * LEVELS.length;
    p = heads <= TABLEAU10.length ? TABLEAU10.slice(0, Math.max(0, heads)) : Array.from({ length: heads }, (_, h) => hex(oklchToRgb(LEVELS[h % LEVELS.length], 0.18, 25 + (360 * h) / spaced)));
    palettes.set(heads, p);
  }
  return p;
}

/** The colour of head h of a layer of `heads` heads. */
export function headColor(h: number, heads: number): string {
  if (!(h >= 0 && h < heads)) throw new Error(`head ${h} of ${heads}`);
  return headPalette(heads)[h];
}

/** The text colour that reads on a cell of value v. */
export function inkOn(v: number, max: number): string {
  return lutIndex(v, max) > 150 ? '#fff' : '#123';
}

/** A value for a legend or readout: '0', two significant digits down to 0.001, else '1.2e-5' (never '0.00'). */
export function formatValue(v: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e-3 ? String(Number(v.toPrecision(2))) : v.toExponential(1);
}
