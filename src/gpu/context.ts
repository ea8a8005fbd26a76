import { BufferPool } from './buffers.ts';
import { GpuError } from './errors.ts';
import { PipelineCache } from './pipelines.ts';

/** Features the kernels use when the adapter has them; none is required. */
export const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];

/** Limits raised to the adapter's maximum: large models need big bindings and workgroup memory. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

export type LimitName = (typeof RAISED_LIMITS)[number];

export interface GpuRequirements {
  /** Who asks (a model name), used in error messages. */
  who?: string;
  features?: GPUFeatureName[];
  limits?: Partial<Record<LimitName, number>>;
  /** Kernel choices for this device; each defaults to defaultKernels(adapter). */
  kernels?: Partial<KernelChoice>;
}

/**
 * Which kernels do the work, per device:
 * - attention: 'fused' is one flash-style kernel per attention (online softmax, probabilities written only when
 *   captured); 'steps' is matmul -> masked softmax -> matmul, always writing the probabilities.
 * - matmul: 'tiled' shares workgroup tiles through workgroup memory (barriers per K step); 'direct' has each
 *   invocation compute a 16x16 block straight from global memory, with no barriers.
 */
export interface KernelChoice {
  attention: 'fused' | 'steps';
  matmul: 'tiled' | 'direct';
  /** Threads per row of row reductions (layer norm): 'wide' 64-256, 'narrow' 4. */
  rows: 'wide' | 'narrow';
}

/**
 * Steps, direct and narrow on SwiftShader, fused, tiled and wide elsewhere. A CPU adapter pays per invocation at
 * every workgroup barrier and gains nothing from workgroup memory: there the steps attention runs 3-6x faster than
 * the fused kernel, the direct matmul 2-3x faster than the tiled one (bench:kernels), and layer norm with 4 threads
 * per row 9x ([64, 256]) to 45x ([128, 512]) faster than with 64 or 256. GPUs get the kernels designed for them;
 * which are faster on a real GPU is not measured yet.
 */
export function defaultKernels(info: GPUAdapterInfo): KernelChoice {
  return isCpuAdapter(info) ? { attention: 'steps', matmul: 'direct', rows: 'narrow' } : { attention: 'fused', matmul: 'tiled', rows: 'wide' };
}

/** Whether the adapter runs its shaders on the CPU (SwiftShader). */
export function isCpuAdapter(info: GPUAdapterInfo): boolean {
  return /swiftshader/i.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/**
 * Called as the context starts waiting for the device (a map, the queue, a pipeline, error scopes); returns the
 * function that ends that wait. Waits may overlap. The default does nothing; Node on a CPU adapter naps
 * (src/gpu/nap.ts).
 */
export type WaitHook = () => () => void;

const NO_WAIT_HOOK: WaitHook = () => () => {};

/** Turns (adapter, requirements) into a device descriptor, or an error naming what is missing. */
export function deviceDescriptor(adapter: GPUAdapter, req: GpuRequirements = {}): GPUDeviceDescriptor {
  const who = req.who ?? 'attnscope';
  for (const f of req.features ?? []) {
    if (!adapter.features.has(f)) throw new GpuError(`${who} needs the WebGPU feature '${f}', which this adapter lacks`, 'unsupported');
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const offered = adapter.limits[name];
    const needed = req.limits?.[name] ?? 0;
    if (needed > offered) throw new GpuError(`${who} needs ${name} >= ${needed}, this adapter offers ${offered}`, 'limit');
    requiredLimits[name] = offered;
  }
  const wanted = new Set<GPUFeatureName>([...OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)), ...(req.features ?? [])]);
  return { label: `${who} device`, requiredFeatures: [...wanted], requiredLimits };
}

/**
 * One GPU device and what hangs off it: the pipeline cache, the buffer pool, error handling.
 * Errors from error scopes become thrown GpuErrors; uncaptured ones are kept and thrown at the next
 * `check`; device loss makes every later call throw a device-lost error.
 */
export class GpuContext {
  readonly pipelines: PipelineCache;
  readonly buffers: BufferPool;
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  /** The kernels models use; plans are keyed by the choice, so it may be changed between forwards. */
  kernels: KernelChoice;
  private lostInfo: GPUDeviceLostInfo | undefined;
  private uncaptured: GPUError | undefined;
  private disposed = false;

