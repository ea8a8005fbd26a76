// The in-page half of bench/draw.ts (imported by the page through Vite): one L x L map drawn the old way (CPU raster,
// bench/draw_cpu.ts) and by the demo's GPU renderer (demo/gpu/map-renderer.ts), side by side in one page: first paint
// (map data in hand -> pixels on the canvas) and the frame time of a pan at 8x zoom.
import { Viewport } from '../demo/gpu/lod.ts';
import { MapRenderer, uploadValues } from '../demo/gpu/map-renderer.ts';
import { mulberry32 } from '../src/model/sampling.ts';
import { blit, rasterize } from './draw_cpu.ts';

export interface DrawTimes {
  L: number;
  cpu: { firstPaintMs: number; panFrameMs: number[] };
  gpu: { firstPaintMs: number; panFrameMs: number[] };
}

/** Rows of softmax-like weights: a few peaks per row over small noise, each row summing to 1. */
function map(L: number): Float32Array {
  const r = mulberry32(7);
  const d = new Float32Array(L * L);
  for (let i = 0; i < L; i++) {
    let s = 0;
    for (let j = 0; j < L; j++) s += d[i * L + j] = r() ** 8;
    for (let j = 0; j < L; j++) d[i * L + j] /= s;
  }
  return d;
}

const PLOT = 640;

export async function drawBench(L: number, pans: number): Promise<DrawTimes> {
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter!.requestDevice();
  const data = map(L);
  let max = 0;
  for (const v of data) max = Math.max(max, v);
  const canvas = document.createElement('canvas');
  canvas.width = PLOT;
  canvas.height = PLOT;
  document.body.append(canvas);
  const ctx = canvas.getContext('2d')!;
  const settle = () => new Promise((r) => requestAnimationFrame(() => r(undefined)));
  const view = () => {
    const v = new Viewport(L, L, PLOT / L, PLOT, PLOT);
    v.zoomAt(PLOT / 2, PLOT / 2, 8);
    return v;
  };

  // CPU: raster of the whole map, then each frame a scaled rectangle of it
  await settle();
  let t = performance.now();
  const raster = rasterize({ rows: L, cols: L, data }, max);
  blit(ctx, raster, [0, 0, L, L], [0, 0, PLOT, PLOT]);
  ctx.getImageData(0, 0, 1, 1); // the drawing is done, not queued
  const cpuFirst = performance.now() - t;
  const cpuPan: number[] = [];
  let v = view();
  for (let k = 0; k < pans; k++) {
    v.pan(-7, -5);
    t = performance.now();
    const n = PLOT / v.cell;
    blit(ctx, raster, [v.col0, v.row0, n, n], [0, 0, PLOT, PLOT]);
    ctx.getImageData(0, 0, 1, 1);
    cpuPan.push(performance.now() - t);
  }

  // GPU: upload, draw the tile, composite the frame; each pan frame a new draw
  const renderer = new MapRenderer(device);
  await settle();
  t = performance.now();
  const values = uploadValues(device, data, 'bench map');
  const tile = { values, offset: 0, stride: L, rows: L, cols: L, r0: 0, r1: L, c0: 0, c1: L, max };
  const fit = new Viewport(L, L, PLOT / L, PLOT, PLOT);
  await renderer.render(PLOT, PLOT, 1, [{ tile, at: fit.placement(0, 0) }]);
  ctx.drawImage(renderer.frame, 0, 0);
  ctx.getImageData(0, 0, 1, 1);
  const gpuFirst = performance.now() - t;
  const gpuPan: number[] = [];
  v = view();
  for (let k = 0; k < pans; k++) {
    v.pan(-7, -5);
    t = performance.now();
    await renderer.render(PLOT, PLOT, 1, [{ tile, at: v.placement(0, 0) }]);
    ctx.drawImage(renderer.frame, 0, 0);
    ctx.getImageData(0, 0, 1, 1);
    gpuPan.push(performance.now() - t);
  }
  values.buffer.destroy();
  device.destroy();
  canvas.remove();
  return { L, cpu: { firstPaintMs: cpuFirst, panFrameMs: cpuPan }, gpu: { firstPaintMs: gpuFirst, panFrameMs: gpuPan } };
}
