// The baseline of bench/draw.ts: how the demo drew a map before it drew on the GPU (demo/views/raster.ts at commit
// 7c925b2): one pixel per cell in an offscreen canvas from a CPU copy of the map, then scaled by drawImage. Kept here
// only to be measured against; the demo no longer draws this way.
import { LUT, lutIndex } from '../demo/views/colors.ts';

export function rasterize(m: { rows: number; cols: number; data: Float32Array }, max: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = Math.max(1, m.cols);
  c.height = Math.max(1, m.rows);
  const ctx = c.getContext('2d')!;
  const img = ctx.createImageData(c.width, c.height);
  const px = img.data;
  for (let i = 0; i < m.rows * m.cols; i++) {
    const k = lutIndex(m.data[i], max) * 4;
    px[i * 4] = LUT[k];
    px[i * 4 + 1] = LUT[k + 1];
    px[i * 4 + 2] = LUT[k + 2];
    px[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** A rectangle of the raster (source cells sx, sy, sw, sh) into (x, y, w, h): crisp when enlarging. */
export function blit(ctx: CanvasRenderingContext2D, src: HTMLCanvasElement, s: [number, number, number, number], d: [number, number, number, number]): void {
  ctx.imageSmoothingEnabled = d[2] < s[2] || d[3] < s[3];
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(src, ...s, ...d);
  ctx.imageSmoothingEnabled = true;
}
