// Peak resident memory, GPU bytes and load time of one Model.fromCheckpoint, run on its own (bench/hf.ts spawns it so
// that nothing else the benchmark holds counts): `vite-node bench/load_memory.ts CHECKPOINT_DIR` prints one JSON line
// (LoadMemory). Run it on a checkpoint's F16 and F32 files to compare them (F16 matrices stay packed on the GPU).
// The GPU context is created and every module imported first; then the kernel's peak-RSS mark is reset
// (/proc/self/clear_refs "5", Linux >= 4.0) so VmHWM afterwards is the peak of the load alone, measured until the
// queue has drained every weight upload.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeContext } from '../src/gpu/node.ts';
import { Model } from '../src/model/model.ts';
import { directoryFiles } from '../src/node.ts';
import { Tensor } from '../src/tensor.ts';

export interface LoadMemory {
  adapter: string;
  /** Size of model.safetensors. */
  fileBytes: number;
  /**
   * Bytes of the weights on the GPU: F16 / BF16 matrices packed as stored, the rest f32. On a CPU adapter
   * (SwiftShader) they are host memory and count in RSS.
   */
  weightBytes: number;
  /** GPU buffer bytes the load added (ctx.buffers.stats), and that over the file's size (target <= 1.1). */
  gpuBytes: number;
  gpuRatio: number;
  /** Bytes of weights by GPU dtype (f32, f16, bf16). */
  byDtype: Record<string, number>;
  baselineRssBytes: number;
  /** VmHWM during the load minus the RSS before it. */
  peakDeltaBytes: number;
  /** RSS after the load minus the RSS before it. */
  afterDeltaBytes: number;
  loadMs: number;
}

const status = (field: 'VmRSS' | 'VmHWM') => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${field}`);
  return Number(m[1]) * 1024;
};

const dir = process.argv[2];
if (!dir) throw new Error('usage: vite-node bench/load_memory.ts CHECKPOINT_DIR');
const ctx = await createNodeContext();
const baselineRssBytes = status('VmRSS');
writeFileSync('/proc/self/clear_refs', '5');
const gpuBefore = ctx.buffers.stats.bytes;
const t0 = performance.now();
const model = await Model.fromCheckpoint(ctx, directoryFiles(dir));
await ctx.wait(ctx.device.queue.onSubmittedWorkDone());
const loadMs = performance.now() - t0;
// Each tensor once (a tied weight is held by two modules).
const tensors = new Set([...model.namedModules().values()].flatMap((m) => Object.values(m).filter((t): t is Tensor => t instanceof Tensor && !!t.buffer)));
const byDtype: Record<string, number> = {};
for (const t of tensors) byDtype[t.dtype] = (byDtype[t.dtype] ?? 0) + t.byteSize;
const fileBytes = statSync(join(dir, 'model.safetensors')).size;
const gpuBytes = ctx.buffers.stats.bytes - gpuBefore;
const result: LoadMemory = {
  adapter: ctx.adapterName,
  fileBytes,
  weightBytes: model.weightBytes,
  gpuBytes,
  gpuRatio: gpuBytes / fileBytes,
  byDtype,
  baselineRssBytes,
  peakDeltaBytes: status('VmHWM') - baselineRssBytes,
  afterDeltaBytes: status('VmRSS') - baselineRssBytes,
  loadMs,
};
model.dispose();
ctx.dispose();
console.log(JSON.stringify(result));
