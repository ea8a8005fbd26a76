// Text in, text out on a Hugging Face model with its tokenizer: the inputs of one text, a continuation, the
// masked-LM's guesses. What the CLI and the demo both do with words rather than ids. Browser-safe.
import type { GenerateOptions } from '../generate.ts';
import { InputError, type ModelInputs } from '../inputs.ts';
import type { Model } from '../model.ts';
import type { Encoded, HfTokenizer } from './tokenizer.ts';

const ids = (v: readonly number[]) => ({ dtype: 'I32' as const, shape: [1, v.length], data: Int32Array.from(v) });

/** One text (and an optional pair) as a batch of one: input_ids, and token_type_ids where the model takes them (`inputNames`). */
export function textInputs(tok: HfTokenizer, inputNames: readonly string[], text: string, pair?: string): { inputs: ModelInputs; encoded: Encoded } {
  const encoded = tok.encode(text, pair);
  if (!encoded.ids.length) throw new InputError(`the text ${JSON.stringify(text)} encodes to no tokens`);
  const inputs: ModelInputs = { input_ids: ids(encoded.ids) };
  if (encoded.typeIds && inputNames.includes('token_type_ids')) inputs.token_type_ids = ids(encoded.typeIds);
  return { inputs, encoded };
}

/** The continuation of `prompt` (decoded without special tokens) and its ids, the stop token included. */
export async function generateText(model: Model, tok: HfTokenizer, prompt: string, opts: GenerateOptions): Promise<{ text: string; ids: number[] }> {
  const { inputs } = textInputs(tok, model.inputNames, prompt);
  const { tokens } = await model.generate(inputs.input_ids!, opts);
  return { text: tok.decode(tokens[0], { skipSpecial: true }), ids: tokens[0] };
}

export interface MaskGuess {
  id: number;
  /** The token as the tokenizer shows it. */
  token: string;
  prob: number;
}

/** Per mask token of `text`, in order: its position and the masked-LM head's `topK` most probable tokens. */
export async function fillMask(model: Model, tok: HfTokenizer, text: string, topK = 5): Promise<{ position: number; guesses: MaskGuess[] }[]> {
  const mask = tok.special.mask;
  if (!mask) throw new InputError('fill-mask: the tokenizer has no mask token (tokenizer_config.json mask_token)');
  if ((model.config as { head?: string }).head !== 'mlm') throw new InputError(`fill-mask: a ${model.config.kind} model without a masked-LM head (fill-mask needs a *ForMaskedLM checkpoint)`);
  if (!Number.isInteger(topK) || topK < 1) throw new InputError(`fill-mask: top-k ${topK} must be a positive integer`);
  const { inputs, encoded } = textInputs(tok, model.inputNames, text);
  const positions = encoded.ids.flatMap((id, i) => (id === mask.id ? [i] : []));
  if (!positions.length) throw new InputError(`fill-mask: the text has no ${mask.token}`);
  const { output, shape } = await model.forward(inputs);
  const V = shape[2];
  return positions.map((position) => {
    // Softmax over the vocabulary at the mask, from the row's max for stability (f64 sums).
    const row = output.subarray(position * V, (position + 1) * V);
    const max = row.reduce((m, x) => Math.max(m, x), -Infinity);
    const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
    const order = [...row.keys()].sort((a, b) => row[b] - row[a] || a - b).slice(0, topK);
    return { position, guesses: order.map((id) => ({ id, token: tok.token(id), prob: Math.exp(row[id] - max) / sum })) };
  });
}
