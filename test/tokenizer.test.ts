// loadTokenizer on the fixture checkpoints: ids, tokens, segment ids and decoding as tools/hf_reference.py recorded
// them (tokenizer_expect.json), special tokens from tokenizer_config.json, and the refusals.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { directoryFiles } from '../src/model/hf/dir.ts';
import { loadTokenizer } from '../src/model/hf/tokenizer.ts';

const hf = fileURLToPath(new URL('./fixtures/hf/', import.meta.url));

interface Expect {
  text: string;
  text_pair?: string;
  ids: number[];
  tokens: string[];
  token_type_ids?: number[];
  decoded?: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'attnscope-tokenizer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

for (const name of ['gpt2_lm', 'bert_mlm']) {
  describe(name, () => {
    const expected = JSON.parse(readFileSync(join(hf, name, 'tokenizer_expect.json'), 'utf8')) as Expect[];
    for (const e of expected) {
      it(`encodes ${JSON.stringify(e.text)}${e.text_pair ? ` + ${JSON.stringify(e.text_pair)}` : ''} as HF does`, async () => {
        const tok = (await loadTokenizer(directoryFiles(join(hf, name))))!;
        const got = tok.encode(e.text, e.text_pair);
        expect(got.ids).toEqual(e.ids);
        expect(got.tokens).toEqual(e.tokens);
        expect(got.typeIds).toEqual(e.token_type_ids);
        expect(got.ids.map((id) => tok.token(id))).toEqual(e.tokens);
        if (e.decoded !== undefined) expect(tok.decode(got.ids)).toBe(e.decoded);
      });
    }
  });
}

describe('special tokens and decoding', () => {
  it('GPT-2: eos = bos = <|endoftext|>, no mask', async () => {
    const tok = (await loadTokenizer(directoryFiles(join(hf, 'gpt2_lm'))))!;
    expect(tok.special.eos).toEqual({ id: 297, token: '<|endoftext|>' });
    expect(tok.special.bos).toEqual(tok.special.eos);
    expect(tok.special.mask).toBeUndefined();
    expect(tok.vocabSize).toBe(298);
  });

  it('BERT: mask, pad, cls, sep; decode keeps or skips them', async () => {
    const tok = (await loadTokenizer(directoryFiles(join(hf, 'bert_mlm'))))!;
    expect(tok.special).toMatchObject({ mask: { id: 4, token: '[MASK]' }, pad: { token: '[PAD]' }, cls: { id: 2, token: '[CLS]' }, sep: { id: 3, token: '[SEP]' } });
    const { ids, tokens } = tok.encode('the cat [MASK] sat');
    expect(tokens).toEqual(['[CLS]', 'the', 'cat', '[MASK]', 'sat', '[SEP]']);
    expect(tok.decode(ids)).toBe('[CLS] the cat [MASK] sat [SEP]');
    expect(tok.decode(ids, { skipSpecial: true })).toBe('the cat sat');
    expect(tok.token(10_000)).toBe('<id 10000>');
  });

  it('a checkpoint without tokenizer.json has none', async () => {
    expect(await loadTokenizer(directoryFiles(join(hf, 'gpt2_base')))).toBeUndefined();
  });

  it('a malformed tokenizer.json is one error naming the file', async () => {
    writeFileSync(join(scratch, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(directoryFiles(scratch))).rejects.toThrow(/tokenizer-.*\/tokenizer\.json: not valid JSON/);
    writeFileSync(join(scratch, 'tokenizer.json'), '[1, 2]');
    await expect(loadTokenizer(directoryFiles(scratch))).rejects.toThrow(/tokenizer\.json: not a JSON object/);
    writeFileSync(join(scratch, 'tokenizer.json'), '{}');
    await expect(loadTokenizer(directoryFiles(scratch))).rejects.toThrow(/tokenizer\.json: not a tokenizer @huggingface\/tokenizers can run \(Tokenizer must contain a "model" property\)/);
  });
});
