// Character tokenisation with a model's vocabulary (one token per character), and labels for tokens.
import type { ModelConfig } from '../src/index.ts';

const isControl = (s: string) => s.length === 1 && (s.charCodeAt(0) < 32 || s.charCodeAt(0) === 127);

/** A vocabulary entry shown to a person: specials as ⟨bos⟩, a space as ␣, control characters as \uXXXX. */
export function tokenLabel(token: string): string {
  if (/^<[a-z]+>$/i.test(token)) return `⟨${token.slice(1, -1)}⟩`;
  if (token === ' ') return '␣';
  if (token === '\n') return '⏎';
  if (token === '\t') return '⇥';
  if (isControl(token)) return `\\u${token.charCodeAt(0).toString(16).padStart(4, '0')}`;
  return token;
}

export class TokenizeError extends Error {
  constructor(
    message: string,
    /** Index (in code points) of the offending character. */
    readonly at: number,
  ) {
    super(message);
    this.name = 'TokenizeError';
  }
}

/**
 * Text -> ids, one per character (code point). A seq2seq source ends with eos, as the demo models were trained
 * (tools/train_demo.py); an lm prompt is the characters alone. Unknown characters throw, naming the first one.
 */
export function tokenize(text: string, c: Extract<ModelConfig, { kind: 'seq2seq' | 'lm' }>): number[] {
  const vocab = c.kind === 'seq2seq' ? c.src_vocab : c.vocab;
  const index = new Map<string, number>();
  vocab.forEach((t, i) => {
    if (!index.has(t)) index.set(t, i);
  });
  const chars = [...text];
  if (chars.length === 0) throw new TokenizeError('the input is empty', 0);
  const ids: number[] = [];
  for (let i = 0; i < chars.length; i++) {
    const id = index.get(chars[i]);
    if (id === undefined) {
      const ch = chars[i];
      const code = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      const shown = ch === ' ' ? 'space' : isControl(ch) ? `control character ${code}` : `'${ch}' (${code})`;
      throw new TokenizeError(`the character ${shown} at position ${i + 1} is not in the model's vocabulary`, i);
    }
    ids.push(id);
  }
  if (c.kind === 'seq2seq' && c.eos_id !== null) ids.push(c.eos_id);
  if (ids.length > c.max_len) throw new TokenizeError(`the input is ${ids.length} tokens long; this model takes at most ${c.max_len}`, c.max_len);
  return ids;
}

/** Ids -> text, dropping specials (tokens written <like-this>). */
export function detokenize(ids: readonly number[], vocab: readonly string[]): string {
  return ids.map((i) => vocab[i] ?? '?').filter((t) => !/^<[a-z]+>$/i.test(t)).join('');
}
