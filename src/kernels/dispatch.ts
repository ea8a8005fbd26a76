import type { GpuContext } from '../gpu/context.ts';

/**
 * One kernel call as data: the scheduler (or a test) encodes lists of these into one command buffer.
 * `owned` are the buffers the call created for itself (its uniforms), freed by `release`.
 */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
  owned: GPUBuffer[];
  /** A described kernel's uniforms and pipeline variants, which a rebinding (kernel.ts) updates in place. */
  uniforms?: DispatchUniforms;
}

/** The uniform buffer of a dispatch, the bytes last written to it, and its pipeline variant (defines + constants). */
export interface DispatchUniforms {
  buffer: GPUBuffer;
  data: Uint8Array;
  /** The buffers the dispatch made (uniforms, uploads) by binding name, for a variant's bind group. */
  made: Readonly<Record<string, GPUBuffer>>;
  variant: string;
  /** Pipeline and bind group per variant met so far (a vec4 path that a new shape turns on or off). */
  variants: Map<string, { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup }>;
}

/** A grid must fit the per-dimension limit. */
export function checkGrid(ctx: GpuContext, label: string, workgroups: readonly [number, number, number]): void {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((n) => n > max)) {
    throw new Error(`${label}: grid [${workgroups.join(', ')}] exceeds maxComputeWorkgroupsPerDimension ${max}`);
  }
}

/** Binds `bindings[i]` to @group(0) @binding(i) of `pipeline` (undefined: that binding is compiled out). */
export function makeDispatch(
  ctx: GpuContext,
  label: string,
  pipeline: GPUComputePipeline,
  bindings: readonly (GPUBufferBinding | undefined)[],
  workgroups: readonly [number, number, number],
  owned: GPUBuffer[],
): Dispatch {
  checkGrid(ctx, label, workgroups);
  const bindGroup = ctx.device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: bindings.flatMap((resource, binding) => (resource ? [{ binding, resource }] : [])),
  });
  return { label, pipeline, bindGroup, workgroups, owned };
}

/**
 * A 1-D count of workgroups laid out on x (and y when x would pass the per-dimension limit).
 * Shaders recover the linear id as `wid.x + wid.y * nwg.x` and skip ids past the end.
 */
export function grid1d(ctx: GpuContext, count: number): [number, number, number] {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [Math.max(count, 1), 1, 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y, 1];
}

/** f32 elements a binding exposes to the shader (WGSL clamps accesses past them silently, so kernels check). */
export function bindingElems(b: GPUBufferBinding): number {
  return Math.floor((b.size ?? b.buffer.size - (b.offset ?? 0)) / 4);
}

/** Records one dispatch into a compute pass. */
export function encodeOne(pass: GPUComputePassEncoder, d: Dispatch): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(...d.workgroups);
}

export function encode(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) encodeOne(pass, d);
}

/** Encodes the list into one compute pass of one command buffer, submits it once, and waits for the queue. */
export async function run(ctx: GpuContext, dispatches: readonly Dispatch[], label = 'run'): Promise<void> {
  await ctx.scoped(label, async () => {
    const enc = ctx.device.createCommandEncoder({ label });
    const pass = enc.beginComputePass({ label });
    encode(pass, dispatches);
    pass.end();
    ctx.device.queue.submit([enc.finish()]);
    await ctx.device.queue.onSubmittedWorkDone();
  });
}

export function release(ctx: GpuContext, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) for (const b of d.owned) ctx.buffers.destroy(b);
}
