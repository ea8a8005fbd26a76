// `attnscope fill-mask MODEL_DIR --text TEXT`: the most probable tokens at each mask token.
import { fillMask as fill } from '../model/hf/text.ts';
import { intFlag, kernelsFlag, str, UsageError } from './args.ts';
import type { Command } from './command.ts';
import { readSource, tokenizerOf, withModel } from './source.ts';

export const fillMask: Command = {
  name: 'fill-mask',
  gpu: true,
  synopsis: 'MODEL_DIR --text TEXT [--top-k K] [--kernels K=V,…]',
  help: `prints, for each mask token in TEXT ([MASK], <mask>: the tokenizer's), the K most probable tokens (default 5)
with their probabilities (softmax over the masked-LM head's logits).`,
  options: { text: { type: 'string' }, 'top-k': { type: 'string' }, kernels: { type: 'string' } },
  async run(modelPath, v, cli) {
    const text = str(v, 'text');
    if (text === undefined) throw new UsageError('fill-mask needs --text TEXT', 'fill-mask');
    const k = intFlag(v, 'top-k', 5)!;
    const kernels = kernelsFlag(v);
    const src = await readSource(modelPath, cli.progress);
    const tok = await tokenizerOf(src, 'fill-mask', 'fill-mask');
    await withModel(src, { kernels, progress: cli.progress }, async (model) => {
      cli.progress.step('running the forward');
      for (const { position, guesses } of await fill(model, tok, text, k)) {
        cli.print(`${tok.special.mask!.token} at token ${position}:`);
        const width = Math.max(...guesses.map((g) => g.token.length));
        for (const g of guesses) cli.print(`  ${g.token.padEnd(width)}  ${g.prob.toFixed(4)}`);
      }
    });
  },
};
