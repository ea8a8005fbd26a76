// Attention maps drawn by a WebGPU render pipeline on the model's own device, straight from GPU buffers: a view
// lists tiles (exact windows or downsampled grids, see map.wgsl), the renderer draws them into a texture, and the
// view composites the frame under its labels (one visible 2D canvas per view, so exports and hit testing see one
// image). The map values are never read back to draw; the frame's pixels are (w x h x 4 bytes, whatever the map's
// size): a WebGPU canvas context would present them without that copy, but in headless Chromium on SwiftShader one
// presents nothing and breaks every later mapAsync of the device (docs/long-context-demo.md), so the frame comes back
// through a copy to a mapped buffer labelled FRAME_LABEL.
import { LUT } from '../views/colors.ts';
import source from './map.wgsl?raw';

/** Values on the GPU: f32, row r of a grid at offset + r * stride (in values). */
export interface GpuValues {
  buffer: GPUBuffer;
  /** Values the buffer holds. */
  length: number;
}

/** A grid of values covering map cells [c0, c1) x [r0, r1): exact when rows = r1 - r0 and cols = c1 - c0. */
export interface Tile {
  values: GpuValues;
  offset: number;
  stride: number;
  rows: number;
  cols: number;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
  /** Value at the top of the colour scale. */
  max: number;
}

/** Where a tile is drawn: a rectangle in CSS pixels, the map (col, row) at its top-left corner, CSS pixels per cell. */
export interface Placement {
  x: number;
  y: number;
  w: number;
  h: number;
  col0: number;
  row0: number;
  cellW: number;
  cellH: number;
}

const TILE_BYTES = 80; // struct Tile in map.wgsl
/** Label of the buffers frames are read back through (the readback meter counts them apart from map data). */
export const FRAME_LABEL = 'attention map frame';
const SLOT = 256; // minUniformBufferOffsetAlignment

export const isExact = (t: Tile) => t.rows === t.r1 - t.r0 && t.cols === t.c1 - t.c0;

