import type { GpuContext } from '../gpu/context.ts';
import { type Dispatch, encodeOne, release } from '../kernels/dispatch.ts';
import { rebinding } from '../kernels/kernel.ts';
import { describeSteps } from './describe.ts';
import { assignSlots } from './lifetimes.ts';
import { type Act, type Dim, dimAt, type HostStep, type KernelStep, type ModuleCall, type Params, type PlanBuilder, type Resolve, shapeAt, sizeAt, type Step, type StreamStep } from './plan.ts';

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
  /** A gradient plan's backward phase: its dispatches, submits, captures and bytes read back. */
  backward?: { dispatches: number; submits: number; captures: number; readbackBytes: number };
}

/** One encoded operation of a compiled plan; a copy's offsets and size in bytes (Dims: they may follow the params). */
type Item =
  | { kind: 'dispatch'; d: Dispatch; module: string }
  | { kind: 'copy'; from: GPUBuffer; fromOffset: Dim; to: 'staging' | GPUBuffer; offset: Dim; bytes: Dim; key?: string }
  | { kind: 'host'; step: HostStep }
  | { kind: 'stream'; step: StreamStep };

/** A kernel step whose make reads the params, and its dispatches (items [from, to)): made again when they change. */
interface ParamStep {
  step: KernelStep;
  from: number;
  to: number;
}

/** Bytes of `a` at run time. */
const bytesOf = (a: Act): Dim => (a.dims ? { max: a.size * 4, at: (p) => sizeAt(a, p) * 4 } : a.size * 4);
const times4 = (d: Dim): Dim => (typeof d === 'number' ? 4 * d : { max: 4 * d.max, at: (p) => 4 * d.at(p) });

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

/** One part of a plan that runs on its own call: the forward, or the backward after it. */
interface Phase {
  /** Items [from, to) of the plan. */
  from: number;
  to: number;
  inputs: readonly Act[];
  outputs: readonly Act[];
  /** Staging layout: capture keys then outputs, each at a byte offset (room for the most bytes it may take). */
  layout: { key: string; offset: number; bytes: Dim }[];
  stagingBytes: number;
  captures: number;
}

export type PhaseName = 'forward' | 'backward';

/** A phase's staging layout without the captures in `skip`: the rest packed from offset 0 in the same order. */
function without(p: Phase, skip: ReadonlySet<string>): Pick<Phase, 'layout' | 'stagingBytes' | 'captures'> {
  const layout: Phase['layout'] = [];
  let stagingBytes = 0;
  let captures = 0;
  p.layout.forEach((l, i) => {
    if (i < p.captures && skip.has(l.key)) return;
    if (i < p.captures) captures++;
    layout.push({ ...l, offset: stagingBytes });
    stagingBytes += typeof l.bytes === 'number' ? l.bytes : l.bytes.max;
  });
  return { layout, stagingBytes, captures };
}

/**
 * A recorded forward (and, for a gradient plan, its backward) turned into GPU work once: slots allocated, every
 * Dispatch (pipeline + bind group) made. `run` writes the phase's inputs, encodes its steps into one command
 * buffer (compute passes split only where a copy sits), copies captures and outputs into one staging buffer,
 * submits once and maps once. Host steps (transforming hooks) end the command buffer, read back, call the hook
 * and continue. The backward phase reads what the forward phase left in the slots.
 */
export class Plan {
  private disposed = false;
  /** The params the dispatches were last made for (JSON), or undefined while they need making. */
  private applied?: string;

  private constructor(
    private readonly ctx: GpuContext,
    readonly calls: readonly ModuleCall[],
    private readonly steps: readonly Step[],
    private readonly slots: GPUBuffer[],
    private readonly slotOf: Map<number, number>,
    private readonly items: readonly Item[],
    private readonly phases: { forward: Phase; backward?: Phase },
    readonly stats: PlanStats,
    /** Run-time params with their largest values, the steps that follow them, and how their buffers resolve. */
    private readonly params: ReadonlyMap<string, number>,
    private readonly paramSteps: readonly ParamStep[],
    private readonly resolve: Resolve,
  ) {}

  /** Step labels in order ("encoder.layers.0.self_attn: attention (weights)", "capture …"). */
  get labels(): readonly string[] {
    return this.steps.map((s) => s.label);
  }

  /** The plan as a readable list: per step its kernel and label, per buffer the activation, shape, slot and bytes. */
  describe(): string {
    const { dispatches, slots, slotBytes } = this.stats;
    const where = (a: Act) => (this.slotOf.has(a.id) ? `slot ${this.slotOf.get(a.id)}` : 'external');
    return `${this.steps.length} steps, ${dispatches} forward dispatches, ${slots} slots of ${slotBytes} bytes\n${describeSteps(this.steps, where)}`;
  }

