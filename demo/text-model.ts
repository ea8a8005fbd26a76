// Text in, tokens out, for every model that reads a single token sequence: attnscope's character lms, and the
// Hugging Face checkpoints (GPT-2, BERT-like) with their own tokenizer.json. The analysis runs them all one way.
import { applyChatTemplate, fillMask, type HfTokenizer, type InputTensor, isHfConfig, type Model, type ModelConfig, type ModelInputs } from '../src/index.ts';
import type { HfConfig } from '../src/model/config.ts';
import { detokenize, tokenize, TokenizeError, tokenLabel } from './tokenize.ts';

export type Fill = Awaited<ReturnType<typeof fillMask>>[number];

export interface TextModel {
  /** Text -> the ids the model takes (specials the tokenizer adds included); TokenizeError names what is wrong. */
  encode(text: string): number[];
  /** A token as the tokenizer shows it ('Ġcat', '##s', '[CLS]'). */
  label(id: number): string;
  /** Generated ids -> text. */
  decode(ids: readonly number[]): string;
  /** The forward's inputs for one sequence, under the model's input names. */
  inputs(ids: readonly number[]): ModelInputs;
  /** Positions the model has: prompt and continuation fit in them. */
  maxLen: number;
  /** A causal lm: it continues the prompt. */
  generates: boolean;
  /** Logits over the vocabulary at each position (an lm or masked-lm head), not hidden states. */
  predicts: boolean;
  /** A masked lm's mask token, and the head's guesses for each mask in a text (the library's fillMask). */
  mask?: { id: number; token: string; fill(text: string): Promise<Fill[]> };
  /** What the page says about how the model reads and answers. */
  hint: string;
  /** A first input. */
  example: string;
}

/** Ids [1, L] batch first, else [L, 1]. */
export const idTensor = (xs: readonly number[], batchFirst = true): InputTensor => ({
  dtype: 'I32',
  shape: batchFirst ? [1, xs.length] : [xs.length, 1],
  data: Int32Array.from(xs),
});

/** attnscope's own lm file: one character per token, its vocabulary in the config. */
function charLm(model: Model, c: Extract<ModelConfig, { kind: 'lm' }>): TextModel {
  const vocab = c.vocab;
  const example = ['hotdogpasta', 'hello world', 'the cat sat on the mat'].find((w) => [...w].every((ch) => vocab.includes(ch)));
  return {
    encode: (text) => tokenize(text, c),
    label: (id) => tokenLabel(vocab[id] ?? '?'),
    decode: (ids) => detokenize(ids, vocab),
    inputs: (ids) => ({ src: idTensor(ids, model.batchFirst) }),
    maxLen: c.max_len,
    generates: c.causal,
    predicts: true,
    hint: c.causal
      ? 'A causal language model: it continues the prompt greedily; the maps are its self-attention over prompt + continuation.'
      : 'A bidirectional encoder LM: it cannot generate; the maps are its self-attention over the input.',
    example: example ?? vocab.filter((t) => [...t].length === 1 && !/\s/.test(t)).slice(0, 8).join(''),
  };
}

/** Positions a Hugging Face family has (RoBERTa's real tokens start after the padding index). */
function positions(c: HfConfig): number {
  if (c.kind === 'gpt2') return c.n_positions;
  return c.kind === 'roberta' ? c.max_position_embeddings - c.pad_token_id - 1 : c.max_position_embeddings;
}

/** Space-separated ids: how a checkpoint without tokenizer.json is fed. */
function parseIds(text: string, vocab: number): number[] {
  const words = text.trim().split(/[\s,]+/).filter(Boolean);
  if (!words.length) throw new TokenizeError('the input is empty', 0);
  return words.map((w) => {
    const id = Number(w);
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new TokenizeError(`${JSON.stringify(w)} is not a token id (0 … ${vocab - 1}); this checkpoint has no tokenizer.json, so the input is ids separated by spaces`, text.indexOf(w));
    return id;
  });
}

/** A Hugging Face checkpoint, tokenised by its tokenizer.json, or fed ids when it has none. */
function checkpoint(model: Model, c: HfConfig, tok: HfTokenizer | undefined): TextModel {
  const maxLen = positions(c);
  const generates = (c.kind === 'gpt2' || c.kind === 'llama' || c.kind === 'qwen2') && c.head === 'lm';
  // An instruct checkpoint's chat template wraps the text as the user's message and opens the assistant's turn.
  const chat = generates && !!tok?.chatTemplate;
  const special = c.head === 'mlm' ? tok?.special.mask : undefined;
  const mask = special && { ...special, fill: (text: string) => fillMask(model, tok!, text) };
  const family = c.kind === 'gpt2' ? 'GPT-2' : c.kind === 'llama' ? 'Llama' : 'Qwen2';
  const hint = generates
    ? `${family}: ${chat ? 'your text is the user\'s message in the checkpoint\'s chat template; the model answers' : 'it continues the prompt'} greedily (with KV caches), each token shown as it is generated with its attention in the steps view; then the maps are its causal self-attention over prompt + continuation.`
    : `A bidirectional encoder: the maps are its self-attention over the input${mask ? `; each ${mask.token} is filled with the head's most likely tokens` : ''}.`;
  return {
    encode(text) {
      if (!tok) return parseIds(text, c.vocab_size);
      if (!text) throw new TokenizeError('the input is empty', 0);
      const e = tok.encode(chat ? applyChatTemplate(tok, [{ role: 'user', content: text }]) : text);
      if (e.ids.length > maxLen) throw new TokenizeError(`the input is ${e.ids.length} tokens long; this model has ${maxLen} positions`, [...text].length);
      return e.ids;
    },
    label: (id) => (tok ? tok.token(id) : String(id)),
    decode: (ids) => (tok ? tok.decode(ids, { skipSpecial: true }) : ids.join(' ')),
    // One segment: token_type_ids are the model's default zeros.
    inputs: (ids) => ({ input_ids: idTensor(ids) }),
    maxLen,
    generates,
    predicts: c.head !== 'base',
    mask,
    hint: tok ? hint : `${hint} This checkpoint has no tokenizer.json: type token ids separated by spaces.`,
    example: !tok ? '1 2 3 4 5' : mask ? `the cat ${mask.token} on the mat.` : chat ? 'What does a cat sit on?' : 'the cat sat on the mat.',
  };
}

/** How the page reads text for `model`; undefined for models that take embeddings (or seq2seq, read on its own). */
export function textModel(model: Model, tok?: HfTokenizer): TextModel | undefined {
  const c = model.config;
  if (c.kind === 'lm') return charLm(model, c);
  if (isHfConfig(c)) return checkpoint(model, c, tok);
  return undefined;
}
