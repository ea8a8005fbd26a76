/** Live GPU buffer accounting, so leaks show up as numbers (tests read these). */
export interface BufferStats {
  /** Buffers created by this pool and not yet destroyed (in use or parked for reuse). */
  live: number;
  /** Bytes held by those buffers. */
  bytes: number;
  /** Of those, buffers parked in the free lists waiting for reuse. */
  parked: number;
}

/** Rounds a request up to its reuse bucket: powers of two from 256 B, so a pool hit wastes at most half. */
function bucketSize(size: number): number {
  return Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(size, 1))));
}

/**
 * Every GPU buffer attnscope makes comes from here: labelled, counted, and destroyed on dispose.
 * `create` gives an exact-size buffer (weights, activations); `acquire`/`release` recycle bucketed
 * buffers by usage (staging and scratch), so repeated forwards allocate nothing.
 */
export class BufferPool {
  private readonly owned = new Map<GPUBuffer, number>();
  private readonly free = new Map<string, GPUBuffer[]>();
  private parkedCount = 0;

  constructor(private readonly device: GPUDevice) {}

  create(size: number, usage: GPUBufferUsageFlags, label: string, mappedAtCreation = false): GPUBuffer {
    // WebGPU wants sizes in whole 4-byte words for copies and mapping.
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    const buffer = this.device.createBuffer({ size: bytes, usage, label, mappedAtCreation });
    this.owned.set(buffer, bytes);
    return buffer;
  }

  destroy(buffer: GPUBuffer): void {
    if (this.owned.delete(buffer)) buffer.destroy();
  }

  acquire(size: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const bytes = bucketSize(size);
    const list = this.free.get(`${usage}:${bytes}`);
    const reused = list?.pop();
    if (reused) {
      this.parkedCount--;
      return reused;
    }
    return this.create(bytes, usage, label);
  }

  release(buffer: GPUBuffer): void {
    const bytes = this.owned.get(buffer);
    if (bytes === undefined) return;
    if (buffer.mapState !== 'unmapped') buffer.unmap();
    const key = `${buffer.usage}:${bytes}`;
    const list = this.free.get(key) ?? [];
    list.push(buffer);
    this.free.set(key, list);
    this.parkedCount++;
  }

  /** The buffers parked for reuse, e.g. to check that none was left mapped (release unmaps before parking). */
  parkedBuffers(): GPUBuffer[] {
    return [...this.free.values()].flat();
  }

  get stats(): BufferStats {
    let bytes = 0;
    for (const b of this.owned.values()) bytes += b;
    return { live: this.owned.size, bytes, parked: this.parkedCount };
  }

  dispose(): void {
    for (const buffer of this.owned.keys()) buffer.destroy();
    this.owned.clear();
    this.free.clear();
    this.parkedCount = 0;
  }
}