  get inputs(): readonly Act[] {
    return this.phases.forward.inputs;
  }

  get outputs(): readonly Act[] {
    return this.phases.forward.outputs;
  }

  get hasBackward(): boolean {
    return !!this.phases.backward;
  }

  static async compile(ctx: GpuContext, b: PlanBuilder, label = 'plan'): Promise<Plan> {
    const bw = b.backward;
    // Constants live from before the first step to past the last, like an input that is also an output.
    const constants = b.acts.filter((a) => b.constants.has(a.id));
    const { slotOf, slotSizes, peakLive } = assignSlots(
      b.acts,
      b.steps,
      [...b.inputs, ...(bw?.inputs ?? []), ...constants],
      [...b.outputs, ...(bw?.outputs ?? []), ...constants, ...b.kept],
      new Set(b.externals.keys()),
      bw?.start,
    );
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
    for (const a of constants) {
      const d = b.constants.get(a.id)!;
      ctx.device.queue.writeBuffer(slot(a), 0, d.buffer, d.byteOffset, d.byteLength);
    }
    const items: Item[] = [];
    const paramSteps: ParamStep[] = [];
    // Dispatches are first made for the largest params; a make that reads them is remembered to be made again.
    const reads = { params: false };
    const largest = new Proxy(Object.fromEntries(b.params), {
      get: (t, k) => {
        reads.params = true;
        return Reflect.get(t, k) as unknown;
      },
    });
    const split = bw?.start ?? b.steps.length;
    // Phases span items, which a step may make several of: their ends are set once the items are made.
    const phase = (inputs: readonly Act[], outputs: readonly Act[]): Phase => ({ from: 0, to: 0, inputs: [...inputs], outputs: [...outputs], layout: [], stagingBytes: 0, captures: 0 });
    const forward = phase(b.inputs, b.outputs);
    const backward = bw && phase(bw.inputs, bw.outputs);
    let splitItem = -1;
    const place = (p: Phase, key: string, bytes: Dim) => {
      p.layout.push({ key, offset: p.stagingBytes, bytes });
      p.stagingBytes += typeof bytes === 'number' ? bytes : bytes.max;
      return p.layout[p.layout.length - 1].offset;
    };
    try {
      for (const [i, step] of b.steps.entries()) {
        if (i === split) splitItem = items.length;
        const p = i < split ? forward : backward!;
        if (step.kind === 'kernel') {
          reads.params = false;
          const from = items.length;
          for (const d of [await step.make(resolve, largest, ctx)].flat()) items.push({ kind: 'dispatch', d, module: step.module });
          if (reads.params) paramSteps.push({ step, from, to: items.length });
        } else if (step.kind === 'capture') {
          const a = step.reads[0];
          items.push({ kind: 'copy', from: slot(a), fromOffset: 0, to: 'staging', offset: place(p, step.key, bytesOf(a)), bytes: bytesOf(a), key: step.key });
        } else if (step.kind === 'fill') {
          const a = step.writes[0];
          items.push({ kind: 'copy', from: step.source, fromOffset: 0, to: slot(a), offset: 0, bytes: a.size * 4 });
        } else if (step.kind === 'copy') {
          items.push({ kind: 'copy', from: slot(step.from), fromOffset: times4(step.fromOffset), to: slot(step.to), offset: times4(step.toOffset), bytes: step.count * 4 });
        } else if (step.kind === 'stream') items.push({ kind: 'stream', step });
        else items.push({ kind: 'host', step });
      }
    } catch (e) {
      release(ctx, items.flatMap((i) => (i.kind === 'dispatch' ? [i.d] : [])));
      for (const s of slots) ctx.buffers.destroy(s);
      throw e;
    }
    forward.to = splitItem < 0 ? items.length : splitItem;
    if (backward) [backward.from, backward.to] = [forward.to, items.length];
    for (const p of [forward, ...(backward ? [backward] : [])]) {
      p.captures = p.layout.length;
      for (const [i, a] of p.outputs.entries()) place(p, `output ${i}`, bytesOf(a));
    }
    const count = (p: Phase, kind: Item['kind']) => items.slice(p.from, p.to).filter((i) => i.kind === kind).length;
    // A stream submits what precedes it, then once per chunk.
    const chunks = (p: Phase) => items.slice(p.from, p.to).reduce((n, i) => n + (i.kind === 'stream' ? 1 + Math.ceil(i.step.len / i.step.rows) : 0), 0);
    const stats: PlanStats = {
      dispatches: count(forward, 'dispatch'),
      submitsPerForward: 1 + count(forward, 'host') + chunks(forward),
      captures: forward.captures,
      readbackBytes: forward.stagingBytes,
      slots: slots.length,
      slotBytes: slotSizes.reduce((x, y) => x + y, 0) * 4,
      peakLiveBytes: peakLive * 4,
      unsharedBytes: b.acts.reduce((x, a) => x + a.size, 0) * 4,
      ...(backward ? { backward: { dispatches: count(backward, 'dispatch'), submits: 1 + count(backward, 'host'), captures: backward.captures, readbackBytes: backward.stagingBytes } } : {}),
    };
    return new Plan(ctx, [...b.calls], [...b.steps], slots, slotOf, items, { forward, backward }, stats, new Map(b.params), paramSteps, resolve);
  }

