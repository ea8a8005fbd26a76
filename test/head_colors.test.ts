// The demo's head colours (demo/views/colors.ts): any two heads of a layer of up to 32 heads are told apart. Distances
// in OKLab (Björn Ottosson's matrices), converted here from the hex strings, not from the palette's own maths.
import { describe, expect, it } from 'vitest';
import { formatValue, headColor, headPalette, oklchToRgb } from '../demo/views/colors.ts';

function oklab(hex: string): [number, number, number] {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const l = Math.cbrt(0.4122214708 * r + 0.5363299977 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s, 1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s, 0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s];
}

const dist = (x: string, y: string) => Math.hypot(...oklab(x).map((v, i) => v - oklab(y)[i]));

describe('head colours', () => {
  it('OKLCH conversion: CSS oklch(62.8% 0.2577 29.23) is sRGB red, oklch(100% 0 0) white', () => {
    expect(oklchToRgb(0.62796, 0.25768, 29.2339)).toEqual([255, 0, 0]);
    expect(oklchToRgb(1, 0, 0)).toEqual([255, 255, 255]);
  });

  it('every pair of heads differs in OKLab by over 0.08 up to 16 heads, 0.04 up to 32 (a just-noticeable difference is about 0.02)', () => {
    for (let H = 1; H <= 32; H++) {
      const p = headPalette(H);
      expect(p).toHaveLength(H);
      expect(new Set(p).size).toBe(H);
      let worst = Infinity;
      for (let i = 0; i < H; i++) for (let j = i + 1; j < H; j++) worst = Math.min(worst, dist(p[i], p[j]));
      if (H > 1) expect(worst, `${H} heads`).toBeGreaterThan(H <= 16 ? 0.08 : 0.04);
      if (H === 16 || H === 32) console.log(`${H} heads: smallest OKLab distance ${worst.toFixed(3)}`);
    }
  });

  it('heads 10 and 11 of 12 or 16 are not heads 0 and 1 again', () => {
    for (const H of [12, 16]) {
      expect(headColor(10, H)).not.toBe(headColor(0, H));
      expect(headColor(11, H)).not.toBe(headColor(1, H));
    }
    expect(() => headColor(12, 12)).toThrow('head 12 of 12');
  });

  it('legend values never read 0.00', () => {
    expect(formatValue(0)).toBe('0');
    expect(formatValue(0.5)).toBe('0.5');
    expect(formatValue(0.004567)).toBe('0.0046');
    expect(formatValue(1.234e-5)).toBe('1.2e-5');
    expect(formatValue(1)).toBe('1');
  });
});
