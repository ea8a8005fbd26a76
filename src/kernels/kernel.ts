import type { GpuContext } from '../gpu/context.ts';
import type { PipelineSpec } from '../gpu/pipelines.ts';
import type { BindingDecl, WgslScalar } from '../gpu/preprocess.ts';
import { bindingElems, checkGrid, type Dispatch, makeDispatch } from './dispatch.ts';

/** How a kernel uses a storage buffer: 'write' overwrites it (an output), 'read_write' reads and updates it. */
export type Access = 'read' | 'write' | 'read_write';

/** One binding; its WGSL declaration (named as the key, `array<type>` or the uniform `Params`) is generated from it. */
export interface BindingSpec {
  access: Access | 'uniform';
  /**
   * The array's element type: f32 (default), u32, T (a VEC4 kernel's unit, from shaders/common/units.wgsl), or another
   * alias the shader declares (capitalised: half.wgsl's TH, a weight array's unit whether packed or not).
   */
  type?: string;
  /** The define that compiles the binding in ('!NAME': out). It is never passed: it is set by whether the buffer is given. */
  if?: string;
  /** A 'write' binding that the kernel updates in place (reads too) when this define is on. */
  inPlace?: string;
}

/**
 * What a call reads and writes, by buffer name, in @binding order: what a plan step needs. A composite kernel (several
 * dispatches, e.g. attention as steps) has only this; a WGSL kernel's descriptor extends it.
 */
export interface KernelIO<B extends string = string> {
  readonly name: string;
  readonly bindings: Readonly<Record<B, BindingSpec>>;
}

/**
 * One WGSL kernel as data: its bindings (index = order, the uniform among them), the fields of its uniform struct,
 * and every define its source tests. The shader's binding declarations and `struct Params` are generated from it;
 * the uniform packing, the buffer checks, the defines of optional buffers and a plan step's reads and writes follow.
 */
export interface KernelDesc<B extends string = string, U extends string = string, D extends string = string> extends KernelIO<B> {
  readonly source: string;
  readonly uniforms: Readonly<Record<U, WgslScalar>>;
  readonly defines: readonly D[];
}

/**
 * A binding written as `ACCESS [u32|T|Alias] [if [!]DEFINE] [inplace DEFINE]`, e.g. 'read T if !INPLACE' (see BindingSpec);
 * a typo fails where the descriptor is defined.
 */
function parseBinding(kernelName: string, text: string): BindingSpec {
  const [access, ...rest] = text.trim().split(/\s+/);
  if (!['read', 'write', 'read_write', 'uniform'].includes(access)) throw new Error(`kernel ${kernelName}: binding '${text}' has no access`);
  const spec: BindingSpec = { access: access as BindingSpec['access'] };
  if (rest[0] === 'u32' || /^[A-Z]\w*$/.test(rest[0] ?? '')) spec.type = rest.shift();
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] === 'if' && rest[i + 1]) spec.if = rest[i + 1];
    else if (rest[i] === 'inplace' && rest[i + 1]) spec.inPlace = rest[i + 1];
    else throw new Error(`kernel ${kernelName}: cannot read binding '${text}'`);
  }
  return spec;
}

/** A descriptor as written: bindings in the short form parseBinding reads. */
export type KernelSpec<B extends string, U extends string, D extends string> = Omit<KernelDesc<B, U, D>, 'bindings'> & { bindings: Readonly<Record<B, string>> };

/** Reads a descriptor once, where it is defined, and checks it: one uniform binding, every define it names declared. */
export function kernel<B extends string, U extends string, D extends string>(spec: KernelSpec<B, U, D>): KernelDesc<B, U, D> {
  const bindings = Object.fromEntries(Object.entries<string>(spec.bindings).map(([k, t]) => [k, parseBinding(spec.name, t)])) as Record<B, BindingSpec>;
  const desc = { ...spec, bindings };
  const specs = Object.values<BindingSpec>(bindings);
  if (specs.filter((b) => b.access === 'uniform').length !== 1) throw new Error(`kernel ${desc.name}: needs exactly one uniform binding`);
  for (const b of specs) {
    for (const d of [b.if?.replace(/^!/, ''), b.inPlace]) {
      if (d && !desc.defines.includes(d as D)) throw new Error(`kernel ${desc.name}: binding define ${d} is not among its defines`);
    }
  }
  return desc;
}

/** The same kernel with some bindings named for another entry point (a backward's dx in its forward's y). */
export function renamed<B extends string, C extends string, U extends string, D extends string>(
  desc: KernelDesc<B, U, D>,
  names: Readonly<Record<B, C>>,
): KernelDesc<C, U, D> {
  const bindings = Object.fromEntries(Object.entries<BindingSpec>(desc.bindings).map(([k, b]) => [names[k as B], b])) as Record<C, BindingSpec>;
  return { ...desc, bindings };
}

/** A KernelIO for a composite kernel: storage buffers only. */
export function io<B extends string>(name: string, access: Readonly<Record<B, Access>>): KernelIO<B> {
  const bindings = Object.fromEntries(Object.entries<Access>(access).map(([k, a]) => [k, { access: a }])) as Record<B, BindingSpec>;
  return { name, bindings };
}

