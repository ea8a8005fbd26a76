// `attnscope generate MODEL_DIR --text PROMPT --max-new-tokens N`: the continuation of a prompt.
import { generateText } from '../model/hf/text.ts';
import { intFlag, kernelsFlag, numberFlag, str, UsageError } from './args.ts';
import type { Command } from './command.ts';
import { readSource, tokenizerOf, withModel } from './source.ts';

export const generate: Command = {
  name: 'generate',
  gpu: true,
  synopsis: 'MODEL_DIR --text PROMPT --max-new-tokens N [--temperature T] [--top-k K] [--seed S] [--kernels K=V,…]',
  help: `prints the continuation of PROMPT, at most N tokens (fewer when the model's eos comes): greedy, or with
--temperature T > 0 each token drawn from softmax(logits / T) over the K largest logits (default all), seeded by S
(default random) as Hugging Face samples.`,
  options: {
    text: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    seed: { type: 'string' },
    kernels: { type: 'string' },
  },
  async run(modelPath, v, cli) {
    const text = str(v, 'text');
    if (text === undefined) throw new UsageError('generate needs --text PROMPT', 'generate');
    if (str(v, 'max-new-tokens') === undefined) throw new UsageError('generate needs --max-new-tokens N', 'generate');
    const sampling = { maxNewTokens: intFlag(v, 'max-new-tokens')!, temperature: numberFlag(v, 'temperature'), topK: intFlag(v, 'top-k'), seed: numberFlag(v, 'seed') };
    const kernels = kernelsFlag(v);
    const src = await readSource(modelPath, cli.progress);
    const tok = await tokenizerOf(src, 'generate', 'generate');
    await withModel(src, { kernels, progress: cli.progress }, async (model) => {
      cli.progress.step(`generating up to ${sampling.maxNewTokens} tokens`);
      cli.print((await generateText(model, tok, text, sampling)).text);
    });
  },
};
