// run --rollout: the attention rollout of each self-attention stack (hooks of its own, whatever --capture asked),
// computed on the GPU (summary hooks: the weights are never copied back).
import { byStream } from '../analysis/attention_modules.ts';
import { bool } from './args.ts';
import type { RunFlags } from './run.ts';

export const rollout: RunFlags = {
  synopsis: '[--rollout]',
  help: `--rollout writes the attention rollout (Abnar & Zuidema 2020: head means mixed half and half with the
identity, rows renormalised, multiplied up through the layers) of each self-attention stack as 'rollout.encoder',
'rollout.decoder' or 'rollout.lm' (a causal lm's) [B, L, L], those the model has.`,
  options: { rollout: { type: 'boolean' } },
  setup(v, { model }) {
    if (!bool(v, 'rollout')) return undefined;
    const stacks = [...byStream(model.attentionModules())].filter(([s]) => s !== 'cross');
    for (const [s, ms] of stacks) for (const m of ms) model.setForwardHook(`rollout ${m.path}`, m.path, undefined, { summary: { rollout: `rollout.${s}` } });
    return {
      report: async (m) => ({
        tensors: stacks.map(([s, ms]) => ({ name: `rollout.${s}`, ...m.hooks[`rollout ${ms.at(-1)!.path}`].summary!.rollout })),
        line: `rollout of ${stacks.map(([s, ms]) => `${s} (${ms.length} layers)`).join(', ')}`,
        json: { rollout: stacks.map(([s, ms]) => ({ stream: s, layers: ms.length })) },
      }),
    };
  },
};
