import type { GpuContext } from '../gpu/context.ts';
import { type Dispatch, encodeOne, release } from '../kernels/dispatch.ts';
import { assignSlots } from './lifetimes.ts';
import type { Act, HostStep, ModuleCall, PlanBuilder } from './plan.ts';

export interface PlanStats {
  dispatches: number;
  /** Submits per forward: 1, plus one per host round trip (transforming hooks that feed the computation). */
  submitsPerForward: number;
  /** Captures copied into the forward's staging buffer. */
  captures: number;
  /** Bytes read back per forward: captures plus outputs. */
  readbackBytes: number;
  slots: number;
  /** Bytes of the activation slots. */
  slotBytes: number;
  /** Bytes of the largest set of activations alive at once (the floor for slotBytes). */
  peakLiveBytes: number;
  /** Bytes if every activation had its own buffer. */
  unsharedBytes: number;
}

/** One encoded operation of a compiled plan. */
type Item =
  | { kind: 'dispatch'; d: Dispatch; module: string }
  | { kind: 'copy'; from: GPUBuffer; fromOffset: number; to: 'staging' | GPUBuffer; offset: number; bytes: number }
  | { kind: 'host'; step: HostStep };

/** GPU time of one dispatch (timestamp queries around its own compute pass). */
export interface DispatchTiming {
  /** The dispatch's label: module path and what it does. */
  label: string;
  /** The kernel (pipeline) name: matmul, attention, … */
  kernel: string;
  /** The module path that recorded it ('' for the model's own steps). */
  module: string;
  ms: number;
}

export interface RunResult {
  outputs: Float32Array[];
  /** Capture key -> data, in the order the captures were recorded. */
  captures: Map<string, Float32Array>;
  /** With `profile`: GPU time per dispatch, in plan order. */
  timings?: DispatchTiming[];
  /** CPU side: writing inputs + encoding + submitting; waiting for the GPU and the map; copying results out. */
  cpu: { encodeSubmitMs: number; waitMs: number; readbackMs: number };
}

/** Timestamp queries of a profiled run: two per dispatch, resolved into one buffer and read with the staging map. */
class Timestamps {
  readonly set: GPUQuerySet;
  readonly resolved: GPUBuffer;
  readonly read: GPUBuffer;
  next = 0;

  constructor(
    private readonly ctx: GpuContext,
    readonly count: number,
  ) {
    this.set = ctx.device.createQuerySet({ type: 'timestamp', count: 2 * count, label: 'profile' });
    this.resolved = ctx.buffers.create(16 * count, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'profile resolve');
    this.read = ctx.buffers.create(16 * count, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'profile read');
  }

