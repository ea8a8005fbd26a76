import type { GpuContext } from '../gpu/context.ts';
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
  take(name: string, shape: readonly number[]): Tensor;
  /** A tensor the model derives rather than stores (e.g. a sinusoidal table); `make` runs only when uploaded. */
  constant(label: string, shape: readonly number[], make: () => Float32Array): Tensor;
  /** Elements [start, start + length) of a 1-D parameter as a buffer of its own (bindings need aligned offsets). */
  slice(name: string, start: number, length: number): Tensor;
}

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
 * The model's weights by PyTorch state_dict name, uploaded to the GPU as modules claim them.
 * Construction fails on a missing tensor or a wrong shape, naming it.
 */
export class Weights implements WeightSource {
  private readonly uploaded: Tensor[] = [];
  /** Shapes of the parameters modules took, by state_dict name, in the order they were taken. */
  readonly params = new Map<string, number[]>();

  constructor(
    readonly ctx: GpuContext,
    private readonly tensors: ReadonlyMap<string, Float32Array>,
  ) {}

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  take(name: string, shape: readonly number[]): Tensor {
    const data = this.tensors.get(name);
    if (!data) throw new Error(`weights: tensor '${name}' is missing`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`weights: tensor '${name}' has ${data.length} values, expected [${shape.join(', ')}]`);
    const t = Tensor.upload(this.ctx, data, shape, name);
    this.uploaded.push(t);
    this.params.set(name, [...shape]);
    return t;
  }

  constant(label: string, shape: readonly number[], make: () => Float32Array): Tensor {
    const t = Tensor.upload(this.ctx, make(), shape, label);
    this.uploaded.push(t);
    return t;
  }

  slice(name: string, start: number, length: number): Tensor {
    const data = this.tensors.get(name);
    if (!data || start + length > data.length) throw new Error(`weights: tensor '${name}' has no elements [${start}, ${start + length})`);
    const t = Tensor.upload(this.ctx, data.subarray(start, start + length), [length], `${name}[${start}:${start + length}]`);
    this.uploaded.push(t);
    return t;
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