  /**
   * `gpu` is the GPU object the adapter came from. It is held for as long as the context lives: Dawn tears
   * its instance down when that object is collected, and a device outliving it crashes the process.
   */
  constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: GPUAdapterInfo,
    readonly gpu: GPU,
    kernels: Partial<KernelChoice> = {},
    private readonly waiting: WaitHook = NO_WAIT_HOOK,
  ) {
    this.kernels = { ...defaultKernels(adapterInfo), ...kernels };
    this.pipelines = new PipelineCache(device, (p) => this.wait(p));
    this.buffers = new BufferPool(device);
    this.features = new Set(device.features);
    this.limits = device.limits;
    void device.lost.then((info) => {
      this.lostInfo = info;
    });
    device.addEventListener('uncapturederror', (e) => {
      this.uncaptured ??= (e as GPUUncapturedErrorEvent).error;
    });
  }

  static async create(gpu: GPU, req: GpuRequirements = {}): Promise<GpuContext> {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new GpuError('no WebGPU adapter is available', 'unsupported');
    return GpuContext.fromAdapter(gpu, adapter, req);
  }

  static async fromAdapter(gpu: GPU, adapter: GPUAdapter, req: GpuRequirements = {}, waiting: WaitHook = NO_WAIT_HOOK): Promise<GpuContext> {
    const { attention, matmul, rows } = req.kernels ?? {};
    if (rows !== undefined && rows !== 'wide' && rows !== 'narrow') throw new GpuError(`row kernel '${String(rows)}' is not 'wide' or 'narrow'`, 'unsupported');
    if (attention !== undefined && attention !== 'fused' && attention !== 'steps') throw new GpuError(`attention kernel '${String(attention)}' is not 'fused' or 'steps'`, 'unsupported');
    if (matmul !== undefined && matmul !== 'tiled' && matmul !== 'direct') throw new GpuError(`matmul kernel '${String(matmul)}' is not 'tiled' or 'direct'`, 'unsupported');
    const device = await adapter.requestDevice(deviceDescriptor(adapter, req));
    return new GpuContext(device, adapter.info, gpu, req.kernels, waiting);
  }

  get lost(): boolean {
    return this.lostInfo !== undefined;
  }

  /** A short description of the adapter, for logs and benchmark records. */
  get adapterName(): string {
    const i = this.adapterInfo;
    return [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(' ') || 'unknown adapter';
  }

  /** Throws if the device is gone or an uncaptured GPU error happened since the last check. */
  check(what: string): void {
    if (this.disposed) throw new GpuError(`${what}: the GPU context was disposed`, 'device-lost');
    if (this.lostInfo) {
      throw new GpuError(`${what}: the GPU device was lost (${this.lostInfo.reason}: ${this.lostInfo.message})`, 'device-lost');
    }
    const err = this.uncaptured;
    if (err) {
      this.uncaptured = undefined;
      throw new GpuError(`${what}: ${err.message}`, err instanceof GPUOutOfMemoryError ? 'out-of-memory' : 'validation');
    }
  }

  /**
   * Awaits something the device settles (a map, onSubmittedWorkDone, a pipeline): every wait of the library goes
   * through here or `scoped`, so that the context's wait hook sees it.
   */
  async wait<T>(p: Promise<T>): Promise<T> {
    const end = this.waiting();
    try {
      return await p;
    } finally {
      end();
    }
  }

  /** Runs `body` inside validation, out-of-memory and internal error scopes; any error is thrown, naming `what`. */
  async scoped<T>(what: string, body: () => T | Promise<T>): Promise<T> {
    this.check(what);
    const d = this.device;
    d.pushErrorScope('internal');
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    const end = this.waiting();
    let result: T;
    try {
      result = await body();
    } finally {
      const [validation, oom, internal] = await Promise.all([d.popErrorScope(), d.popErrorScope(), d.popErrorScope()]).finally(end);
      const err = validation ?? oom ?? internal;
      if (err) {
        const kind = err === oom ? 'out-of-memory' : err === internal ? 'internal' : 'validation';
        // eslint-disable-next-line no-unsafe-finally
        throw new GpuError(`${what}: ${err.message}`, kind);
      }
    }
    this.check(what);
    return result;
  }

  /** A uniform buffer holding `words` (u32 or f32, 4 bytes each, in WGSL struct order). */
  uniform(label: string, words: ArrayLike<number>, floats: ReadonlySet<number> = new Set()): GPUBuffer {
    const n = Math.max(4, Math.ceil(words.length / 4) * 4);
    const data = new ArrayBuffer(n * 4);
    const u = new Uint32Array(data);
    const f = new Float32Array(data);
    for (let i = 0; i < words.length; i++) {
      if (floats.has(i)) f[i] = words[i];
      else u[i] = words[i];
    }
    const buffer = this.buffers.create(data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label);
    this.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.buffers.dispose();
    this.device.destroy();
  }
}
