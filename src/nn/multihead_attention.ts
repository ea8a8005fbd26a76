import { attention, type AttentionShape, type RowLayout, rowLayout } from '../kernels/attention.ts';
import { attentionSteps } from '../kernels/attention_steps.ts';
import { attentionKeyGrad, attentionProbsGrad, attentionQueryGrad, attentionValueGrad } from '../kernels/attention_backward.ts';
import { matmul } from '../kernels/matmul.ts';
import { scaleHeads } from '../kernels/scale_heads.ts';
import { softmaxBackward } from '../kernels/softmax_backward.ts';
import type { Act, GradContext, PlanBuilder, Resolve } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { Linear, linearInputGrad, projectionParamGrads } from './linear.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

/** A self-attention KV cache: packed q|k|v rows [B, maxT, 3E] (batch-major) in a buffer outliving the plan. */
export interface SelfCache {
  kind: 'self';
  kv: Act;
  maxT: number;
  /** Position of the first new row. */
  pos: number;
}

/** A cross-attention cache: the memory's packed k|v rows [.., 2E] (in the model's layout), S of them per batch. */
export interface CrossCache {
  kind: 'cross';
  kv: Act;
  S: number;
}

export type AttnCache = SelfCache | CrossCache;

interface Src {
  act: Act;
  lay: RowLayout;
}

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
      [x],
      [y],
      (r) => matmul(b.ctx, { a: r(x), b: { buffer: this.inProjWeight.buffer }, c: r(y), bias }, { M: x.size / E, N: count * E, K: E, transB: true, offB: first * E * E }, `${this.path} in_proj ${label}`),
      (g) => {
        const dy = g.grad(y)!;
        g.give(x, linearInputGrad(g.b, dy, this.inProjWeight.buffer, x.shape, first * E * E));
        projectionParamGrads(g, x, dy, `${this.path}.in_proj_weight`, this.inProjBias && `${this.path}.in_proj_bias`, first * E);
      },
    );
    return y;
  }

  /** memory [.., E] -> packed k|v [.., 2E] written into `out` (a cross-attention cache, computed once per source). */
  projectMemory(b: PlanBuilder, memory: Act, out: Act): void {
    const E = this.embedDim;
    const bias = this.bias(1, 2);
    b.step(`${this.path} memory k|v`, [memory], [out], (r) =>
      matmul(b.ctx, { a: r(memory), b: { buffer: this.inProjWeight.buffer }, c: r(out), bias }, { M: memory.size / E, N: 2 * E, K: E, transB: true, offB: E * E }, `${this.path} memory k|v`),
    );
  }

  /** Where q, k and v are read from: an activation and the strided layout of its rows. */
  private sources(b: PlanBuilder, query: Act, key: Act, value: Act, a: AttentionArgs, cache?: AttnCache): { acts: Act[]; q: Src; k: Src; v: Src; S: number } {
    const E = this.embedDim;
    const { B, L, batchFirst: bf } = a;
    const src = (act: Act, width: number, off: number, len: number): Src => ({ act, lay: rowLayout(B, len, width, bf, off) });
    if (cache?.kind === 'cross') {
      const q = this.project(b, query, 0, 1, 'q');
      return { acts: [q, cache.kv], q: src(q, E, 0, L), k: src(cache.kv, 2 * E, 0, cache.S), v: src(cache.kv, 2 * E, E, cache.S), S: cache.S };
    }
    if (query === key && key === value) {
      const qkv = this.project(b, query, 0, 3, 'qkv');
      if (cache?.kind === 'self') {
        // Append the new rows' k|v (and q: the cache keeps packed rows, so an append is a plain copy) at [pos, pos + L).
        const { kv, maxT, pos } = cache;
        const rows = (bt: number, l: number) => (bf ? bt * L + l : l * B + bt);
        for (let bt = 0; bt < B; bt++) {
          const contiguous = bf || B === 1;
          for (let l = 0; l < (contiguous ? 1 : L); l++) {
            const n = contiguous ? L : 1;
            b.copy(`kv cache append`, qkv, rows(bt, l) * 3 * E, kv, (bt * maxT + pos + l) * 3 * E, n * 3 * E);
          }
        }
        const cached = (off: number): Src => ({ act: kv, lay: { off, strideB: maxT * 3 * E, strideL: 3 * E } });
        return { acts: [qkv, kv], q: src(qkv, 3 * E, 0, L), k: cached(E), v: cached(2 * E), S: pos + L };
      }
      return { acts: [qkv], q: src(qkv, 3 * E, 0, L), k: src(qkv, 3 * E, E, a.S), v: src(qkv, 3 * E, 2 * E, a.S), S: a.S };
    }
    if (cache) throw new Error(`${this.path}: a self-attention cache needs query, key and value to be one input`);
    if (key === value) {
      const q = this.project(b, query, 0, 1, 'q');
      const kv = this.project(b, key, 1, 2, 'kv');
      return { acts: [q, kv], q: src(q, E, 0, L), k: src(kv, 2 * E, 0, a.S), v: src(kv, 2 * E, E, a.S), S: a.S };
    }
    const q = this.project(b, query, 0, 1, 'q');
    const k = this.project(b, key, 1, 1, 'k');
    const v = this.project(b, value, 2, 1, 'v');
    return { acts: [q, k, v], q: src(q, E, 0, L), k: src(k, E, 0, a.S), v: src(v, E, 0, a.S), S: a.S };
  }

  /**
   * The backward of the attention step: dP = dO·Vᵀ (kept as the module's `weights` gradient), dS through the
   * softmax, then dQ, dK, dV written at the sources' own layouts into gradients shaped like the source activations
   * (a packed q|k|v projection gets one packed gradient, each kernel filling its columns).
   */
  private attentionGrad(g: GradContext, src: { q: Src; k: Src; v: Src }, o: Act, probs: Act, shape: AttentionShape): void {
    const { b } = g;
    const dO = g.grad(o)!;
    const dP = b.act(probs.shape, `${this.path} grad weights`);
    b.step('grad weights', [dO, src.v.act], [dP], (r) => attentionProbsGrad(b.ctx, { dO: r(dO), v: r(src.v.act), dP: r(dP) }, shape, `${this.path} grad weights`));
    g.keep('weights', dP);
    const dS = b.act(probs.shape, `${this.path} grad scores`);
    b.step('grad softmax', [probs, dP], [dS], (r) => softmaxBackward(b.ctx, { probs: r(probs), dp: r(dP), dx: r(dS) }, { rows: probs.size / shape.S, n: shape.S }, `${this.path} grad softmax`));
    const grads = new Map<Act, Act>();
    const gradOf = (a: Act) => grads.get(a) ?? grads.set(a, b.act(a.shape, `${this.path} grad ${a.label}`)).get(a)!;
    const dq = gradOf(src.q.act);
    const dk = gradOf(src.k.act);
    const dv = gradOf(src.v.act);
    b.step('grad q', [dS, src.k.act], [dq], (r) => attentionQueryGrad(b.ctx, { dS: r(dS), k: r(src.k.act), dq: r(dq) }, shape, `${this.path} grad q`));
    b.step('grad k', [dS, src.q.act], [dk], (r) => attentionKeyGrad(b.ctx, { dS: r(dS), q: r(src.q.act), dk: r(dk) }, shape, `${this.path} grad k`));
    b.step('grad v', [probs, dO], [dv], (r) => attentionValueGrad(b.ctx, { p: r(probs), dO: r(dO), dv: r(dv) }, shape, `${this.path} grad v`));
    for (const [a, d] of grads) g.give(a, d);
  }

  /**
   * Returns [attn_output, attn_weights?] like PyTorch's forward(query, key, value, ...). With a cache
   * (incremental decoding) keys and values come from it: a self cache also receives the new rows.
   */
  forward(b: PlanBuilder, query: Act, key: Act, value: Act, a: AttentionArgs, cache?: AttnCache): Promise<Act[]> {
    return b.module(this.path, [query, key, value], async ([query, key, value]) => {
      const E = this.embedDim;
      const { B, L, batchFirst } = a;
      const { acts, q, k, v, S } = this.sources(b, query, key, value, a, cache);
      const o = b.act(query.shape, `${this.path} heads`);
      // The weights are an output when someone listens (a hook, a backward); the steps kernel writes them anyway.
      const listened = b.wantsWeights(this.path) || b.grad;
      const steps = b.ctx.kernels.attention === 'steps';
      const probs = listened || steps ? b.act([B, this.numHeads, L, S], `${this.path} weights`) : undefined;
      const reads = [...new Set([...acts, ...(a.mask ? [a.mask] : []), ...(a.keyPaddingMask ? [a.keyPaddingMask] : [])])];
      const maskBatched = a.mask ? a.mask.shape.length === 3 : false;
      const shape: AttentionShape = { B, H: this.numHeads, L, S, D: this.headDim, causal: a.causal ?? false, maskBatched, q: q.lay, k: k.lay, v: v.lay, o: rowLayout(B, L, E, batchFirst) };
      b.step(
        steps ? 'attention (steps)' : probs ? 'attention (weights)' : 'attention',
        reads,
        probs ? [o, probs] : [o],
        (r) => {
          const bufs = { q: r(q.act), k: r(k.act), v: r(v.act), o: r(o), mask: a.mask && r(a.mask), keyPaddingMask: a.keyPaddingMask && r(a.keyPaddingMask), probs: probs && r(probs) };
          const label = `${this.path} attention`;
          return steps ? attentionSteps(b.ctx, bufs, shape, label) : attention(b.ctx, bufs, shape, label, { writeProbs: !!probs });
        },
        (g) => {
          if (cache) throw new Error(`${this.path}: no backward through a KV cache (incremental decoding)`);
          if (!probs) throw new Error(`${this.path}: the attention probabilities were not kept for the backward`);
          this.attentionGrad(g, { q, k, v }, o, probs, shape);
        },
      );
      const scales = b.observer?.headScales(this.path);
      if (scales) {
        const rows = o.size / E;
        const scale = (x: Act) => (r: Resolve) => scaleHeads(b.ctx, { x: r(x), scale: { buffer: scales } }, { rows, H: this.numHeads, D: this.headDim }, `${this.path} scale heads`);
        // In place: the backward scales a copy of o's gradient and hands it to o as it was before the step.
        b.step('scale heads', [o], [o], scale(o), (g) => {
          const d = g.grad(o)!;
          const c = g.b.act(o.shape, `${this.path} grad heads`);
          g.b.copy('copy gradient', d, 0, c, 0, d.size);
          g.b.step('grad scale heads', [c], [c], scale(c));
          g.give(o, c);
        });
      }
      const out = await this.outProj.forward(b, o);
      return listened ? [out, probs!] : [out];
    });
  }
}