  /**
   * Where activation `a` lives, for work encoded after a run (relevance rows read a backward's attention
   * probabilities and gradients there). Its contents are the last run's only while no later step of that run reused
   * its slot: true of a phase's outputs and of what the builder kept (PlanBuilder.keep).
   */
  binding(a: Act): GPUBufferBinding {
    if (this.disposed) throw new Error('plan: disposed');
    return this.resolve(a);
  }

  /** The slot of a phase input or output (those are never external). */
  private slot(a: Act): GPUBuffer {
    return this.slots[this.slotOf.get(a.id)!];
  }

  /**
   * The dispatches of the steps that follow the params, made again for `p` where it differs from the last run's:
   * the same dispatches, new uniforms and grids (kernel.ts rebinding).
   */
  private async apply(p: Params, label: string): Promise<void> {
    const given = Object.keys(p);
    const missing = [...this.params.keys()].filter((k) => !(k in p));
    const extra = given.filter((k) => !this.params.has(k));
    if (missing.length || extra.length) throw new Error(`${label}: the plan takes params {${[...this.params.keys()].join(', ')}}, given {${given.join(', ')}}`);
    for (const [k, max] of this.params) {
      if (!Number.isInteger(p[k]) || p[k] < 0 || p[k] > max) throw new Error(`${label}: param ${k} = ${p[k]} is not an integer in [0, ${max}]`);
    }
    const key = JSON.stringify(given.sort().map((k) => p[k]));
    if (key === this.applied) return;
    this.applied = undefined;
    for (const { step, from, to } of this.paramSteps) {
      const r = rebinding(this.ctx, this.items.slice(from, to).map((i) => (i as Extract<Item, { kind: 'dispatch' }>).d), step.label);
      await step.make(this.resolve, p, r.ctx);
      r.finish();
    }
    this.applied = key;
  }

