import { POSENC, sinusoidalTable, posEnc } from '../kernels/posenc.ts';
import { EMBEDDING, embedding } from '../kernels/embedding.ts';
import { EMBEDDING_BACKWARD, embeddingBackward } from '../kernels/embedding_backward.ts';
import { type Act, type Dim, dimAt, dimMax, type PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { Module, type WeightSource } from './module.ts';

/**
 * torch.nn.Embedding: ids [..] -> rows of weight [num, dim], as PyTorch's module returns them (unscaled). The table
 * stays in its checkpoint's dtype (F16 / BF16 packed, widened by the lookup and by a tied Linear's matmul).
 */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    w: WeightSource,
    path: string,
    readonly num: number,
    readonly dim: number,
  ) {
    super(path);
    this.weight = w.take(`${path}.weight`, [num, dim], 'file');
  }

  forward(b: PlanBuilder, ids: Act): Promise<Act> {
    return b.module(this.path, [ids], async ([ids]) => {
      const out = b.act([...ids.shape, this.dim], `${this.path} out`);
      const shape = { n: ids.size, vocab: this.num, C: this.dim, dtype: this.weight.dtype };
      b.step(
        'embedding',
        EMBEDDING,
        { ids, out },
        (r) => embedding(b.ctx, { ...r, table: { buffer: this.weight.buffer } }, shape, `${this.path} embedding`),
        (g) => {
          // Token ids take no gradient; the table may.
          const name = `${this.path}.weight`;
          if (!g.wantsParam(name)) return;
          const dy = g.grad(out)!;
          const d = g.b.act([this.num, this.dim], `grad ${name}`);
          g.b.step('grad embedding', EMBEDDING_BACKWARD, { ids, dy, dTable: d }, (r) => embeddingBackward(b.ctx, r, shape, `${this.path} grad embedding`));
          g.giveParam(name, d);
        },
      );
      return out;
    });
  }
}

/**
 * Token embeddings times embed_scale plus positions (sinusoidal table, learned pos_embed, or none), as the
 * exported wrappers compute `embed(ids) * scale + pe`: the embedding module's output is unscaled, and the scale
 * and the positions are one step after it.
 */
export class TokenInput {
  private readonly table?: Tensor;

  constructor(
    w: WeightSource,
    readonly positional: 'sinusoidal' | 'learned' | 'none',
    readonly maxLen: number,
    readonly dim: number,
    readonly scale: number,
    readonly posEmbed?: Embedding,
  ) {
    if (positional === 'sinusoidal') this.table = w.constant('sinusoidal positions', [maxLen, dim], () => sinusoidalTable(maxLen, dim));
  }

  /**
   * ids [B, L] (batch first) or [L, B] -> [B, L, E] or [L, B, E], at positions posOffset.. (incremental decoding:
   * a decode step's plan takes the offset as a run-time param, written into the kernel's uniforms per token).
   */
  async forward(b: PlanBuilder, table: Embedding, ids: Act, B: number, L: number, batchFirst: boolean, posOffset: Dim = 0): Promise<Act> {
    if (dimMax(posOffset) + L > this.maxLen) throw new Error(`sequence length ${dimMax(posOffset) + L} exceeds the model's max_len ${this.maxLen}`);
    const x = await table.forward(b, ids);
    const pe = this.positional === 'learned' ? this.posEmbed!.weight : this.table;
    // posenc adds an f32 table; attnscope's own files (the ones with learned positions here) always load as f32.
    if (pe && pe.dtype !== 'f32') throw new Error(`${pe.label}: learned positions added by the positions step must be f32, not ${pe.dtype}`);
    const { scale } = this;
    if (!pe && scale === 1) return x;
    const out = b.act(x.shape, `${table.path} ${pe ? '+ positions' : 'scaled'}`);
    const shape = { B, L, C: this.dim, batchFirst, posOffset: 0, scale };
    b.step(
      pe ? 'positions' : 'scale',
      POSENC,
      { x, out },
      (r, p, ctx) => posEnc(ctx, { ...r, pe: pe && { buffer: pe.buffer } }, { ...shape, posOffset: dimAt(posOffset, p) }, this.maxLen, `${table.path} ${pe ? 'positions' : 'scale'}`),
      (g) => {
        const dOut = g.grad(out)!;
        if (scale === 1) g.give(x, dOut);
        else {
          // dx = dOut * scale: the same kernel without positions.
          const dx = g.b.act(x.shape, `${table.path} grad scaled`);
          g.b.step('grad scale', POSENC, { x: dOut, out: dx }, (r) => posEnc(b.ctx, r, shape, this.maxLen, `${table.path} grad scale`));
          g.give(x, dx);
        }
        const name = this.posEmbed && `${this.posEmbed.path}.weight`;
        if (!name || !g.wantsParam(name)) return;
        if (typeof posOffset !== 'number') throw new Error(`${name}: no gradient through a decode step's positions`);
        // Learned positions are an embedding looked up by position: row r of x is position l + posOffset.
        const pos = Uint32Array.from({ length: B * L }, (_, r) => (batchFirst ? r % L : Math.floor(r / B)) + posOffset);
        const ids = g.b.constant(pos, [B * L], `${name} positions`);
        const d = g.b.act([this.maxLen, this.dim], `grad ${name}`);
        g.b.step('grad positions', EMBEDDING_BACKWARD, { ids, dy: dOut, dTable: d }, (r) =>
          embeddingBackward(b.ctx, r, { n: B * L, vocab: this.maxLen, C: this.dim }, `${table.path} grad positions`),
        );
        g.giveParam(name, d);
      },
    );
    return out;
  }
}