type Bufs<B extends string> = Partial<Record<B, GPUBufferBinding | undefined>>;

/**
 * WGSL clamps accesses past a binding silently, so every buffer must hold what the shape reaches (`need`, in 4-byte
 * elements, indexed in 32 bits); and WebGPU forbids a buffer written in a dispatch from being bound there twice.
 */
export function checkBuffers<B extends string>(label: string, kio: KernelIO<B>, bufs: Bufs<B>, need: Partial<Record<B, number>>): void {
  for (const [name, n] of Object.entries<number | undefined>(need)) {
    const b = bufs[name as B];
    if (!b || n === undefined) continue;
    if (n >= 2 ** 32) throw new Error(`${label}: buffer ${name} needs ${n} elements, past 32-bit indexing`);
    if (bindingElems(b) < n) throw new Error(`${label}: buffer ${name} holds ${bindingElems(b)} elements, the shape needs ${n}`);
  }
  const given = (Object.keys(kio.bindings) as B[]).filter((k) => bufs[k]);
  for (const w of given) {
    if (kio.bindings[w].access === 'read') continue;
    for (const o of given) {
      if (o !== w && bufs[o]!.buffer === bufs[w]!.buffer) {
        throw new Error(`${label}: buffer ${w} must not be the same GPUBuffer as ${o} (a buffer written in a dispatch is bound there once)`);
      }
    }
  }
}

/** The access of each binding given `present` (which optional buffers are given): reads and writes of a call. */
export function accessOf<B extends string>(kio: KernelIO<B>, present: (name: B) => boolean): Map<B, Access> {
  const on = (define: string) => (Object.keys(kio.bindings) as B[]).some((k) => kio.bindings[k].if === define && present(k))
    || (Object.keys(kio.bindings) as B[]).some((k) => kio.bindings[k].if === `!${define}` && !present(k));
  const out = new Map<B, Access>();
  for (const k of Object.keys(kio.bindings) as B[]) {
    const { access, inPlace } = kio.bindings[k];
    if (access === 'uniform' || !present(k)) continue;
    out.set(k, access === 'write' && inPlace && on(inPlace) ? 'read_write' : access);
  }
  return out;
}

/** Little-endian words of the uniform struct, field by field as the descriptor orders them (16-byte multiple). */
export function packUniforms<U extends string>(label: string, fields: Readonly<Record<U, WgslScalar>>, values: Readonly<Record<U, number | boolean>>): ArrayBuffer {
  const names = Object.keys(fields) as U[];
  const data = new ArrayBuffer(Math.max(16, Math.ceil(names.length / 4) * 16));
  const view = new DataView(data);
  names.forEach((k, i) => {
    const v = Number(values[k]);
    const type = fields[k];
    if (type === 'f32') view.setFloat32(4 * i, v, true);
    else {
      const [lo, hi] = type === 'u32' ? [0, 2 ** 32] : [-(2 ** 31), 2 ** 31];
      if (!Number.isInteger(v) || v < lo || v >= hi) throw new Error(`${label}: uniform ${k} = ${values[k]} is not a ${type}`);
      if (type === 'u32') view.setUint32(4 * i, v, true);
      else view.setInt32(4 * i, v, true);
    }
  });
  return data;
}

export interface KernelCall<B extends string, U extends string, D extends string> {
  /** Storage buffers by binding name; an optional one (`if`) compiles its define in by being given. */
  bufs: Bufs<B>;
  params: Readonly<Record<U, number | boolean>>;
  /** Elements each given buffer must hold (see checkBuffers). */
  need?: Partial<Record<B, number>>;
  /** The defines not set by an optional buffer. */
  defines?: Readonly<Partial<Record<D, boolean>>>;
  constants?: Readonly<Record<string, number>>;
  workgroups: readonly [number, number, number];
  /**
   * Small storage buffers written from the CPU (a head list): made with the dispatch and freed with it. They are
   * fixed for its life: a rebinding keeps the ones first made.
   */
  uploads?: Partial<Record<B, Uint32Array | Float32Array>>;
}

const REBIND = Symbol('rebind');

/** A context that hands dispatchKernel existing dispatches to update (see rebinding). */
type Rebinding = GpuContext & { [REBIND]: Dispatch[] };

/**
 * A context under which dispatchKernel updates `dispatches`, in order, instead of making new ones: the same kernel
 * function runs with new shapes, its checks and uniform packing as always, and only its uniform bytes (written when
 * they changed) and grid are new. A plan re-runs the steps that read its run-time params this way, so one decode
 * plan serves every token with nothing GPU-side rebuilt. `finish` checks that every dispatch was met.
 */
export function rebinding(ctx: GpuContext, dispatches: readonly Dispatch[], label: string): { ctx: GpuContext; finish(): void } {
  const pending = [...dispatches];
  const re = Object.assign(Object.create(ctx) as GpuContext, { [REBIND]: pending });
  return {
    ctx: re,
    finish() {
      if (pending.length) throw new Error(`${label}: ${pending.length} dispatch(es) were not made again for new params; the step must call its kernels with the context it is given`);
    },
  };
}

