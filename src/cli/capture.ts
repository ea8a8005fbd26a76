// run --capture PATTERN: the matched modules' inputs, outputs and attention weights, written to OUT.
import type { HookRecord } from '../hooks/registry.ts';
import { bool, headsFlag, queriesFlag, strs, UsageError } from './args.ts';
import type { Values } from './command.ts';
import type { OutTensor, RunFlags } from './run.ts';

/** A hook record's tensors under the CLI's names: '<path>.input[.i]', '<path>.output[.i]', '<path>.weights'. */
function captureTensors(rec: HookRecord, attention: boolean): OutTensor[] {
  const named = (field: string, i: number) => `${rec.module}.${attention && field === 'output' && i === 1 ? 'weights' : i === 0 ? field : `${field}.${i}`}`;
  const summaries = Object.entries(rec.summary ?? {}).map(([n, t]) => ({ name: `${rec.module}.${n}`, ...t }));
  return [...rec.input.map((t, i) => ({ name: named('input', i), ...t })), ...(rec.output ?? []).map((t, i) => ({ name: named('output', i), ...t })), ...summaries];
}

const patterns = (v: Values) => strs(v, 'capture');

export const capture: RunFlags = {
  synopsis: '[--capture PATTERN]... [--average-heads] [--heads H,…] [--queries FROM:TO]',
  help: `--capture PATTERN (repeatable; a module path or glob such as 'encoder.layers.*.self_attn', '**.self_attn')
writes each matched module's inputs and outputs as '<path>.input' ('.input.1', …) and '<path>.output'; attention
modules add '<path>.weights' [B, H, L, S]: averaged over heads with --average-heads ([B, L, S]), only heads H,… with
--heads, only query rows [FROM, TO) with --queries (cut on the GPU before the copy back).`,
  options: {
    capture: { type: 'string', multiple: true },
    'average-heads': { type: 'boolean' },
    heads: { type: 'string' },
    queries: { type: 'string' },
  },
  check(v, { outline }) {
    const cut = ['average-heads', 'heads', 'queries'].find((f) => v[f] !== undefined);
    if (cut && !patterns(v).length) throw new UsageError(`--${cut} needs --capture`, 'run');
    const heads = headsFlag(v);
    queriesFlag(v);
    const paths = [...new Set(patterns(v).flatMap((p) => outline.modulesMatching(p)))];
    if (paths.includes('')) throw new UsageError('--capture: the root module is the output itself; capture its children', 'run');
    const attention = new Map(outline.attentionModules().map((m) => [m.path, m.heads]));
    if (cut) {
      const other = paths.find((p) => !attention.has(p));
      if (other !== undefined) throw new UsageError(`--${cut} applies to attention modules; --capture matched ${other} (a ${outline.modules.get(other)!.kind})`, 'run');
    }
    for (const p of paths) {
      const bad = heads?.find((h) => h >= attention.get(p)!);
      if (bad !== undefined) throw new UsageError(`--heads: ${p} has ${attention.get(p)} heads; there is no head ${bad}`, 'run');
    }
  },
  captureOptions: (v) => ({ averageHeads: bool(v, 'average-heads') || undefined, heads: headsFlag(v), queries: queriesFlag(v) }),
  setup(v, { model, captureOptions }) {
    const paths = [...new Set(patterns(v).flatMap((p) => model.modulesMatching(p)))];
    if (!paths.length) return undefined;
    const attention = new Set(model.attentionModules().map((m) => m.path));
    for (const p of paths) model.setForwardHook(p, p, undefined, attention.has(p) ? captureOptions : {});
    return {
      report: async (m) => {
        const tensors = paths.flatMap((p) => captureTensors(m.hooks[p], attention.has(p)));
        return { tensors, json: { captures: tensors.map((t) => ({ name: t.name, shape: t.shape })) } };
      },
    };
  },
};
