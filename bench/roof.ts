// The adapter's roofs and every kernel of bench:kernels against them (issue #18, bench/roofline.ts): peak FMA
// throughput, read bandwidth, then the roofline table (flop/byte, GFLOP/s, % of roof).
// Run: npm run bench:roof [-- --quick] [-- --json FILE]    (--quick: the model's Linear shapes, tiled and direct only, fewer rounds)
import { writeFileSync } from 'node:fs';
import { createNodeContext } from '../src/gpu/node.ts';
import { benchAttention, benchMatmul, SHAPES } from './kernel_timing.ts';
import { LINEAR_SHAPES, measureRoof, printRoof, roofline } from './roofline.ts';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const jsonAt = process.argv.indexOf('--json');
  const ctx = await createNodeContext({ who: 'bench:roof' });
  try {
    const roof = await measureRoof(ctx, quick ? 3 : 5);
    const rows = await benchMatmul(ctx, quick ? LINEAR_SHAPES : SHAPES, !quick);
    const attention = quick ? [] : await benchAttention(ctx);
    const table = [...roofline(roof, rows, 'matmul'), ...roofline(roof, attention, 'attention')];
    printRoof(roof, table);
    if (jsonAt > 0) {
      writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ date: new Date().toISOString(), roof, table }, null, 2));
      console.log(`\nwrote ${process.argv[jsonAt + 1]}`);
    }
  } finally {
    ctx.dispose();
  }
}

await main();
