import { attention, rowLayout } from '../kernels/attention.ts';
import { matmul } from '../kernels/matmul.ts';
import { scaleHeads } from '../kernels/scale_heads.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { Linear } from './linear.ts';
import { joinPath, Module, type Weights } from './module.ts';

/** Shapes and masks of one attention call. The probabilities are produced only when a hook listens. */
export interface AttentionArgs {
  B: number;
  /** Query length. */
  L: number;
  /** Key length. */
  S: number;
  batchFirst: boolean;
  /** Additive f32 mask, [L, S] or [B*H, L, S] (bool masks are converted before upload: true -> -inf). */
  mask?: Act;
  /** Additive f32 [B, S]. */
  keyPaddingMask?: Act;
  /** Block key s > l (+ S - L): the causal mask without a mask buffer. */
  causal?: boolean;
}

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
  private readonly biasSlices = new Map<string, Tensor>();

  constructor(
    private readonly w: Weights,
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
    this.outProj = new Linear(w, joinPath(path, 'out_proj'), embedDim, embedDim, bias);
  }

  override children(): Module[] {
    return [this.outProj];
  }

  /** in_proj_bias rows [start, start + len), as its own buffer (binding offsets must be 256-byte aligned). */
  private bias(start: number, len: number): GPUBufferBinding | undefined {
    if (!this.inProjBias) return undefined;
    if (start === 0 && len === 3 * this.embedDim) return { buffer: this.inProjBias.buffer };
    const key = `${start}:${len}`;
    let t = this.biasSlices.get(key);
    if (!t) {
      t = this.w.slice(`${this.path}.in_proj_bias`, start, len);
      this.biasSlices.set(key, t);
    }
    return { buffer: t.buffer };
  }

  /** x [.., E] times in_proj rows [first, first + count) of E each -> [.., count * E]. */
  private project(b: PlanBuilder, x: Act, first: number, count: number, label: string): Act {
    const E = this.embedDim;
    const y = b.act([...x.shape.slice(0, -1), count * E], `${this.path} ${label}`);
    const bias = this.bias(first * E, count * E);
    b.step(`in_proj ${label}`, [x], [y], (r) =>
      matmul(b.ctx, { a: r(x), b: { buffer: this.inProjWeight.buffer }, c: r(y), bias }, { M: x.size / E, N: count * E, K: E, transB: true, offB: first * E * E }, `${this.path} in_proj ${label}`),
    );
    return y;
  }

  /** Returns [attn_output, attn_weights?] like PyTorch's forward(query, key, value, ...). */
  forward(b: PlanBuilder, query: Act, key: Act, value: Act, a: AttentionArgs): Promise<Act[]> {
    return b.module(this.path, [query, key, value], async ([query, key, value]) => {
      const E = this.embedDim;
      const { B, L, S, batchFirst } = a;
      // Packed projections: the attention kernel reads q, k, v as column slices of these.
      let q: Act, k: Act, v: Act;
      const qOff = 0;
      let kOff = 0, vOff = 0;
      let qW = E, kW = E, vW = E;
      if (query === key && key === value) {
        q = k = v = this.project(b, query, 0, 3, 'qkv');
        kOff = E;
        vOff = 2 * E;
        qW = kW = vW = 3 * E;
      } else if (key === value) {
        q = this.project(b, query, 0, 1, 'q');
        k = v = this.project(b, key, 1, 2, 'kv');
        vOff = E;
        kW = vW = 2 * E;
      } else {
        q = this.project(b, query, 0, 1, 'q');
        k = this.project(b, key, 1, 1, 'k');
        v = this.project(b, value, 2, 1, 'v');
      }
      const o = b.act(query.shape, `${this.path} heads`);
      const probs = b.wantsWeights(this.path) ? b.act([B, this.numHeads, L, S], `${this.path} weights`) : undefined;
      const reads = [...new Set([q, k, v, ...(a.mask ? [a.mask] : []), ...(a.keyPaddingMask ? [a.keyPaddingMask] : [])])];
      const maskBatched = a.mask ? a.mask.shape.length === 3 : false;
      b.step(probs ? 'attention (weights)' : 'attention', reads, probs ? [o, probs] : [o], (r) =>
        attention(
          b.ctx,
          { q: r(q), k: r(k), v: r(v), o: r(o), mask: a.mask && r(a.mask), keyPaddingMask: a.keyPaddingMask && r(a.keyPaddingMask), probs: probs && r(probs) },
          {
            B, H: this.numHeads, L, S, D: this.headDim,
            causal: a.causal ?? false,
            maskBatched,
            q: rowLayout(B, L, qW, batchFirst, qOff),
            k: rowLayout(B, S, kW, batchFirst, kOff),
            v: rowLayout(B, S, vW, batchFirst, vOff),
            o: rowLayout(B, L, E, batchFirst),
          },
          `${this.path} attention`,
          { writeProbs: !!probs },
        ),
      );
      const scales = b.observer?.headScales(this.path);
      if (scales) {
        b.step('scale heads', [o], [o], (r) =>
          scaleHeads(b.ctx, { x: r(o), scale: { buffer: scales } }, { rows: o.size / E, H: this.numHeads, D: this.headDim }, `${this.path} scale heads`),
        );
      }
      const out = await this.outProj.forward(b, o);
      return probs ? [out, probs] : [out];
    });
  }
}
