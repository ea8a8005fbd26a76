import type { GpuContext } from '../gpu/context.ts';
import type { HalfDType } from '../gpu/half.ts';
import { Tensor } from '../tensor.ts';

/** Joins PyTorch module path segments: ('encoder.layers', '0') -> 'encoder.layers.0'; the root is ''. */
export function joinPath(parent: string, name: string): string {
  return parent ? `${parent}.${name}` : name;
}

/**
 * Where modules get their parameters while a tree is built: by PyTorch state_dict name and shape. `Weights`
 * uploads them to the GPU; `ShapeRecorder` only writes the names and shapes down (the list of tensors a model
 * of a config must contain), so a parameter name is written once, in the module that takes it.
 */
export interface WeightSource {
  /**
   * `storage` 'file': the caller's kernels read 16-bit storage (Linear's matmul, Embedding's lookup), so an F16 / BF16
   * tensor is uploaded as it is (packed pairs, Tensor dtype 'f16' / 'bf16'); anything else comes as f32. Default
   * 'f32': widened (layer norms, biases: small, and their kernels read f32).
   */
  take(name: string, shape: readonly number[], storage?: Storage): Tensor;
  /** A tensor the model derives rather than stores (e.g. a sinusoidal table); `make` runs only when uploaded. */
  constant(label: string, shape: readonly number[], make: () => Float32Array): Tensor;
  /** Elements [start, start + length) of a 1-D parameter as a buffer of its own (bindings need aligned offsets). */
  slice(name: string, start: number, length: number): Tensor;
}

/** What a parameter is kept as on the GPU: always f32, or the file's dtype when that is F16 / BF16. */
export type Storage = 'f32' | 'file';

/** Builds nothing on the GPU: records the parameters a module tree takes, name -> shape, in the order taken. */
export class ShapeRecorder implements WeightSource {
  readonly params = new Map<string, number[]>();

  take(name: string, shape: readonly number[]): Tensor {
    this.params.set(name, [...shape]);
    return Tensor.shapeOnly(shape, name);
  }

  constant(label: string, shape: readonly number[]): Tensor {
    return Tensor.shapeOnly(shape, label);
  }

  slice(name: string, start: number, length: number): Tensor {
    return Tensor.shapeOnly([length], `${name}[${start}:${start + length}]`);
  }
}

/**
 * A parameter's values as a loader hands them over: in memory, or read from a file in ranges: widened to f32 as they
 * are read (`floats`), or, for a tensor stored as 16-bit floats (`half`), its bytes as stored (`halfBytes`, little-endian
 * pairs: what a packed GPU tensor holds). Either way a checkpoint never needs a second full copy on the CPU.
 */
export type WeightData = Float32Array | LazyWeight;

export interface LazyWeight {
  readonly numel: number;
  /** Set when the file stores the tensor as F16 ('f16') or BF16 ('bf16'). */
  readonly half?: HalfDType;
  floats(start: number, count: number): Float32Array;
  /** The stored bytes of elements [start, start + count) (only with `half`): a view of the file, not a copy. */
  halfBytes(start: number, count: number): Uint8Array;
}

const numelOf = (d: WeightData) => (d instanceof Float32Array ? d.length : d.numel);

/**
 * Elements a large tensor is uploaded in at a time: bounds the f32 copy a lazy tensor makes on the CPU. Each chunk is
 * a new array that V8 frees only at its next collection, so several are alive at once: with 4M-element chunks a
 * GPT-2-small F16 load peaked at 1.27-1.31x the file's size (beyond the weights on the GPU), with 1M at 1.10-1.11x.
 */
const UPLOAD_CHUNK = 1 << 20; // even: a 16-bit chunk starts on a word

/**
 * The model's weights by PyTorch state_dict name, uploaded to the GPU as modules claim them.
 * Construction fails on a missing tensor or a wrong shape, naming it.
 */
export class Weights implements WeightSource {
  private readonly uploaded: Tensor[] = [];
  /** Shapes of the parameters modules took, by state_dict name, in the order they were taken. */
  readonly params = new Map<string, number[]>();