  writes(): GPUComputePassTimestampWrites {
    const i = this.next++;
    return { querySet: this.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  resolve(enc: GPUCommandEncoder): void {
    enc.resolveQuerySet(this.set, 0, 2 * this.count, this.resolved, 0);
    enc.copyBufferToBuffer(this.resolved, 0, this.read, 0, 16 * this.count);
  }

  async ms(): Promise<number[]> {
    await this.read.mapAsync(GPUMapMode.READ);
    const t = new BigInt64Array(this.read.getMappedRange().slice(0));
    this.read.unmap();
    return Array.from({ length: this.count }, (_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1e6);
  }

  dispose(): void {
    this.set.destroy();
    this.ctx.buffers.destroy(this.resolved);
    this.ctx.buffers.destroy(this.read);
  }
}

/** The most dispatches one profiled run can time (two timestamps each in one query set). */
export const MAX_PROFILED_DISPATCHES = 2048;

/**
 * A recorded forward turned into GPU work once: slots allocated, every Dispatch (pipeline + bind group)
 * made. `run` writes the inputs, encodes everything into one command buffer (compute passes split only where
 * a capture copy sits), copies captures and outputs into one staging buffer, submits once and maps once.
 * Host steps (transforming hooks) end the command buffer, read back, call the hook and continue.
 */
export class Plan {
  private disposed = false;

  private constructor(
    private readonly ctx: GpuContext,
    readonly inputs: readonly Act[],
    readonly outputs: readonly Act[],
    readonly calls: readonly ModuleCall[],
    /** Step labels in order ("encoder.layers.0.self_attn: attention (weights)", "capture …"). */
    readonly labels: readonly string[],
    private readonly slots: GPUBuffer[],
    private readonly slotOf: Map<number, number>,
    private readonly items: readonly Item[],
    /** Staging layout: capture keys then outputs, each at a byte offset. */
    private readonly layout: { key: string; offset: number; bytes: number }[],
    private readonly stagingBytes: number,
    readonly stats: PlanStats,
  ) {}

  static async compile(ctx: GpuContext, b: PlanBuilder, label = 'plan'): Promise<Plan> {
    const { slotOf, slotSizes, peakLive } = assignSlots(b.acts, b.steps, b.inputs, b.outputs, new Set(b.externals.keys()));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const limit = ctx.limits.maxStorageBufferBindingSize;
    for (const a of b.acts) {
      if (a.size * 4 > limit) {
        throw new Error(`${label}: activation ${a.label} [${a.shape.join(', ')}] needs ${a.size * 4} bytes, over maxStorageBufferBindingSize ${limit}`);
      }
    }
    const slots = slotSizes.map((n, i) => ctx.buffers.create(n * 4, usage, `${label} slot ${i}`));
    const slot = (a: Act): GPUBuffer => {
      const ext = b.externals.get(a.id);
      if (ext) return ext;
      const s = slotOf.get(a.id);
      if (s === undefined) throw new Error(`${label}: activation ${a.label} has no slot`);
      return slots[s];
    };
    const resolve = (a: Act): GPUBufferBinding => ({ buffer: slot(a), offset: 0, size: a.size * 4 });
    const items: Item[] = [];
    const layout: { key: string; offset: number; bytes: number }[] = [];
    let staging = 0;
    const place = (key: string, bytes: number) => {
      layout.push({ key, offset: staging, bytes });
      staging += bytes;
      return layout[layout.length - 1].offset;
    };
    try {
      for (const step of b.steps) {
        if (step.kind === 'kernel') items.push({ kind: 'dispatch', d: await step.make(resolve), module: step.module });
        else if (step.kind === 'capture') {
          const a = step.reads[0];
          items.push({ kind: 'copy', from: slot(a), fromOffset: 0, to: 'staging', offset: place(step.key, a.size * 4), bytes: a.size * 4 });
        } else if (step.kind === 'fill') {
          const a = step.writes[0];
          items.push({ kind: 'copy', from: step.source, fromOffset: 0, to: slot(a), offset: 0, bytes: a.size * 4 });
        } else if (step.kind === 'copy') {
          items.push({ kind: 'copy', from: slot(step.from), fromOffset: step.fromOffset * 4, to: slot(step.to), offset: step.toOffset * 4, bytes: step.count * 4 });
        } else items.push({ kind: 'host', step });
      }
    } catch (e) {
      release(ctx, items.flatMap((i) => (i.kind === 'dispatch' ? [i.d] : [])));
      for (const s of slots) ctx.buffers.destroy(s);
      throw e;
    }
    const captures = layout.length;
    for (const [i, a] of b.outputs.entries()) place(`output ${i}`, a.size * 4);
    const stats: PlanStats = {
      dispatches: items.filter((i) => i.kind === 'dispatch').length,
      submitsPerForward: 1 + items.filter((i) => i.kind === 'host').length,
      captures,
      readbackBytes: staging,
      slots: slots.length,
      slotBytes: slotSizes.reduce((x, y) => x + y, 0) * 4,
      peakLiveBytes: peakLive * 4,
      unsharedBytes: b.acts.reduce((x, a) => x + a.size, 0) * 4,
    };
    return new Plan(ctx, [...b.inputs], [...b.outputs], [...b.calls], b.steps.map((st) => st.label), slots, slotOf, items, layout, staging, stats);
  }

  /** The slot of a plan input or output (those are never external). */
  private slot(a: Act): GPUBuffer {
    return this.slots[this.slotOf.get(a.id)!];
  }

  /**
   * Runs the plan: `data[i]` fills `inputs[i]`; returns the outputs and the captures. With `profile` (needs the
   * timestamp-query feature) every dispatch gets its own compute pass with timestamps, and `timings` comes back.
   */
  async run(data: readonly (Float32Array | Uint32Array)[], label = 'forward', profile = false): Promise<RunResult> {
    if (this.disposed) throw new Error(`${label}: the plan was disposed`);
    if (data.length !== this.inputs.length) throw new Error(`${label}: ${data.length} inputs given, the plan takes ${this.inputs.length}`);
    const { ctx } = this;
    const q = ctx.device.queue;
    const dispatches = this.items.filter((i) => i.kind === 'dispatch');
    if (profile && !ctx.features.has('timestamp-query')) throw new Error(`${label}: profiling needs the timestamp-query feature, which this device lacks`);
    if (profile && dispatches.length > MAX_PROFILED_DISPATCHES) throw new Error(`${label}: ${dispatches.length} dispatches, more than the ${MAX_PROFILED_DISPATCHES} one profiled run can time`);
    const stamps = profile ? new Timestamps(ctx, dispatches.length) : undefined;
    const staging = ctx.buffers.acquire(Math.max(this.stagingBytes, 4), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${label} staging`);
    try {
      return await ctx.scoped(label, async () => {
        const t0 = performance.now();
        this.inputs.forEach((a, i) => {
          const d = data[i];
          if (d.length !== a.size) throw new Error(`${label}: input ${a.label} has ${d.length} values, expected ${a.size} [${a.shape.join(', ')}]`);
          q.writeBuffer(this.slot(a), 0, d.buffer, d.byteOffset, d.byteLength);
        });
        let enc = ctx.device.createCommandEncoder({ label });
        let pass: GPUComputePassEncoder | undefined;
        const endPass = () => {
          pass?.end();
          pass = undefined;
        };
        for (const item of this.items) {
          if (item.kind === 'dispatch') {
            if (stamps) endPass();
            pass ??= enc.beginComputePass({ label, timestampWrites: stamps?.writes() });
            encodeOne(pass, item.d);
          } else if (item.kind === 'copy') {
            endPass();
            enc.copyBufferToBuffer(item.from, item.fromOffset, item.to === 'staging' ? staging : item.to, item.offset, item.bytes);
          } else {
            endPass();
            q.submit([enc.finish()]);
            await this.host(item.step, label);
            enc = ctx.device.createCommandEncoder({ label });
          }
        }
        endPass();
        stamps?.resolve(enc);
        const nCaptures = this.stats.captures;
        this.outputs.forEach((a, i) => enc.copyBufferToBuffer(this.slot(a), 0, staging, this.layout[nCaptures + i].offset, a.size * 4));
        q.submit([enc.finish()]);
        const t1 = performance.now();
        const timings = stamps && (await stamps.ms()).map((ms, i) => {
          const d = dispatches[i] as Extract<Item, { kind: 'dispatch' }>;
          return { label: d.d.label, kernel: d.d.pipeline.label, module: d.module, ms };
        });
        if (this.stagingBytes === 0) {
          await q.onSubmittedWorkDone();
          return { outputs: [], captures: new Map(), timings, cpu: { encodeSubmitMs: t1 - t0, waitMs: performance.now() - t1, readbackMs: 0 } };
        }
        await staging.mapAsync(GPUMapMode.READ, 0, this.stagingBytes);
        const t2 = performance.now();
        const mapped = staging.getMappedRange(0, this.stagingBytes);
        const slice = (l: { offset: number; bytes: number }) => new Float32Array(mapped.slice(l.offset, l.offset + l.bytes));
        const captures = new Map(this.layout.slice(0, nCaptures).map((l) => [l.key, slice(l)]));
        const outputs = this.layout.slice(nCaptures).map(slice);
        return { outputs, captures, timings, cpu: { encodeSubmitMs: t1 - t0, waitMs: t2 - t1, readbackMs: performance.now() - t2 } };
      });
    } finally {
      ctx.buffers.release(staging);
      stamps?.dispose();
    }
  }

  /** A host round trip: read the step's inputs back, run it, write its outputs. */
  private async host(step: HostStep, label: string): Promise<void> {
    const { ctx } = this;
    const bytes = step.reads.reduce((n, a) => n + a.size * 4, 0);
    const buf = ctx.buffers.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${label} host read`);
    try {
      const enc = ctx.device.createCommandEncoder({ label: step.label });
      let off = 0;
      for (const a of step.reads) {
        enc.copyBufferToBuffer(this.slot(a), 0, buf, off, a.size * 4);
        off += a.size * 4;
      }
      ctx.device.queue.submit([enc.finish()]);
      await buf.mapAsync(GPUMapMode.READ, 0, bytes);
      const mapped = buf.getMappedRange(0, bytes);
      off = 0;
      const data = step.reads.map((a) => {
        const d = new Float32Array(mapped.slice(off, off + a.size * 4));
        off += a.size * 4;
        return d;
      });
      buf.unmap();
      const out = await step.run(data);
      if (out.length !== step.writes.length) throw new Error(`${step.label}: returned ${out.length} tensors, expected ${step.writes.length}`);
      step.writes.forEach((a, i) => {
        if (out[i].length !== a.size) throw new Error(`${step.label}: returned ${out[i].length} values for ${a.label}, expected ${a.size} [${a.shape.join(', ')}]`);
        ctx.device.queue.writeBuffer(this.slot(a), 0, out[i].buffer, out[i].byteOffset, out[i].byteLength);
      });
    } finally {
      ctx.buffers.release(buf);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    release(this.ctx, this.items.flatMap((i) => (i.kind === 'dispatch' ? [i.d] : [])));
    for (const s of this.slots) this.ctx.buffers.destroy(s);
  }
}
