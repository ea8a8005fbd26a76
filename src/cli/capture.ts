// run --capture PATTERN: the matched modules' inputs, outputs and attention weights, written to OUT. Weights whose
// capture would pass the per-forward budget (or all of them, with --chunk-bytes) are streamed to OUT by chunks of
// query rows as the forward runs (src/cli/out_file.ts), so memory is bounded by a chunk, not by the map.
import type { HookOptions, HookRecord } from '../hooks/registry.ts';
import { bool, headsFlag, intFlag, queriesFlag, str, strs, UsageError } from './args.ts';
import type { Values } from './command.ts';
import type { OutTensor, SpooledTensor } from './out_file.ts';
import type { RunFlags } from './run.ts';

/**
 * A hook record's tensors under the CLI's names: '<path>.input[.i]', '<path>.output[.i]', '<path>.weights' (from the
 * spool when the weights were streamed).
 */
function captureTensors(rec: HookRecord, attention: boolean, spooled?: SpooledTensor): (OutTensor | SpooledTensor)[] {
  const named = (field: string, i: number) => `${rec.module}.${attention && field === 'output' && i === 1 ? 'weights' : i === 0 ? field : `${field}.${i}`}`;
  const summaries = Object.entries(rec.summary ?? {}).map(([n, t]) => ({ name: `${rec.module}.${n}`, ...t }));
  return [...rec.input.map((t, i) => ({ name: named('input', i), ...t })), ...(rec.output ?? []).map((t, i) => ({ name: named('output', i), ...t })), ...(spooled ? [spooled] : []), ...summaries];
}

/** Options that leave the weights whole (no cut, no summary): only then can they be streamed to OUT as they are. */
const streamable = (o: HookOptions) => !o.averageHeads && !o.heads && !o.queries && !o.summary;

const patterns = (v: Values) => strs(v, 'capture');

export const capture: RunFlags = {
  synopsis: '[--capture PATTERN]... [--average-heads] [--heads H,…] [--queries FROM:TO] [--chunk-bytes N]',
  help: `--capture PATTERN (repeatable; a module path or glob such as 'encoder.layers.*.self_attn', '**.self_attn')
writes each matched module's inputs and outputs as '<path>.input' ('.input.1', …) and '<path>.output'; attention
modules add '<path>.weights' [B, H, L, S]: averaged over heads with --average-heads ([B, L, S]), only heads H,… with
--heads, only query rows [FROM, TO) with --queries (cut on the GPU before the copy back). Whole weights that would
pass the per-forward capture budget (256 MiB) are streamed to OUT by chunks of query rows while the forward runs
(and the map is then computed by chunks too); --chunk-bytes N streams every captured map in chunks of at most N bytes.`,
  options: {
    capture: { type: 'string', multiple: true },
    'average-heads': { type: 'boolean' },
    heads: { type: 'string' },
    queries: { type: 'string' },
    'chunk-bytes': { type: 'string' },
  },
  check(v, { outline }) {
    const cut = ['average-heads', 'heads', 'queries'].find((f) => v[f] !== undefined);
    if (cut && !patterns(v).length) throw new UsageError(`--${cut} needs --capture`, 'run');
    if (intFlag(v, 'chunk-bytes') !== undefined) {
      if (!patterns(v).length || str(v, 'out') === undefined) throw new UsageError('--chunk-bytes streams captured weights to OUT: it needs --capture and --out', 'run');
      if (cut) throw new UsageError(`--chunk-bytes streams whole weights; it cannot be combined with --${cut}`, 'run');
    }
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
  setup(v, { model, captureOptions, out }) {
    const paths = [...new Set(patterns(v).flatMap((p) => model.modulesMatching(p)))];
    if (!paths.length) return undefined;
    const attention = new Set(model.attentionModules().map((m) => m.path));
    const chunkBytes = intFlag(v, 'chunk-bytes');
    const canStream = !!out && streamable(captureOptions);
    let streaming = false;
    const register = (stream: boolean) => {
      streaming = stream;
      for (const p of paths) {
        if (model.hookNames().includes(p)) model.delHook(p);
        const opts = !attention.has(p) ? {} : stream ? { ...captureOptions, stream: { chunkBytes, onChunk: out!.sink(`${p}.weights`) } } : captureOptions;
        model.setForwardHook(p, p, undefined, opts);
      }
    };
    register(canStream && chunkBytes !== undefined);
    return {
      overBudget: () => {
        if (streaming || !canStream || !paths.some((p) => attention.has(p))) return false;
        register(true);
        return true;
      },
      report: async (m) => {
        const tensors = paths.flatMap((p) => captureTensors(m.hooks[p], attention.has(p), streaming && attention.has(p) ? out!.spooledTensor(`${p}.weights`) : undefined));
        return { tensors, json: { captures: tensors.map((t) => ({ name: t.name, shape: t.shape })), ...(streaming && { streamed: { chunkBytes: chunkBytes ?? 16 << 20, spoolBytes: out!.spoolSize } }) } };
      },
    };
  },
};
