// One command for a machine with a real GPU (issue #18): records the adapter, the roof (bench:roof: peak FMA, read
// bandwidth, every kernel of bench:kernels — both matmul kernels, the three attentions — as a share of it), both
// kernel sets at model level (bench:model: the adapter's set and the other, with and without capture, decoding), the
// causal analyses (bench:causal: patching sweep and integrated gradients, batched vs one run per variant vs PyTorch) and
// the peers (npm run bench: onnxruntime-web, PyTorch CPU), each in a process of its own, into
// bench/results/gpu-<adapter>.json, and prints a summary table. It chooses nothing: the numbers are for a person to
// read (docs/speed.md says which defaults they would pick). Sized for < 8 minutes on a GPU; --quick keeps it to a few
// minutes on SwiftShader (the Linear shapes, the small config, fewer rounds) to show that it runs end to end.
// Run: npm run bench:gpu [-- --quick]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createNodeContext } from '../src/gpu/node.ts';
import type { Roof, RooflineRow } from './roofline.ts';
import { adapterSlug, RESULTS, ROOT, runScript, type ScriptResult } from './shared.ts';

interface Part {
  name: string;
  args: string[];
  /** Wall-clock limit of the part, seconds. */
  limit: number;
}

type PartResult = ScriptResult & { name: string };

const quick = process.argv.includes('--quick');
const dir = mkdtempSync(join(tmpdir(), 'attnscope-gpu-'));
const out = (name: string) => join(dir, `${name}.json`);

const parts: Part[] = [
  { name: 'roof', args: ['bench/roof.ts', ...(quick ? ['--quick'] : []), '--json', out('roof')], limit: quick ? 300 : 180 },
  { name: 'model', args: ['bench/model.ts', '--configs', quick ? 'small' : 'small,medium,large', '--reps', quick ? '3' : '10', '--json', out('model')], limit: quick ? 600 : 150 },
  { name: 'causal', args: ['bench/causal.ts', ...(quick ? ['--configs', 'medium', '--steps', '4'] : []), '--json', out('causal')], limit: quick ? 900 : 300 },
  { name: 'peers', args: ['bench/peers.ts', '--configs', quick ? 'small' : 'small,medium', '--repeats', quick ? '3' : '10', '--json', out('peers')], limit: quick ? 600 : 150 },
];

/** Runs one part in a process of its own; its JSON is read back, its output goes to the terminal. */
function run(p: Part): PartResult {
  return { name: p.name, ...runScript(p.args, p.limit, out(p.name)) };
}

/** The adapter as the device reports it: name, features, the limits kernels check. */
async function adapterInfo(): Promise<Record<string, unknown>> {
  const ctx = await createNodeContext({ who: 'bench:gpu' });
  try {
    const l = ctx.limits;
    return {
      name: ctx.adapterName,
      features: [...ctx.device.features].sort(),
      kernels: ctx.kernels,
      limits: { maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX, maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize },
    };
  } finally {
    ctx.dispose();
  }
}

const t0 = performance.now();
const adapter = await adapterInfo();
const results = parts.map(run);
const record = { date: new Date().toISOString(), quick, adapter, seconds: (performance.now() - t0) / 1000, parts: results };
const file = join(RESULTS, `gpu-${adapterSlug(String(adapter.name))}${quick ? '-quick' : ''}.json`);
writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);

// Summary: the roofs, each kernel's share of its roof, then each part's status.
console.log(`\nbench:gpu on ${String(adapter.name)} (${record.seconds.toFixed(0)} s${quick ? ', --quick' : ''}); features: ${(adapter.features as string[]).join(', ')}`);
const roofPart = results.find((r) => r.name === 'roof' && r.ok)?.result as { roof: Roof; table: RooflineRow[] } | undefined;
if (roofPart) {
  const { roof, table } = roofPart;
  console.log(`\nroof: ${roof.peakGflops.toFixed(1)} GFLOP/s multiply-add (the better of fma() and a * b + c), ${roof.readGBs.toFixed(1)} GB/s read\n`);
  console.log('| kernel | shape | GFLOP/s | % of roof |');
  console.log('| --- | --- | ---: | ---: |');
  for (const r of table) console.log(`| ${r.kernel} | ${r.shape} | ${r.gflops.toFixed(2)} | ${(100 * r.ofRoof).toFixed(1)}% |`);
}
console.log('\n| part | ok | seconds | command |');
console.log('| --- | --- | ---: | --- |');
for (const r of results) console.log(`| ${r.name} | ${r.ok ? 'yes' : `no: ${r.error}`} | ${r.seconds.toFixed(0)} | ${r.command.replace(dir, '$TMP')} |`);
console.log(`\nwrote ${relative(ROOT, file)} (the model and peers tables are printed above by their parts)`);
