import { GpuError } from './errors.ts';
import { type BindingDecl, bindingDecls, paramsStruct, preprocess, resolveIncludes, type WgslScalar } from './preprocess.ts';

/**
 * What makes one compute pipeline: the kernel's WGSL, its #if defines and its `override` constants; from a kernel
 * descriptor also its uniform struct and binding declarations (fixed by kernel and defines: the cache key holds them).
 */
export interface PipelineSpec {
  kernel: string;
  source: string;
  defines?: Readonly<Record<string, boolean>>;
  constants?: Readonly<Record<string, number>>;
  /** The fields of `struct Params`, generated and prepended to the source (the shader does not declare it). */
  params?: Readonly<Record<string, WgslScalar>>;
  /** @group(0) @binding(i) under these defines (undefined: compiled out), declared ahead of the source. */
  bindings?: readonly (BindingDecl | undefined)[];
}

function sortedJson(o: Readonly<Record<string, unknown>> = {}): string {
  return JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/**
 * A described kernel's shader declares no binding of its own and reads every uniform field (under some defines):
 * a mismatch with the descriptor fails here, loudly (a binding the shader lacks fails to compile).
 */
function checkDescribed(spec: PipelineSpec): void {
  const full = resolveIncludes(spec.kernel, spec.source);
  if (/@binding\(/.test(full)) throw new GpuError(`kernel ${spec.kernel}: the shader declares bindings; they come from its descriptor`, 'validation');
  for (const name of Object.keys(spec.params ?? {})) {
    if (!new RegExp(`\\.${name}\\b`).test(full)) throw new GpuError(`kernel ${spec.kernel}: uniform ${name} is packed but the shader never reads it`, 'validation');
  }
}

/**
 * Pipelines are built once (createComputePipelineAsync) and shared: the key is kernel + defines + constants.
 * Concurrent requests for the same key share one creation.
 */
export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  /** `wait`: how the cache awaits the device (GpuContext.wait). */
  constructor(
    private readonly device: GPUDevice,
    private readonly wait: <T>(p: Promise<T>) => Promise<T> = (p) => p,
  ) {}

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
      if (spec.bindings) checkDescribed(spec);
      const prelude = (spec.params ? paramsStruct(spec.params) : '') + (spec.bindings ? bindingDecls(spec.bindings) : '');
      const body = preprocess(spec.kernel, spec.source, spec.defines ?? {});
      // WGSL wants its directives (enable, requires, diagnostic) ahead of every declaration, the generated ones included.
      const directive = /^\s*(?:enable|requires|diagnostic)\b[^;]*;/gm;
      const code = (body.match(directive) ?? []).map((e) => `${e.trim()}\n`).join('') + prelude + body.replace(directive, '');
      // Parse errors arrive through the error scope on some implementations, through getCompilationInfo on others.
      this.device.pushErrorScope('validation');
      module = this.device.createShaderModule({ label: spec.kernel, code });
      const scoped = await this.wait(this.device.popErrorScope());
      if (scoped) throw new GpuError(`kernel ${spec.kernel} (${sortedJson(spec.defines)}) failed to compile: ${scoped.message.split('\n')[0]}`, 'validation');
      const info = await this.wait(module.getCompilationInfo());
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length > 0) {
        const where = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
        throw new GpuError(`kernel ${spec.kernel} (${sortedJson(spec.defines)}) failed to compile: ${where}`, 'validation');
      }
      this.modules.set(moduleKey, module);
    }
    try {
      return await this.wait(
        this.device.createComputePipelineAsync({
          label: spec.kernel,
          layout: 'auto',
          compute: { module, entryPoint: 'main', constants: { ...spec.constants } },
        }),
      );
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new GpuError(`kernel ${spec.kernel}: pipeline creation failed (${sortedJson(spec.constants)}): ${why}`, 'validation');
    }
  }
}
