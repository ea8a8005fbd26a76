// run --capture PATTERN --topk K --entropy --downsample N: summaries of the captured attention modules' weights,
// computed on the GPU (the weights themselves are not copied back; a long map is summarised by chunks of query rows).
import type { SummaryOptions } from '../hooks/summary.ts';
import { bool, intFlag, strs, UsageError } from './args.ts';
import type { Values } from './command.ts';
import type { RunFlags } from './run.ts';

function summaryOf(v: Values): SummaryOptions | undefined {
  const s: SummaryOptions = { topk: intFlag(v, 'topk'), entropy: bool(v, 'entropy') || undefined, downsample: intFlag(v, 'downsample') };
  return Object.values(s).some((x) => x !== undefined) ? s : undefined;
}

export const summary: RunFlags = {
  synopsis: '[--topk K] [--entropy] [--downsample N]',
  help: `--topk K, --entropy, --downsample N replace the '<path>.weights' of the attention modules --capture matched by
summaries computed on the GPU: '<path>.topk.values' and '<path>.topk.indices' [B, H, L, K] (the K largest probabilities
of each query row and their key positions, ties to the lower position), '<path>.entropy' [B, H, L] (nats),
'<path>.downsample.max' and '<path>.downsample.mean' [B, H, N, N] (block max and mean). A map past 64 MiB is
summarised by chunks of query rows, so it is never whole in memory (see docs/long-context.md).`,
  options: { topk: { type: 'string' }, entropy: { type: 'boolean' }, downsample: { type: 'string' } },
  check(v) {
    const s = summaryOf(v);
    if (s && !strs(v, 'capture').length) throw new UsageError(`--${['topk', 'entropy', 'downsample'].find((f) => v[f] !== undefined)} needs --capture`, 'run');
    for (const f of ['average-heads', 'heads', 'queries']) if (s && v[f] !== undefined) throw new UsageError(`--${f} cannot be combined with --topk / --entropy / --downsample (they summarise every head and query)`, 'run');
  },
  captureOptions: (v) => {
    const s = summaryOf(v);
    return s ? { summary: s } : {};
  },
};
