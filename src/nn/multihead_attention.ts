import { MATMUL, matmul } from '../kernels/matmul.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { type AttentionArgs, type AttnCache, attend, packedSources, type Sources, src } from './attention_core.ts';
import { Linear, linearInputGrad, projectionParamGrads } from './linear.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

/**
 * torch.nn.MultiheadAttention (embed dim E, H heads, kdim = vdim = E): in_proj_weight [3E, E] stacks
 * q; k; v, in_proj_bias [3E], out_proj a Linear. Self-attention projects q, k, v with one matmul into a packed
 * [rows, 3E] buffer that the attention kernel reads in place (no head split / merge passes).
 */
export class MultiheadAttention extends Module {
  readonly inProjWeight: Tensor;
  readonly inProjBias?: Tensor;
  readonly outProj: Linear;
  readonly headDim: number;
  /** in_proj_bias rows of q, k|v, k and v as buffers of their own (binding offsets must be 256-byte aligned). */
  private readonly biasSlices = new Map<string, Tensor>();

  constructor(
    w: WeightSource,
    path: string,
    readonly embedDim: number,
    readonly numHeads: number,
    bias: boolean,
  ) {
    super(path);
    if (embedDim % numHeads !== 0) throw new Error(`${path}: embed_dim ${embedDim} is not divisible by num_heads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.inProjWeight = w.take(`${path}.in_proj_weight`, [3 * embedDim, embedDim]);
    if (bias) this.inProjBias = w.take(`${path}.in_proj_bias`, [3 * embedDim]);
    if (bias) {
      for (const [first, count] of [[0, 1], [1, 2], [1, 1], [2, 1]]) {
        this.biasSlices.set(`${first}:${count}`, w.slice(`${path}.in_proj_bias`, first * embedDim, count * embedDim));
      }
    }
    this.outProj = new Linear(w, joinPath(path, 'out_proj'), embedDim, embedDim, bias);
  }

  override children(): Module[] {
    return [this.outProj];
  }

  /** in_proj_bias for projection rows [first, first + count) of E each. */
  private bias(first: number, count: number): GPUBufferBinding | undefined {
    if (!this.inProjBias) return undefined;
    if (count === 3) return { buffer: this.inProjBias.buffer };
    return { buffer: this.biasSlices.get(`${first}:${count}`)!.buffer };
  }

  /** x [.., E] times in_proj rows [first, first + count) of E each -> [.., count * E]. */
  private project(b: PlanBuilder, x: Act, first: number, count: number, label: string): Act {
    const E = this.embedDim;
    const y = b.act([...x.shape.slice(0, -1), count * E], `${this.path} ${label}`);
    const bias = this.bias(first, count);
    b.step(
      `in_proj ${label}`,
      MATMUL,
      { a: x, c: y },
      (r) => matmul(b.ctx, { ...r, b: { buffer: this.inProjWeight.buffer }, bias }, { M: x.size / E, N: count * E, K: E, transB: true, offB: first * E * E }, `${this.path} in_proj ${label}`),
      (g) => {
        const dy = g.grad(y)!;
        g.give(x, linearInputGrad(g.b, dy, this.inProjWeight, x.shape, first * E * E));
        projectionParamGrads(g, x, dy, `${this.path}.in_proj_weight`, this.inProjBias && `${this.path}.in_proj_bias`, first * E);
      },
    );
    return y;
  }

  /** memory [.., E] -> packed k|v [.., 2E] written into `out` (a cross-attention cache, computed once per source). */
  projectMemory(b: PlanBuilder, memory: Act, out: Act): void {
    const E = this.embedDim;
    const bias = this.bias(1, 2);
    b.step(`${this.path} memory k|v`, MATMUL, { a: memory, c: out }, (r) =>
      matmul(b.ctx, { ...r, b: { buffer: this.inProjWeight.buffer }, bias }, { M: memory.size / E, N: 2 * E, K: E, transB: true, offB: E * E }, `${this.path} memory k|v`),
    );
  }

  /** Where q, k and v are read from: an activation and the strided layout of its rows. */
  private sources(b: PlanBuilder, query: Act, key: Act, value: Act, a: AttentionArgs, cache?: AttnCache): Sources {
    const E = this.embedDim;
    const L = a.L;
    if (cache?.kind === 'cross') {
      const q = this.project(b, query, 0, 1, 'q');
      return { q: src(a, q, E, 0, L), k: src(a, cache.kv, 2 * E, 0, cache.S), v: src(a, cache.kv, 2 * E, E, cache.S), S: cache.S };
    }
    if (query === key && key === value) return packedSources(b, this.project(b, query, 0, 3, 'qkv'), E, a, cache);
    if (cache) throw new Error(`${this.path}: a self-attention cache needs query, key and value to be one input`);
    if (key === value) {
      const q = this.project(b, query, 0, 1, 'q');
      const kv = this.project(b, key, 1, 2, 'kv');
      return { q: src(a, q, E, 0, L), k: src(a, kv, 2 * E, 0, a.S), v: src(a, kv, 2 * E, E, a.S), S: a.S };
    }
    const q = this.project(b, query, 0, 1, 'q');
    const k = this.project(b, key, 1, 1, 'k');
    const v = this.project(b, value, 2, 1, 'v');
    return { q: src(a, q, E, 0, L), k: src(a, k, E, 0, a.S), v: src(a, v, E, 0, a.S), S: a.S };
  }

  /**
   * Returns [attn_output, attn_weights?] like PyTorch's forward(query, key, value, ...). With a cache
   * (incremental decoding) keys and values come from it: a self cache also receives the new rows.
   */
  forward(b: PlanBuilder, query: Act, key: Act, value: Act, a: AttentionArgs, cache?: AttnCache): Promise<Act[]> {
    return b.module(this.path, [query, key, value], async ([query, key, value]) => {
      const { o, probs } = attend(b, this, this.sources(b, query, key, value, a, cache), a, cache);
      const out = await this.outProj.forward(b, o);
      return probs ? [out, probs] : [out];
    });
  }
}
