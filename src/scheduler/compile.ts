import type { GpuContext } from '../gpu/context.ts';
import { type Dispatch, encode, release } from '../kernels/dispatch.ts';
import { assignSlots } from './lifetimes.ts';
import type { Act, ModuleCall, PlanBuilder } from './plan.ts';

export interface PlanStats {
  dispatches: number;
  /** Always 1: the whole forward is one command buffer and one submit. */
  submitsPerForward: number;
  slots: number;
  /** Bytes of the activation slots. */
  slotBytes: number;
  /** Bytes of the largest set of activations alive at once (the floor for slotBytes). */
  peakLiveBytes: number;
  /** Bytes if every activation had its own buffer. */
  unsharedBytes: number;
}

/**
 * A recorded forward turned into GPU work once: slots allocated, every Dispatch (pipeline + bind group)
 * made. `run` writes the inputs, encodes all dispatches into one compute pass, copies the outputs into one
 * staging buffer, submits once and maps once.
 */
export class Plan {
  private disposed = false;

  private constructor(
    private readonly ctx: GpuContext,
    readonly inputs: readonly Act[],
    readonly outputs: readonly Act[],
    readonly calls: readonly ModuleCall[],
    private readonly slots: GPUBuffer[],
    private readonly slotOf: Map<number, number>,
    readonly dispatches: readonly Dispatch[],
    readonly stats: PlanStats,
  ) {}

  static async compile(ctx: GpuContext, b: PlanBuilder, label = 'plan'): Promise<Plan> {
    const { slotOf, slotSizes, peakLive } = assignSlots(b.acts, b.steps, b.inputs, b.outputs);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const limit = ctx.limits.maxStorageBufferBindingSize;
    for (const a of b.acts) {
      if (a.size * 4 > limit) {
        throw new Error(`${label}: activation ${a.label} [${a.shape.join(', ')}] needs ${a.size * 4} bytes, over maxStorageBufferBindingSize ${limit}`);
      }
    }
    const slots = slotSizes.map((n, i) => ctx.buffers.create(n * 4, usage, `${label} slot ${i}`));
    const resolve = (a: Act): GPUBufferBinding => {
      const s = slotOf.get(a.id);
      if (s === undefined) throw new Error(`${label}: activation ${a.label} has no slot`);
      return { buffer: slots[s], offset: 0, size: a.size * 4 };
    };
    const dispatches: Dispatch[] = [];
    try {
      for (const step of b.steps) dispatches.push(await step.make(resolve));
    } catch (e) {
      release(ctx, dispatches);
      for (const s of slots) ctx.buffers.destroy(s);
      throw e;
    }
    const stats: PlanStats = {
      dispatches: dispatches.length,
      submitsPerForward: 1,
      slots: slots.length,
      slotBytes: slotSizes.reduce((x, y) => x + y, 0) * 4,
      peakLiveBytes: peakLive * 4,
      unsharedBytes: b.acts.reduce((x, a) => x + a.size, 0) * 4,
    };
    return new Plan(ctx, [...b.inputs], [...b.outputs], [...b.calls], slots, slotOf, dispatches, stats);
  }

  binding(a: Act): GPUBufferBinding {
    return { buffer: this.slots[this.slotOf.get(a.id)!], offset: 0, size: a.size * 4 };
  }

  /** Runs the plan: `data[i]` fills `inputs[i]`; returns one array per output. */
  async run(data: readonly (Float32Array | Uint32Array)[], label = 'forward'): Promise<Float32Array[]> {
    if (this.disposed) throw new Error(`${label}: the plan was disposed`);
    if (data.length !== this.inputs.length) throw new Error(`${label}: ${data.length} inputs given, the plan takes ${this.inputs.length}`);
    const { ctx } = this;
    const offsets: number[] = [];
    let total = 0;
    for (const o of this.outputs) {
      offsets.push(total);
      total += o.size * 4;
    }
    const staging = ctx.buffers.acquire(Math.max(total, 4), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${label} staging`);
    try {
      return await ctx.scoped(label, async () => {
        this.inputs.forEach((a, i) => {
          const d = data[i];
          if (d.length !== a.size) throw new Error(`${label}: input ${a.label} has ${d.length} values, expected ${a.size} [${a.shape.join(', ')}]`);
          ctx.device.queue.writeBuffer(this.slots[this.slotOf.get(a.id)!], 0, d.buffer, d.byteOffset, d.byteLength);
        });
        const enc = ctx.device.createCommandEncoder({ label });
        const pass = enc.beginComputePass({ label });
        encode(pass, this.dispatches);
        pass.end();
        this.outputs.forEach((a, i) => enc.copyBufferToBuffer(this.slots[this.slotOf.get(a.id)!], 0, staging, offsets[i], a.size * 4));
        ctx.device.queue.submit([enc.finish()]);
        await staging.mapAsync(GPUMapMode.READ, 0, total);
        const mapped = staging.getMappedRange(0, total);
        return this.outputs.map((a, i) => new Float32Array(mapped.slice(offsets[i], offsets[i] + a.size * 4)));
      });
    } finally {
      ctx.buffers.release(staging);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    release(this.ctx, this.dispatches);
    for (const s of this.slots) this.ctx.buffers.destroy(s);
  }
}
