// Kernel check page: runs a few kernels on navigator.gpu and compares each with its CPU reference.
import { GpuContext } from '../src/gpu/context.ts';
import { run, release } from '../src/kernels/dispatch.ts';
import { matmul, matmulRef, type MatmulShape } from '../src/kernels/matmul.ts';
import { Tensor } from '../src/tensor.ts';

const rows = document.getElementById('rows')!;
const status = document.getElementById('status')!;

function randoms(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s / 1073741824 - 1;
  }
  return out;
}

async function checkMatmul(ctx: GpuContext, label: string, shape: MatmulShape): Promise<number> {
  const { M, N, K } = shape;
  const a = randoms(M * K, 1);
  const b = randoms(K * N, 2);
  const ta = Tensor.upload(ctx, a, [M, K], 'a');
  const tb = Tensor.upload(ctx, b, shape.transB ? [N, K] : [K, N], 'b');
  const tc = Tensor.empty(ctx, [M, N], 'c');
  const d = await matmul(ctx, { a: { buffer: ta.buffer }, b: { buffer: tb.buffer }, c: { buffer: tc.buffer } }, shape);
  const t0 = performance.now();
  await run(ctx, [d], label);
  const ms = performance.now() - t0;
  const got = await tc.download();
  release(ctx, [d]);
  for (const t of [ta, tb, tc]) t.dispose();
  const want = matmulRef(a, b, shape);
  let err = 0;
  for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  const ok = err < 1e-3;
  const tr = document.createElement('tr');
  tr.innerHTML = `<td>${label}</td><td>${ms.toFixed(1)}</td><td>${err.toExponential(2)}</td><td class="${ok ? 'ok' : 'bad'}">${ok ? 'ok' : 'MISMATCH'}</td>`;
  rows.append(tr);
  return ok ? 0 : 1;
}

async function main(): Promise<void> {
  if (!navigator.gpu) {
    status.className = 'bad';
    status.textContent =
      'This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome/Edge, or Chromium with --enable-unsafe-webgpu, on http://127.0.0.1 or https.';
    return;
  }
  const ctx = await GpuContext.create(navigator.gpu, { who: 'attnscope demo' });
  document.getElementById('adapter')!.textContent = `Adapter: ${ctx.adapterName}; features: ${[...ctx.features].filter((f) => ['timestamp-query', 'subgroups', 'shader-f16'].includes(f)).join(', ') || 'none of timestamp-query, subgroups, shader-f16'}`;
  let bad = 0;
  try {
    bad += await checkMatmul(ctx, 'matmul 128x96x64', { M: 128, N: 96, K: 64 });
    bad += await checkMatmul(ctx, 'Linear 67x130 <- 77 (B transposed)', { M: 67, N: 130, K: 77, transB: true });
  } finally {
    ctx.dispose();
  }
  status.className = bad ? 'bad' : 'ok';
  status.textContent = bad ? `${bad} check(s) failed` : 'All checks passed';
}

main().catch((e) => {
  status.className = 'bad';
  status.textContent = `Error: ${e instanceof Error ? e.message : String(e)}`;
});
