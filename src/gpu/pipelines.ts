import { GpuError } from './errors.ts';
import { preprocess } from './preprocess.ts';

/** What makes one compute pipeline: the kernel's WGSL, its #if defines and its `override` constants. */
export interface PipelineSpec {
  kernel: string;
  source: string;
  defines?: Readonly<Record<string, boolean>>;
  constants?: Readonly<Record<string, number>>;
}

function sortedJson(o: Readonly<Record<string, unknown>> = {}): string {
  return JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
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
      const code = preprocess(spec.kernel, spec.source, spec.defines ?? {});
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