/** The next dispatch of a rebinding, updated: uniforms, grid, and the pipeline when a new shape changes its variant. */
async function rebind(
  ctx: Rebinding,
  label: string,
  spec: PipelineSpec,
  bindings: (made: Readonly<Record<string, GPUBuffer>>) => (GPUBufferBinding | undefined)[],
  data: ArrayBuffer,
  workgroups: readonly [number, number, number],
): Promise<Dispatch> {
  const d = ctx[REBIND].shift();
  if (!d?.uniforms || d.label !== label) throw new Error(`${label}: made again for new params, but the plan's dispatch here is ${d ? d.label : 'none'}`);
  const u = d.uniforms;
  const variant = variantOf(spec);
  if (variant !== u.variant) {
    let v = u.variants.get(variant);
    if (!v) {
      const made = makeDispatch(ctx, label, await ctx.pipelines.get(spec), bindings(u.made), workgroups, []);
      v = { pipeline: made.pipeline, bindGroup: made.bindGroup };
      u.variants.set(variant, v);
    }
    [d.pipeline, d.bindGroup, u.variant] = [v.pipeline, v.bindGroup, variant];
  }
  const bytes = new Uint8Array(data);
  if (bytes.some((x, i) => x !== u.data[i])) {
    ctx.device.queue.writeBuffer(u.buffer, 0, data);
    u.data = bytes;
  }
  checkGrid(ctx, label, workgroups);
  d.workgroups = workgroups;
  return d;
}

/** What tells pipelines of one kernel apart. */
const variantOf = (spec: PipelineSpec) => JSON.stringify([spec.defines, spec.constants]);

/** One dispatch of a described kernel: buffers checked, defines completed, pipeline fetched, uniforms packed. */
export async function dispatchKernel<B extends string, U extends string, D extends string>(
  ctx: GpuContext,
  desc: KernelDesc<B, U, D>,
  label: string,
  call: KernelCall<B, U, D>,
): Promise<Dispatch> {
  const names = Object.keys(desc.bindings) as B[];
  checkBuffers(label, desc, call.bufs, call.need ?? {});
  const defines: Record<string, boolean> = { ...call.defines };
  const setBy: Record<string, B> = {};
  for (const k of names) {
    const cond = desc.bindings[k].if;
    if (cond) {
      const d = cond.replace(/^!/, '');
      const on = cond.startsWith('!') !== !!call.bufs[k];
      if (d in setBy && defines[d] !== on) throw new Error(`${label}: buffers ${setBy[d]} and ${k} are given together or not at all`);
      defines[d] = on;
      setBy[d] = k;
    } else if (desc.bindings[k].access !== 'uniform' && !call.bufs[k] && !call.uploads?.[k]) throw new Error(`${label}: buffer ${k} is missing`);
  }
  for (const d of desc.defines) if (!(d in defines)) throw new Error(`${label}: define ${d} is not set`);
  const layout = names.map((name): BindingDecl | undefined => {
    const { access, if: cond, type = 'f32' } = desc.bindings[name];
    if (cond && defines[cond.replace(/^!/, '')] === cond.startsWith('!')) return undefined;
    return { name, kind: access === 'uniform' ? 'uniform' : access === 'read' ? 'read' : 'read_write', type };
  });
  const spec: PipelineSpec = { kernel: desc.name, source: desc.source, defines, constants: call.constants, params: desc.uniforms, bindings: layout };
  const data = packUniforms(label, desc.uniforms, call.params);
  // Buffers the dispatch makes (its uniforms, its uploads) are bound by name in place of the caller's.
  const given = (made: Readonly<Record<string, GPUBuffer>>) => names.map((k) => (made[k] ? { buffer: made[k] } : call.bufs[k]));
  if (REBIND in ctx) return rebind(ctx as Rebinding, label, spec, given, data, call.workgroups);
  const pipeline = await ctx.pipelines.get(spec);
  const made: Record<string, GPUBuffer> = {};
  const create = (k: string, bytes: number, usage: number) => (made[k] = ctx.buffers.create(bytes, usage | GPUBufferUsage.COPY_DST, `${label} ${k}`));
  try {
    const uniform = names.find((k) => desc.bindings[k].access === 'uniform')!;
    ctx.device.queue.writeBuffer(create(uniform, data.byteLength, GPUBufferUsage.UNIFORM), 0, data);
    for (const [k, v] of Object.entries(call.uploads ?? {}) as [B, Uint32Array | Float32Array][]) {
      ctx.device.queue.writeBuffer(create(k, v.byteLength, GPUBufferUsage.STORAGE), 0, v.buffer, v.byteOffset, v.byteLength);
    }
    const d = makeDispatch(ctx, label, pipeline, given(made), call.workgroups, Object.values(made));
    const variant = variantOf(spec);
    d.uniforms = { buffer: made[uniform], data: new Uint8Array(data), made, variant, variants: new Map([[variant, { pipeline: d.pipeline, bindGroup: d.bindGroup }]]) };
    return d;
  } catch (e) {
    for (const b of Object.values(made)) ctx.buffers.destroy(b);
    throw e;
  }
}
