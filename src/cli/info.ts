// `attnscope info MODEL`: the config and the module tree, read from the file alone (no GPU).
import { bool } from './args.ts';
import type { Command } from './command.ts';
import { readSource } from './source.ts';

export const info: Command = {
  name: 'info',
  gpu: false,
  synopsis: 'MODEL [--json]',
  help: `prints the model's config and its modules, named as PyTorch names them (with --json: one object with
config, modules [{path, kind}], attention [{path, role, layer, heads}] and inputs). Needs no GPU.`,
  options: { json: { type: 'boolean' } },
  async run(modelPath, v, cli) {
    const { file, outline } = await readSource(modelPath, cli.progress);
    const config = { ...file.config, src_vocab: undefined, tgt_vocab: undefined, vocab: undefined };
    const modules = [...outline.modules].map(([path, m]) => ({ path, kind: m.kind }));
    if (bool(v, 'json')) {
      cli.print(JSON.stringify({ config, modules, attention: outline.attentionModules(), inputs: outline.inputNames }));
      return;
    }
    cli.print(JSON.stringify(config));
    for (const m of modules) cli.print(`${m.path || '(root)'}  ${m.kind}`);
  },
};