  /**
   * Runs one phase (the forward by default): `data[i]` fills its `inputs[i]`; returns its outputs and captures.
   * With `profile` (needs the timestamp-query feature) every dispatch gets its own compute pass with timestamps,
   * and `timings` comes back. `params` gives the plan's run-time params (b.param), if it has any. Captures whose keys
   * are in `skip` are neither copied nor read back (their activations stay in their slots: `binding`).
   */
  async run(
    data: readonly (Float32Array | Uint32Array)[],
    label = 'forward',
    profile = false,
    phaseName: PhaseName = 'forward',
    params: Params = {},
    skip: ReadonlySet<string> = new Set(),
  ): Promise<RunResult> {
    if (this.disposed) throw new Error(`${label}: the plan was disposed`);
    const phase = this.phases[phaseName];
    if (!phase) throw new Error(`${label}: the plan has no ${phaseName} phase`);
    if (data.length !== phase.inputs.length) throw new Error(`${label}: ${data.length} inputs given, the plan takes ${phase.inputs.length}`);
    await this.apply(params, label);
    const { ctx } = this;
    const q = ctx.device.queue;
    const items = this.items.slice(phase.from, phase.to);
    const dispatches = items.filter((i) => i.kind === 'dispatch');
    if (profile && !ctx.features.has('timestamp-query')) throw new Error(`${label}: profiling needs the timestamp-query feature, which this device lacks`);
    if (profile && dispatches.length > MAX_PROFILED_DISPATCHES) throw new Error(`${label}: ${dispatches.length} dispatches, more than the ${MAX_PROFILED_DISPATCHES} one profiled run can time`);
    const stamps = profile ? new Timestamps(ctx, dispatches.length) : undefined;
    const { stagingBytes, layout, captures: nCaptures } = skip.size ? without(phase, skip) : phase;
    const at = new Map(layout.slice(0, nCaptures).map((l) => [l.key, l.offset]));
    const staging = ctx.buffers.acquire(Math.max(stagingBytes, 4), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${label} staging`);
    try {
      return await ctx.scoped(label, async () => {
        const t0 = performance.now();
        phase.inputs.forEach((a, i) => {
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
        for (const item of items) {
          if (item.kind === 'dispatch') {
            if (stamps) endPass();
            pass ??= enc.beginComputePass({ label, timestampWrites: stamps?.writes() });
            encodeOne(pass, item.d);
          } else if (item.kind === 'copy') {
            endPass();
            if (item.key !== undefined && skip.has(item.key)) continue;
            const d = (x: Dim) => dimAt(x, params);
            const offset = item.key === undefined ? d(item.offset) : at.get(item.key)!;
            enc.copyBufferToBuffer(item.from, d(item.fromOffset), item.to === 'staging' ? staging : item.to, offset, d(item.bytes));
          } else {
            endPass();
            q.submit([enc.finish()]);
            if (item.kind === 'stream') await this.stream(item.step, label);
            else await this.host(item.step, label, params);
            enc = ctx.device.createCommandEncoder({ label });
          }
        }
        endPass();
        stamps?.resolve(enc);
        phase.outputs.forEach((a, i) => enc.copyBufferToBuffer(this.slot(a), 0, staging, layout[nCaptures + i].offset, sizeAt(a, params) * 4));
        q.submit([enc.finish()]);
        const t1 = performance.now();
        const timings = stamps && (await stamps.ms()).map((ms, i) => {
          const d = dispatches[i] as Extract<Item, { kind: 'dispatch' }>;
          return { label: d.d.label, kernel: d.d.pipeline.label, module: d.module, ms };
        });
        if (stagingBytes === 0) {
          await q.onSubmittedWorkDone();
          return { outputs: [], captures: new Map(), timings, cpu: { encodeSubmitMs: t1 - t0, waitMs: performance.now() - t1, readbackMs: 0 } };
        }
        await staging.mapAsync(GPUMapMode.READ, 0, stagingBytes);
        const t2 = performance.now();
        const mapped = staging.getMappedRange(0, stagingBytes);
        const slice = (l: { offset: number; bytes: Dim }) => new Float32Array(mapped.slice(l.offset, l.offset + dimAt(l.bytes, params)));
        const captures = new Map(layout.slice(0, nCaptures).map((l) => [l.key, slice(l)]));
        const outputs = layout.slice(nCaptures).map(slice);
        return { outputs, captures, timings, cpu: { encodeSubmitMs: t1 - t0, waitMs: t2 - t1, readbackMs: performance.now() - t2 } };
      });
    } finally {
      ctx.buffers.release(staging);
      stamps?.dispose();
    }
  }

  /** A host round trip: read the step's inputs back, run it, write its outputs. */
  private async host(step: HostStep, label: string, p: Params): Promise<void> {
    const { ctx } = this;
    const sizes = step.reads.map((a) => sizeAt(a, p) * 4);
    const bytes = sizes.reduce((n, x) => n + x, 0);
    const buf = ctx.buffers.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${label} host read`);
    try {
      const enc = ctx.device.createCommandEncoder({ label: step.label });
      let off = 0;
      step.reads.forEach((a, i) => {
        enc.copyBufferToBuffer(this.slot(a), 0, buf, off, sizes[i]);
        off += sizes[i];
      });
      ctx.device.queue.submit([enc.finish()]);
      await buf.mapAsync(GPUMapMode.READ, 0, bytes);
      const mapped = buf.getMappedRange(0, bytes);
      off = 0;
      const data = sizes.map((n) => new Float32Array(mapped.slice(off, (off += n))));
      buf.unmap();
      const out = await step.run(data, p);
      if (out.length !== step.writes.length) throw new Error(`${step.label}: returned ${out.length} tensors, expected ${step.writes.length}`);
      step.writes.forEach((a, i) => {
        const n = sizeAt(a, p);
        if (out[i].length !== n) throw new Error(`${step.label}: returned ${out[i].length} values for ${a.label}, expected ${n} [${shapeAt(a, p).join(', ')}]`);
        ctx.device.queue.writeBuffer(this.slot(a), 0, out[i].buffer, out[i].byteOffset, out[i].byteLength);
      });
    } finally {
      ctx.buffers.release(buf);
    }
  }

  /** A stream step: its activation read back chunk by chunk through one staging buffer of a chunk's size. */
  private async stream(step: StreamStep, label: string): Promise<void> {
    const { ctx } = this;
    const { outer, len, inner, rows } = step;
    const src = this.slot(step.reads[0]);
    const buf = ctx.buffers.acquire(outer * Math.min(rows, len) * inner * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${label} stream`);
    try {
      for (let from = 0; from < len; from += rows) {
        const to = Math.min(len, from + rows);
        const piece = (to - from) * inner * 4;
        const enc = ctx.device.createCommandEncoder({ label: step.label });
        for (let o = 0; o < outer; o++) enc.copyBufferToBuffer(src, (o * len + from) * inner * 4, buf, o * piece, piece);
        ctx.device.queue.submit([enc.finish()]);
        await buf.mapAsync(GPUMapMode.READ, 0, outer * piece);
        const data = new Float32Array(buf.getMappedRange(0, outer * piece).slice(0));
        buf.unmap();
        await step.deliver(from, to, data);
      }
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
