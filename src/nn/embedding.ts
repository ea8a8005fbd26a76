import { sinusoidalTable, posEnc } from '../kernels/posenc.ts';
import { embedding } from '../kernels/embedding.ts';
import { passGrad } from '../scheduler/backward.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { Module, type Weights } from './module.ts';

/**
 * torch.nn.Embedding: ids [..] -> rows of weight [num, dim]. `scale` (the wrappers' embed_scale) is applied in
 * the same pass, so a hook on this module sees the scaled rows.
 */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    w: Weights,
    path: string,
    readonly num: number,
    readonly dim: number,
  ) {
    super(path);
    this.weight = w.take(`${path}.weight`, [num, dim]);
  }

  forward(b: PlanBuilder, ids: Act, scale = 1): Promise<Act> {
    return b.module(this.path, [ids], async ([ids]) => {
      const out = b.act([...ids.shape, this.dim], `${this.path} out`);
      b.step(
        'embedding',
        [ids],
        [out],
        (r) => embedding(b.ctx, { ids: r(ids), table: { buffer: this.weight.buffer }, out: r(out) }, { n: ids.size, vocab: this.num, C: this.dim, scale }, `${this.path} embedding`),
        () => undefined, // token ids take no gradient
      );
      return out;
    });
  }
}

/** Token embeddings times embed_scale plus positions (sinusoidal table, learned pos_embed, or none). */
export class TokenInput {
  private readonly table?: Tensor;

  constructor(
    w: Weights,
    readonly positional: 'sinusoidal' | 'learned' | 'none',
    readonly maxLen: number,
    readonly dim: number,
    readonly scale: number,
    readonly posEmbed?: Embedding,
  ) {
    if (positional === 'sinusoidal') this.table = w.constant('sinusoidal positions', sinusoidalTable(maxLen, dim), [maxLen, dim]);
  }

  /** ids [B, L] (batch first) or [L, B] -> [B, L, E] or [L, B, E], at positions posOffset.. (incremental decoding). */
  async forward(b: PlanBuilder, table: Embedding, ids: Act, B: number, L: number, batchFirst: boolean, posOffset = 0): Promise<Act> {
    if (posOffset + L > this.maxLen) throw new Error(`sequence length ${posOffset + L} exceeds the model's max_len ${this.maxLen}`);
    const x = await table.forward(b, ids, this.scale);
    const pe = this.positional === 'learned' ? this.posEmbed!.weight : this.table;
    if (!pe) return x;
    const out = b.act(x.shape, `${table.path} + positions`);
    b.step(
      'positions',
      [x],
      [out],
      (r) => posEnc(b.ctx, { x: r(x), pe: { buffer: pe.buffer }, out: r(out) }, { B, L, C: this.dim, batchFirst, posOffset }, this.maxLen, `${table.path} positions`),
      passGrad(out, [x]),
    );
    return out;
  }
}