/** Puts values on the GPU for the views (readable by the hover read). */
export function uploadValues(device: GPUDevice, data: Float32Array, label: string): GpuValues {
  const buffer = device.createBuffer({ label, size: Math.max(16, Math.ceil(data.byteLength / 4) * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  return { buffer, length: data.length };
}

export class MapRenderer {
  private readonly pipeline: GPURenderPipeline;
  private readonly lut: GPUBuffer;
  private target?: { texture: GPUTexture; staging: GPUBuffer; w: number; h: number; bytesPerRow: number };
  /** The last frame, in a 2D canvas the view draws from. */
  readonly frame = document.createElement('canvas');
  private queue: Promise<unknown> = Promise.resolve();
  /** Frames asked for; a frame asked for while another is drawn replaces any waiting one. */
  private asked = 0;
  private uniforms?: GPUBuffer;
  private readonly layout: GPUBindGroupLayout;
  private groups = new WeakMap<GPUBuffer, GPUBindGroup>();
  private groupsFor?: GPUBuffer;
  /** Frames drawn, for tests and benches. */
  frames = 0;

  constructor(private readonly device: GPUDevice) {
    const format: GPUTextureFormat = 'rgba8unorm';
    const module = device.createShaderModule({ label: 'attention map', code: source });
    this.layout = device.createBindGroupLayout({
      label: 'attention map',
      entries: [
        { binding: 0, visibility: GPUShaderStage.VERTEX | GPUShaderStage.FRAGMENT, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: TILE_BYTES } },
        { binding: 1, visibility: GPUShaderStage.FRAGMENT, buffer: { type: 'read-only-storage' } },
        { binding: 2, visibility: GPUShaderStage.FRAGMENT, buffer: { type: 'read-only-storage' } },
      ],
    });
    this.pipeline = device.createRenderPipeline({
      label: 'attention map',
      layout: device.createPipelineLayout({ bindGroupLayouts: [this.layout] }),
      vertex: { module, entryPoint: 'vs' },
      fragment: { module, entryPoint: 'fs', targets: [{ format }] },
      primitive: { topology: 'triangle-strip' },
    });
    this.lut = device.createBuffer({ label: 'attention map LUT', size: 1024, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.lut, 0, new Uint32Array(LUT.buffer as ArrayBuffer, LUT.byteOffset, 256));
  }

  private bindGroup(values: GPUBuffer): GPUBindGroup {
    let g = this.groups.get(values);
    if (!g) {
      g = this.device.createBindGroup({
        layout: this.layout,
        entries: [
          { binding: 0, resource: { buffer: this.uniforms!, size: TILE_BYTES } },
          { binding: 1, resource: { buffer: values } },
          { binding: 2, resource: { buffer: this.lut } },
        ],
      });
      this.groups.set(values, g);
    }
    return g;
  }

  /**
   * Draws `tiles` (later ones over earlier ones) into a w x h CSS-pixel frame at `dpr`, each tile's quad clipped to
   * its placement; resolves true once `frame` holds it, false when a later call superseded it before it was drawn.
   */
  render(w: number, h: number, dpr: number, draws: readonly { tile: Tile; at: Placement }[]): Promise<boolean> {
    const n = ++this.asked;
    const run = this.queue.then(() => (n === this.asked ? this.draw(w, h, dpr, draws) : false));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private targetFor(W: number, H: number) {
    const t = this.target;
    if (t && t.w === W && t.h === H) return t;
    t?.texture.destroy();
    t?.staging.destroy();
    const bytesPerRow = Math.ceil((W * 4) / 256) * 256;
    this.target = {
      texture: this.device.createTexture({ label: 'attention map frame', size: [W, H], format: 'rgba8unorm', usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC }),
      staging: this.device.createBuffer({ label: FRAME_LABEL, size: bytesPerRow * H, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
      w: W,
      h: H,
      bytesPerRow,
    };
    return this.target;
  }

  private async draw(w: number, h: number, dpr: number, draws: readonly { tile: Tile; at: Placement }[]): Promise<boolean> {
    const W = Math.max(1, Math.round(w * dpr));
    const H = Math.max(1, Math.round(h * dpr));
    const target = this.targetFor(W, H);
    const need = Math.max(1, draws.length) * SLOT;
    if (!this.uniforms || this.uniforms.size < need) {
      this.uniforms?.destroy();
      this.uniforms = this.device.createBuffer({ label: 'attention map tiles', size: need * 2, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    }
    if (this.groupsFor !== this.uniforms) {
      // bind groups name the uniform buffer: a new one needs new groups (the WeakMap forgets the old)
      this.groups = new WeakMap();
      this.groupsFor = this.uniforms;
    }
    const bytes = new ArrayBuffer(draws.length * SLOT);
    draws.forEach(({ tile: t, at }, i) => {
      const f = new Float32Array(bytes, i * SLOT, TILE_BYTES / 4);
      const u = new Uint32Array(bytes, i * SLOT, TILE_BYTES / 4);
      f.set([at.x * dpr, at.y * dpr, at.w * dpr, at.h * dpr, W, H, at.col0, at.row0, at.cellW * dpr, at.cellH * dpr, t.max]);
      u[11] = t.offset;
      u.set([t.c0, t.r0, t.c1, t.r1, t.cols, t.rows, t.stride], 12);
    });
    if (draws.length) this.device.queue.writeBuffer(this.uniforms, 0, bytes);
    const enc = this.device.createCommandEncoder({ label: 'attention map frame' });
    const pass = enc.beginRenderPass({
      colorAttachments: [{ view: target.texture.createView(), loadOp: 'clear', storeOp: 'store', clearValue: { r: 1, g: 1, b: 1, a: 1 } }],
    });
    pass.setPipeline(this.pipeline);
    draws.forEach(({ tile, at }, i) => {
      const x0 = Math.max(0, Math.floor(at.x * dpr));
      const y0 = Math.max(0, Math.floor(at.y * dpr));
      const x1 = Math.min(W, Math.ceil((at.x + at.w) * dpr));
      const y1 = Math.min(H, Math.ceil((at.y + at.h) * dpr));
      if (x1 <= x0 || y1 <= y0) return;
      pass.setScissorRect(x0, y0, x1 - x0, y1 - y0);
      pass.setBindGroup(0, this.bindGroup(tile.values.buffer), [i * SLOT]);
      pass.draw(4);
    });
    pass.end();
    enc.copyTextureToBuffer({ texture: target.texture }, { buffer: target.staging, bytesPerRow: target.bytesPerRow }, [W, H]);
    this.device.queue.submit([enc.finish()]);
    await target.staging.mapAsync(GPUMapMode.READ);
    const rows = new Uint8Array(target.staging.getMappedRange());
    const img = new ImageData(W, H);
    for (let y = 0; y < H; y++) img.data.set(rows.subarray(y * target.bytesPerRow, y * target.bytesPerRow + W * 4), y * W * 4);
    target.staging.unmap();
    if (this.frame.width !== W || this.frame.height !== H) {
      this.frame.width = W;
      this.frame.height = H;
    }
    this.frame.getContext('2d')!.putImageData(img, 0, 0);
    this.frames++;
    return true;
  }
}
