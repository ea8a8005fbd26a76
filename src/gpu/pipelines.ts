import { GpuError } from './errors.ts';
import { type BindingKind, declaredBindings, paramsStruct, preprocess, resolveIncludes, type WgslScalar } from './preprocess.ts';

/**
 * What makes one compute pipeline: the kernel's WGSL, its #if defines and its `override` constants; with a kernel
 * descriptor also its uniform struct and bindings (both fixed by kernel and defines, so the cache key holds them).
 */
export interface PipelineSpec {
  kernel: string;
  source: string;
  defines?: Readonly<Record<string, boolean>>;
  constants?: Readonly<Record<string, number>>;
  /** The fields of `struct Params`, generated and prepended to the source (the shader does not declare it). */
  params?: Readonly<Record<string, WgslScalar>>;
  /** What @group(0) @binding(i) must be declared as under these defines (undefined: compiled out). */
  bindings?: readonly (BindingKind | undefined)[];
}

function sortedJson(o: Readonly<Record<string, unknown>> = {}): string {
  return JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/**
 * Under its defines the shader must declare exactly the descriptor's bindings, and under some defines read every
 * uniform field: a mismatch fails here, loudly.
 */
function checkLayout(spec: PipelineSpec, code: string): void {
  const where = `kernel ${spec.kernel} (${sortedJson(spec.defines)})`;
  const declared = declaredBindings(code);
  const want = spec.bindings ?? [];
  for (let i = 0; i < Math.max(want.length, ...[...declared.keys()].map((k) => k + 1)); i++) {
    if (declared.get(i) !== want[i]) {
      throw new GpuError(`${where}: @binding(${i}) is declared ${declared.get(i) ?? 'nowhere'}, the descriptor says ${want[i] ?? 'none'}`, 'validation');
    }
  }
  const full = resolveIncludes(spec.kernel, spec.source);
  for (const name of Object.keys(spec.params ?? {})) {
    if (!new RegExp(`\\.${name}\\b`).test(full)) throw new GpuError(`${where}: uniform ${name} is packed but the shader never reads it`, 'validation');
  }
}

/**
 * Pipelines are built once (createComputePipelineAsync) and shared: the key is kernel + defines + constants.
 * Concurrent requests for the same key share one creation.
 */
export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  get(spec: PipelineSpec): Promise<GPUComputePipeline> {
    const moduleKey = `${spec.kernel}|${sortedJson(spec.defines)}`;
    const key = `${moduleKey}|${sortedJson(spec.constants)}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.create(spec, moduleKey);
      this.pipelines.set(key, pipeline);
      pipeline.catch(() => this.pipelines.delete(key));
    }
    return pipeline;
  }

  private async create(spec: PipelineSpec, moduleKey: string): Promise<GPUComputePipeline> {
    let module = this.modules.get(moduleKey);
    if (!module) {
      const code = (spec.params ? paramsStruct(spec.params) : '') + preprocess(spec.kernel, spec.source, spec.defines ?? {});
      if (spec.bindings) checkLayout(spec, code);
      // Parse errors arrive through the error scope on some implementations, through getCompilationInfo on others.
      this.device.pushErrorScope('validation');
      module = this.device.createShaderModule({ label: spec.kernel, code });
      const scoped = await this.device.popErrorScope();
      if (scoped) throw new GpuError(`kernel ${spec.kernel} (${sortedJson(spec.defines)}) failed to compile: ${scoped.message.split('\n')[0]}`, 'validation');
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length > 0) {
        const where = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
        throw new GpuError(`kernel ${spec.kernel} (${sortedJson(spec.defines)}) failed to compile: ${where}`, 'validation');
      }
      this.modules.set(moduleKey, module);
    }
    try {
      return await this.device.createComputePipelineAsync({
        label: spec.kernel,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: { ...spec.constants } },
      });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new GpuError(`kernel ${spec.kernel}: pipeline creation failed (${sortedJson(spec.constants)}): ${why}`, 'validation');
    }
  }
}
