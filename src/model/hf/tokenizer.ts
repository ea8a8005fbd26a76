/**
 * A checkpoint's own tokenizer: `tokenizer.json` (+ `tokenizer_config.json`) run by @huggingface/tokenizers, the
 * JavaScript port of HF's tokenizers (the same BPE / WordPiece / Unigram models, normalizers and post-processors),
 * so ids match what `AutoTokenizer` gives in Python. Browser-safe: files come through `CheckpointFiles`.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { jsonError, ModelFileError } from '../errors.ts';
import type { CheckpointFiles } from './checkpoint.ts';

export interface Encoded {
  ids: number[];
  /** Each id's token as the tokenizer's vocabulary spells it ('Ġcat', '##s', '[CLS]'). */
  tokens: string[];
  /** Segment ids (0 first text, 1 pair), where the tokenizer's post-processor assigns them (BERT's does, GPT-2's not). */
  typeIds?: number[];
}

/** The special tokens tokenizer_config.json names, by role, with their ids. */
export type SpecialRole = 'mask' | 'pad' | 'bos' | 'eos' | 'unk' | 'cls' | 'sep';
export type SpecialTokens = Partial<Record<SpecialRole, { id: number; token: string }>>;

export interface HfTokenizer {
  /** Text (and an optional second segment) to ids, special tokens added as the checkpoint's post-processor adds them. */
  encode(text: string, pair?: string): Encoded;
  /** Ids back to text; special tokens are kept unless skipSpecial. */
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  /** An id's token as the tokenizer shows it; `<id N>` for an id the vocabulary lacks (a model's padded vocabulary). */
  token(id: number): string;
  /** Vocabulary size, added tokens included. */
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  /** tokenizer_config.json's chat_template (the default one of a named list), for applyChatTemplate (chat.ts). */
  readonly chatTemplate?: string;
}

const ROLES: readonly SpecialRole[] = ['mask', 'pad', 'bos', 'eos', 'unk', 'cls', 'sep'];

async function readJson(files: CheckpointFiles, name: string): Promise<object> {
  const at = `${files.label}/${name}`;
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(await files.read(name)));
  } catch (e) {
    throw new ModelFileError(`${at}: not valid JSON (${jsonError(e)})`, 'config', at);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ModelFileError(`${at}: not a JSON object`, 'config', at);
  return v;
}

/** tokenizer_config.json writes a special token as its text or as an AddedToken object ({content, …}). */
function specialText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** chat_template: a Jinja string, or a list of {name, template} of which 'default' is the one HF applies. */
function chatTemplate(config: Record<string, unknown>): { chatTemplate?: string } {
  const t = config.chat_template;
  if (typeof t === 'string') return { chatTemplate: t };
  if (Array.isArray(t)) {
    const d = t.find((x: { name?: unknown }) => x?.name === 'default') as { template?: unknown } | undefined;
    if (typeof d?.template === 'string') return { chatTemplate: d.template };
  }
  return {};
}

/** The checkpoint's tokenizer, or undefined when it has no tokenizer.json (tokenizer_config.json is optional). */
export async function loadTokenizer(files: CheckpointFiles): Promise<HfTokenizer | undefined> {
  const names = await files.list();
  if (!names.includes('tokenizer.json')) return undefined;
  const json = await readJson(files, 'tokenizer.json');
  const config: Record<string, unknown> = names.includes('tokenizer_config.json') ? ((await readJson(files, 'tokenizer_config.json')) as Record<string, unknown>) : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    const at = `${files.label}/tokenizer.json`;
    throw new ModelFileError(`${at}: not a tokenizer @huggingface/tokenizers can run (${(e as Error).message})`, 'config', at);
  }
  const special: SpecialTokens = {};
  for (const role of ROLES) {
    const token = specialText(config[`${role}_token`]);
    const id = token === undefined ? undefined : tok.token_to_id(token);
    if (token !== undefined && id !== undefined) special[role] = { id, token };
  }
  const vocabSize = tok.get_vocab(true).size;
  return {
    encode(text, pair) {
      const e = tok.encode(text, { text_pair: pair ?? null, return_token_type_ids: true });
      return { ids: e.ids, tokens: e.tokens, ...(e.token_type_ids ? { typeIds: e.token_type_ids } : {}) };
    },
    decode: (ids, opts = {}) => tok.decode([...ids], { skip_special_tokens: opts.skipSpecial ?? false }),
    token: (id) => tok.id_to_token(id) ?? `<id ${id}>`,
    vocabSize,
    special,
    ...chatTemplate(config),
  };
}
