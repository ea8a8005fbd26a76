import type { GpuContext } from '../gpu/context.ts';
import { Tensor } from '../tensor.ts';

/** Joins PyTorch module path segments: ('encoder.layers', '0') -> 'encoder.layers.0'; the root is ''. */
export function joinPath(parent: string, name: string): string {
  return parent ? `${parent}.${name}` : name;
}

/**
 * The model's weights by PyTorch state_dict name, uploaded to the GPU as modules claim them.
 * Construction fails on a missing tensor or a wrong shape, naming it.
 */
export class Weights {
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

  /** Uploads a tensor the model derives rather than stores (e.g. a sinusoidal table). */
  constant(label: string, data: Float32Array, shape: readonly number[]): Tensor {
    const t = Tensor.upload(this.ctx, data, shape, label);
    this.uploaded.push(t);
    return t;
  }

  /** Uploads a slice [start, start + length) of a 1-D tensor as its own buffer (bindings need 256-byte aligned offsets). */
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
