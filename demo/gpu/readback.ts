// What the page reads back from the GPU: every mapped range of a MAP_READ buffer is counted — data (the library's
// captures and outputs, the views' hover reads) apart from the drawn frames' pixels (map-renderer.ts) — so each
// interaction's readback can be measured and bounded (window.__attnscope.readback()). And the one read the views
// make themselves: one value under the pointer.
import { FRAME_LABEL, type GpuValues } from './map-renderer.ts';

const counted = { data: 0, frames: 0 };

/** Counts the bytes of every getMappedRange on a buffer mapped for reading, from now on. Idempotent. */
export function meterReadback(): void {
  const proto = GPUBuffer.prototype as GPUBuffer & { __metered?: boolean };
  if (proto.__metered) return;
  proto.__metered = true;
  const get = proto.getMappedRange;
  proto.getMappedRange = function (this: GPUBuffer, offset?: number, size?: number) {
    const range = get.call(this, offset, size);
    if (this.mapState === 'mapped' && this.usage & GPUBufferUsage.MAP_READ) counted[this.label === FRAME_LABEL ? 'frames' : 'data'] += range.byteLength;
    return range;
  };
}

/** Bytes read back so far: data (captures, outputs, hovered cells) and frame pixels. */
export const readbackBytes = () => ({ ...counted });

/** Reads value `index` of `values` back (4 bytes); reads are serialised on one staging buffer per device. */
export class CellReader {
  private staging?: GPUBuffer;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly device: GPUDevice) {}

  read(values: GpuValues, index: number): Promise<number> {
    if (!(index >= 0 && index < values.length)) return Promise.reject(new Error(`cell ${index} is outside the ${values.length} values on the GPU`));
    const run = this.queue.then(async () => {
      this.staging ??= this.device.createBuffer({ label: 'hovered cell', size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const enc = this.device.createCommandEncoder({ label: 'hovered cell' });
      enc.copyBufferToBuffer(values.buffer, index * 4, this.staging, 0, 4);
      this.device.queue.submit([enc.finish()]);
      await this.staging.mapAsync(GPUMapMode.READ);
      const v = new Float32Array(this.staging.getMappedRange().slice(0))[0];
      this.staging.unmap();
      return v;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
