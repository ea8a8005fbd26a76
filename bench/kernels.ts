// Matmul throughput: the tiled kernel, the direct one (opts.direct: no workgroup memory, no barriers) and the naive
// baseline, interleaved, same run, same device. Then attention three ways
// (the fused kernel, the prob-writing kernel, attentionSteps: matmul, masked softmax, matmul), interleaved.
// Run: npm run bench:kernels [-- --json bench/results/kernels-<adapter>.json] [-- --only matmul|attention]
import { writeFileSync } from 'node:fs';
import { createNodeContext } from '../src/gpu/node.ts';
import { ATTENTION, type AttentionRow, benchAttention, benchMatmul, type Row } from './kernel_timing.ts';

async function main(): Promise<void> {
  const jsonAt = process.argv.indexOf('--json');
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
  if (only !== undefined && only !== 'matmul' && only !== 'attention') throw new Error(`--only ${only}: expected matmul or attention`);
  const ctx = await createNodeContext({ who: 'bench:kernels' });
  const rows: Row[] = [];
  let attentionRows: AttentionRow[] = [];
  try {
    if (only !== 'attention') rows.push(...(await benchMatmul(ctx)));
    if (only !== 'matmul') attentionRows = await benchAttention(ctx);
  } finally {
    ctx.dispose();
  }
  if (rows.length > 0) {
    console.log(`\nmatmul on ${ctx.adapterName} (median of 5 interleaved rounds; tiled / kernel > 1: faster than tiled)\n`);
    console.log('| shape | kernel | ms | GFLOP/s | tiled / kernel |');
    console.log('| --- | --- | ---: | ---: | ---: |');
    for (const r of rows) {
      const tiled = rows.find((x) => x.shape === r.shape && x.kernel === 'tiled')!;
      const ratio = r.kernel === 'tiled' ? '' : `${(tiled.medianMs / r.medianMs).toFixed(2)}x`;
      console.log(`| ${r.shape} | ${r.kernel} | ${r.medianMs.toFixed(2)} | ${r.gflops.toFixed(2)} | ${ratio} |`);
    }
  }
  if (attentionRows.length > 0) {
    console.log(`\nattention on ${ctx.adapterName} (median of 12 interleaved rounds; GFLOP/s counts Q·Kᵀ and P·V)\n`);
    console.log('| shape | fused ms | writeProbs ms | steps ms | fused / steps | writeProbs / steps | steps GFLOP/s |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [name] of ATTENTION) {
      const at = (k: AttentionRow['kernel']) => attentionRows.find((r) => r.shape === name && r.kernel === k)!;
      const [f, w, st] = [at('fused'), at('writeProbs'), at('steps')];
      console.log(
        `| ${name} | ${f.medianMs.toFixed(2)} | ${w.medianMs.toFixed(2)} | ${st.medianMs.toFixed(2)} | ` +
          `${(f.medianMs / st.medianMs).toFixed(2)}x | ${(w.medianMs / st.medianMs).toFixed(2)}x | ${st.gflops.toFixed(2)} |`,
      );
    }
  }
  if (jsonAt > 0) {
    const out = process.argv[jsonAt + 1];
    writeFileSync(out, JSON.stringify({ adapter: ctx.adapterName, date: new Date().toISOString(), rows, attention: attentionRows }, null, 2));
    console.log(`\nwrote ${out}`);
  }
}

await main();
