import type { GpuContext } from './gpu/context.ts';
import { GpuError } from './gpu/errors.ts';
import type { HalfDType } from './gpu/half.ts';

/**
 * Element types a tensor can hold on the GPU. Kernels compute in f32; f16 and bf16 are storage only: a weight kept in
 * its checkpoint's 16-bit format, two elements to a u32 word (element i in the low half of word i / 2 when i is even,
 * the high half when odd: a flat packing, so a pair may straddle two rows of an odd row length). Only the kernels
 * that say so read them (matmul's B, embedding's table: shaders/common/half.wgsl).
 */
export type DType = 'f32' | HalfDType;

const BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2 };

/** Bytes a tensor of n elements takes on the GPU: whole u32 words (a packed tensor of odd length ends in a pad half). */
export function storageBytes(n: number, dtype: DType): number {
  return Math.ceil((n * BYTES[dtype]) / 4) * 4;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function checkShape(label: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) throw new GpuError(`tensor ${label}: shape [${shape.join(', ')}] has a dimension that is not a positive integer`, 'shape');
  }
}

/** A GPU buffer with a shape, a dtype and a label. Row-major; the shape's last dim is contiguous. */
export class Tensor {
  private disposed = false;

  private constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly label: string,
  ) {}

  /** An uninitialised tensor. Fails with a message naming the tensor and the limit if it cannot fit one binding. */
  static empty(ctx: GpuContext, shape: readonly number[], label: string, dtype: DType = 'f32'): Tensor {
    checkShape(label, shape);
    const bytes = storageBytes(numel(shape), dtype);
    const limit = ctx.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new GpuError(`tensor ${label} [${shape.join(', ')}] needs ${bytes} bytes, over this device's maxStorageBufferBindingSize of ${limit}`, 'limit');
    }
    ctx.check(`allocating ${label}`);
    return new Tensor(ctx, ctx.buffers.create(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label), shape, dtype, label);
  }

  /**
   * A tensor with a shape and no GPU side: what modules hold while a tree is built only to list its parameters
   * (nn/module.ts ShapeRecorder). No plan is ever recorded on such a tree; its ctx and buffer are absent.
   */
  static shapeOnly(shape: readonly number[], label: string): Tensor {
    return new Tensor(null as unknown as GpuContext, null as unknown as GPUBuffer, shape, 'f32', label);
  }

  static upload(ctx: GpuContext, data: Float32Array, shape: readonly number[], label: string): Tensor {
    checkShape(label, shape);
    if (data.length !== numel(shape)) {
      throw new GpuError(`tensor ${label}: ${data.length} values do not fill shape [${shape.join(', ')}] (${numel(shape)} elements)`, 'shape');
    }
    const t = Tensor.empty(ctx, shape, label);
    ctx.device.queue.writeBuffer(t.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return t;
  }

  get size(): number {
    return numel(this.shape);
  }

  /** Bytes on the GPU (whole words). */
  get byteSize(): number {
    return storageBytes(this.size, this.dtype);
  }

  /** Copies the tensor back through a pooled staging buffer and one mapAsync. */
  async download(): Promise<Float32Array> {
    if (this.dtype !== 'f32') throw new GpuError(`tensor ${this.label}: download of ${this.dtype} is not supported`, 'unsupported');
    this.assertLive();
    const { ctx } = this;
    const staging = ctx.buffers.acquire(this.byteSize, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'staging');
    try {
      await ctx.scoped(`downloading ${this.label}`, async () => {
        const enc = ctx.device.createCommandEncoder({ label: `download ${this.label}` });
        enc.copyBufferToBuffer(this.buffer, 0, staging, 0, this.byteSize);
        ctx.device.queue.submit([enc.finish()]);
        await staging.mapAsync(GPUMapMode.READ, 0, this.byteSize);
      });
      return new Float32Array(staging.getMappedRange(0, this.byteSize).slice(0));
    } finally {
      ctx.buffers.release(staging);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.buffers.destroy(this.buffer);
  }

  private assertLive(): void {
    if (this.disposed) throw new GpuError(`tensor ${this.label} was disposed`, 'shape');
  }
}
