// How the Hugging Face families take their inputs: input_ids [B, L], attention_mask [B, L] (1 keep, 0 padding),
// optional position_ids and token_type_ids, all batch first.
import type { Act } from '../../scheduler/plan.ts';
import type { Feeder } from '../feeder.ts';
import { checkShape, InputError, inputValues, type InputTensor, type ModelInputs, tokenInput } from '../inputs.ts';

export class HfInputs {
  readonly B: number;
  readonly L: number;

  constructor(
    readonly f: Feeder,
    readonly x: ModelInputs,
    readonly family: string,
  ) {
    const ids = x.input_ids;
    if (!ids) throw new InputError(`input input_ids is required for a ${family} model`);
    if (ids.shape.length !== 2) throw new InputError(`input input_ids: shape [${ids.shape.join(', ')}], expected token ids [B, L]`);
    [this.B, this.L] = ids.shape;
  }

  /** Integer ids [B, L] each in [0, n) (`n` says what they index, for the message). */
  ids(name: string, n: number): Act {
    return this.f.tensor(name, [this.B, this.L], tokenInput(name, this.x[name]!, [this.B, this.L], n));
  }

  /** attention_mask as an additive key-padding mask [B, L] (0 -> -inf), or undefined when absent or all ones. */
  keyPadding(): Act | undefined {
    const t: InputTensor | undefined = this.x.attention_mask;
    if (!t) return undefined;
    checkShape('attention_mask', t.shape, [this.B, this.L]);
    if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64') throw new InputError(`input attention_mask: dtype ${t.dtype}; HF's attention_mask is integer (1 keep, 0 padding)`);
    const data = inputValues('attention_mask', t);
    if (data.length !== this.B * this.L) throw new InputError(`input attention_mask: ${data.length} values for shape [${this.B}, ${this.L}]`);
    const mask = new Float32Array(this.B * this.L);
    for (let i = 0; i < mask.length; i++) {
      const v = Number(data[i]);
      if (v !== 0 && v !== 1) throw new InputError(`input attention_mask: value ${v} at index ${i} is not 0 (padding) or 1 (keep)`);
      if (v === 0) mask[i] = -Infinity;
    }
    if (!mask.includes(-Infinity)) {
      this.f.key.push('attention_mask:ones');
      return undefined;
    }
    return this.f.tensor('attention_mask', [this.B, this.L], mask);
  }

  /** position_ids [B, L] in [0, max), or by default offset, offset + 1, … in every row (HF's forward default). */
  positions(max: number, offset = 0): Act {
    if (this.x.position_ids) return this.ids('position_ids', max);
    if (offset + this.L > max) throw new InputError(`input_ids: length ${offset + this.L} exceeds the model's ${max} positions`);
    return this.f.tensor('position_ids', [this.B, this.L], Uint32Array.from({ length: this.B * this.L }, (_, i) => offset + (i % this.L)));
  }

  /** token_type_ids [B, L] in [0, n), or zeros when absent (BertModel.forward's default: every token is segment A). */
  tokenTypes(n: number): Act {
    if (this.x.token_type_ids) return this.ids('token_type_ids', n);
    return this.f.tensor('token_type_ids', [this.B, this.L], new Uint32Array(this.B * this.L));
  }

  /**
   * position_ids [B, L] in [0, max), or by default RoBERTa's (modeling_roberta.py create_position_ids_from_input_ids):
   * tokens that are not `pad` count up from pad + 1, `pad` tokens sit at pad. Decided by input_ids == pad, not by
   * attention_mask, as in HF.
   */
  positionsAfterPadding(max: number, pad: number, vocab: number): Act {
    if (this.x.position_ids) return this.ids('position_ids', max);
    const ids = tokenInput('input_ids', this.x.input_ids!, [this.B, this.L], vocab);
    const pos = new Uint32Array(ids.length);
    for (let bt = 0; bt < this.B; bt++) {
      let n = pad;
      for (let l = 0; l < this.L; l++) {
        const i = bt * this.L + l;
        pos[i] = ids[i] === pad ? pad : ++n;
      }
      if (n >= max) throw new InputError(`input_ids: row ${bt} has ${n - pad} tokens that are not padding (id ${pad}); positions start at ${pad + 1}, so the model's ${max} positions hold ${max - pad - 1}`);
    }
    return this.f.tensor('position_ids', [this.B, this.L], pos);
  }
}
