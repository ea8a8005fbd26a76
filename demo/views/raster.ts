// What the 2D canvases share: sizing for the device pixel ratio, fonts, turned column labels. (The attention maps'
// cells are drawn by the GPU: demo/gpu/map-renderer.ts.)

/** Sizes a canvas for the device pixel ratio and returns its 2D context in CSS pixels. */
export function sizeCanvas(canvas: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  canvas.width = Math.max(1, Math.round(w * dpr));
  canvas.height = Math.max(1, Math.round(h * dpr));
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

export const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
export const FONT_SMALL = '10px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
export const UI_FONT = '12px system-ui, -apple-system, "Segoe UI", sans-serif';

/** Longest turned column label drawn. */
const TURNED_MAX = 90;

/**
 * Column labels above a grid of `cell`-wide columns starting at x0, bottom at y: a label stands upright where it fits
 * its cell, else it is turned on its side (subword tokens rarely fit). Measure with the font set; `height` is the
 * room they need above y.
 */
export function columnLabels(ctx: CanvasRenderingContext2D, labels: readonly string[], cell: number) {
  const turned = labels.map((s) => ctx.measureText(s).width > cell - 2);
  const height = labels.reduce((m, s, j) => (turned[j] ? Math.max(m, Math.min(TURNED_MAX, ctx.measureText(s).width) + 10) : m), 0);
  return {
    height,
    draw(x0: number, y: number, color: (j: number) => string): void {
      ctx.textBaseline = 'middle';
      labels.forEach((s, j) => {
        ctx.fillStyle = color(j);
        const cx = x0 + (j + 0.5) * cell;
        if (turned[j]) {
          ctx.save();
          ctx.translate(cx, y + 4);
          ctx.rotate(-Math.PI / 2);
          ctx.textAlign = 'left';
          ctx.fillText(s, 0, 0, TURNED_MAX);
          ctx.restore();
        } else {
          ctx.textAlign = 'center';
          ctx.fillText(s, cx, y);
        }
      });
    },
  };
}