  constructor(
    readonly ctx: GpuContext,
    private tensors: ReadonlyMap<string, WeightData>,
  ) {}

  /**
   * The tree is built: let go of the source data (a checkpoint's file bytes, which lazy tensors read from), so the
   * model does not keep a CPU copy of its weights for its whole life. Taking a tensor after this is an error.
   */
  built(): void {
    this.tensors = new Map();
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  take(name: string, shape: readonly number[], storage: Storage = 'f32'): Tensor {
    const data = this.tensors.get(name);
    if (!data) throw new Error(`weights: tensor '${name}' is missing`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (numelOf(data) !== n) throw new Error(`weights: tensor '${name}' has ${numelOf(data)} values, expected [${shape.join(', ')}]`);
    const t = storage === 'file' && !(data instanceof Float32Array) && data.half ? this.uploadHalf(data, data.half, n, shape, name) : this.upload(data, 0, n, shape, name);
    this.params.set(name, [...shape]);
    return t;
  }

  /** A 16-bit tensor uploaded as stored, chunk by chunk straight from the file's bytes (no CPU copy but an odd tail's). */
  private uploadHalf(data: LazyWeight, dtype: HalfDType, n: number, shape: readonly number[], label: string): Tensor {
    const t = Tensor.empty(this.ctx, shape, label, dtype);
    this.uploaded.push(t);
    for (let i = 0; i < n; i += UPLOAD_CHUNK) {
      let part = data.halfBytes(i, Math.min(UPLOAD_CHUNK, n - i));
      // writeBuffer moves whole words: an odd element count's last half is padded.
      if (part.byteLength % 4) {
        const padded = new Uint8Array(part.byteLength + 2);
        padded.set(part);
        part = padded;
      }
      this.ctx.device.queue.writeBuffer(t.buffer, i * 2, part.buffer, part.byteOffset, part.byteLength);
    }
    return t;
  }

  constant(label: string, shape: readonly number[], make: () => Float32Array): Tensor {
    return this.upload(make(), 0, shape.reduce((a, b) => a * b, 1), shape, label);
  }

  /** Elements [start, start + n) of `data` as a new GPU tensor, written in chunks when read from a file. */
  private upload(data: WeightData, start: number, n: number, shape: readonly number[], label: string): Tensor {
    const t = data instanceof Float32Array ? Tensor.upload(this.ctx, data.subarray(start, start + n), shape, label) : Tensor.empty(this.ctx, shape, label);
    this.uploaded.push(t);
    if (!(data instanceof Float32Array)) {
      for (let i = 0; i < n; i += UPLOAD_CHUNK) {
        const part = data.floats(start + i, Math.min(UPLOAD_CHUNK, n - i));
        this.ctx.device.queue.writeBuffer(t.buffer, i * 4, part.buffer, part.byteOffset, part.byteLength);
      }
    }
    return t;
  }

  slice(name: string, start: number, length: number): Tensor {
    const data = this.tensors.get(name);
    if (!data || start + length > numelOf(data)) throw new Error(`weights: tensor '${name}' has no elements [${start}, ${start + length})`);
    return this.upload(data, start, length, [length], `${name}[${start}:${start + length}]`);
  }

  get bytes(): number {
    return this.uploaded.reduce((a, t) => a + t.byteSize, 0);
  }

  dispose(): void {
    for (const t of this.uploaded) t.dispose();
    this.uploaded.length = 0;
  }
}

/** A module of the tree, named exactly as PyTorch's named_modules() names it. */
export abstract class Module {
  constructor(readonly path: string) {}

  /** Direct children, in PyTorch's registration order. */
  children(): Module[] {
    return [];
  }

  /** This module and every descendant, depth first (PyTorch's named_modules order). */
  *modules(): Generator<Module> {
    yield this;
    for (const c of this.children()) yield* c.modules();
  }

  /** The PyTorch class name, for listings. */
  get kind(): string {
    return this.constructor.name;
  }
}
