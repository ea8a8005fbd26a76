// Issue #18 experiments: matmul variants for SwiftShader, each timed interleaved against the kept direct kernel on
// the model's Linear shapes (C = A·Bᵀ), after checking that it computes the same C; plus the multiply-add roofs
// (fma() and a * b + c) and a check of which Dawn robustness behaviour the device has.
// Run: vite-node bench/matmul_variants.ts [-- --dawn-features disable_robustness,...] [-- --only NAME,NAME] [-- --rounds N]
//      [-- --against FILE.wgsl [--against-block 8|16]]
// The variants are raw WGSL generated here (Linear case only: A [M, K] and B [N, K] as vec4 arrays, M and N multiples
// of the block, K of 4); what they showed is in docs/speed.md.
import { loadavg } from 'node:os';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { type Dispatch, release } from '../src/kernels/dispatch.ts';
import { roofFma, roofFmaFlops, type RoofFmaShape } from '../src/kernels/roof_fma.ts';
import { dispatchKernel } from '../src/kernels/kernel.ts';
import { MATMUL, matmul, matmulLayout, matmulNeed, type MatmulShape, subgroupsOf4 } from '../src/kernels/matmul.ts';
import { readFileSync } from 'node:fs';
import { Tensor } from '../src/tensor.ts';
import { timeInterleaved } from './kernel_timing.ts';
import { LINEAR_SHAPES } from './roofline.ts';

interface Variant {
  name: string;
  /** Rows and columns of C per invocation. */
  bm: number;
  bn: number;
  /** 'fma': fma(a, b, acc); 'muladd': acc + a * b. */
  op: 'fma' | 'muladd';
  /** Steps of 4 along K per loop iteration (the body repeated by hand). */
  unroll: number;
  /**
   * Operands loaded once per subgroup and broadcast (needs 'subgroups', size 4). 'A' (the kept kernel's SUBGROUP): the
   * 4 lanes take 4 consecutive column blocks of the same rows and each loads a quarter of A's rows. 'B': the 4 lanes take 4 consecutive
   * row blocks of the same columns and each loads a quarter of B's rows. 'AB': the lanes take a 2x2 square of blocks,
   * lane 2r + c at row block r, column block c; each loads half of its row block's A rows and half of its column
   * block's B rows, and gets the other halves from the lane beside it (both operands shared: 2x fewer loads of each).
   */
  share?: 'A' | 'B' | 'AB';
  /** With share 'AB': subgroupShuffle from the computed lane instead of two broadcasts and a select. */
  shuffle?: boolean;
  /**
   * Half of the work only, to split a variant's time (not a product: its C differs): 'loads' makes every load of the
   * loop and one add per loaded vec4; 'math' loads once before the loop and runs only the multiply-adds in it.
   */
  part?: 'loads' | 'math';
  /** A and B read through textureLoad from rgba32float textures (one texel: 4 floats along K) instead of storage. */
  textures?: boolean;
}

const VARIANTS: Variant[] = [
  { name: '8x8 fma', bm: 8, bn: 8, op: 'fma', unroll: 1 },
  { name: '8x8 muladd', bm: 8, bn: 8, op: 'muladd', unroll: 1 },
  { name: '4x4 muladd', bm: 4, bn: 4, op: 'muladd', unroll: 1 },
  { name: '4x8 muladd', bm: 4, bn: 8, op: 'muladd', unroll: 1 },
  { name: '8x16 muladd', bm: 8, bn: 16, op: 'muladd', unroll: 1 },
  { name: '16x8 muladd', bm: 16, bn: 8, op: 'muladd', unroll: 1 },
  { name: '16x16 muladd', bm: 16, bn: 16, op: 'muladd', unroll: 1 },
  { name: '8x8 muladd unroll 2', bm: 8, bn: 8, op: 'muladd', unroll: 2 },
  { name: '4x16 muladd subgroup B', bm: 4, bn: 16, op: 'muladd', unroll: 1, share: 'B' },
  { name: '8x16 muladd subgroup B', bm: 8, bn: 16, op: 'muladd', unroll: 1, share: 'B' },
  { name: '2x16 muladd subgroup B', bm: 2, bn: 16, op: 'muladd', unroll: 1, share: 'B' },
  { name: '8x8 muladd subgroup B', bm: 8, bn: 8, op: 'muladd', unroll: 1, share: 'B' },
  { name: '16x16 muladd subgroup B', bm: 16, bn: 16, op: 'muladd', unroll: 1, share: 'B' },
  { name: '16x16 fma subgroup B', bm: 16, bn: 16, op: 'fma', unroll: 1, share: 'B' },
  { name: '16x16 fma subgroup B unroll 2', bm: 16, bn: 16, op: 'fma', unroll: 2, share: 'B' },
  { name: '16x16 fma subgroup B loads only', bm: 16, bn: 16, op: 'fma', unroll: 1, share: 'B', part: 'loads' },
  { name: '16x16 fma subgroup B math only', bm: 16, bn: 16, op: 'fma', unroll: 1, share: 'B', part: 'math' },
  { name: '16x16 fma', bm: 16, bn: 16, op: 'fma', unroll: 1 },
  { name: '16x16 fma subgroup A', bm: 16, bn: 16, op: 'fma', unroll: 1, share: 'A' },
  { name: '16x16 fma subgroup AB', bm: 16, bn: 16, op: 'fma', unroll: 1, share: 'AB' },
  { name: '16x16 fma subgroup AB shuffle', bm: 16, bn: 16, op: 'fma', unroll: 1, share: 'AB', shuffle: true },
  { name: '16x8 fma subgroup AB', bm: 16, bn: 8, op: 'fma', unroll: 1, share: 'AB' },
  { name: '8x8 fma subgroup AB', bm: 8, bn: 8, op: 'fma', unroll: 1, share: 'AB' },
  { name: '8x16 fma subgroup B unroll 2', bm: 8, bn: 16, op: 'fma', unroll: 2, share: 'B' },
  { name: '8x8 fma subgroup B unroll 4', bm: 8, bn: 8, op: 'fma', unroll: 4, share: 'B' },
  { name: '4x16 fma subgroup B unroll 4', bm: 4, bn: 16, op: 'fma', unroll: 4, share: 'B' },
  { name: '4x8 fma subgroup B unroll 4', bm: 4, bn: 8, op: 'fma', unroll: 4, share: 'B' },
  { name: '8x8 muladd textures', bm: 8, bn: 8, op: 'muladd', unroll: 1, textures: true },
  { name: '4x4 muladd textures', bm: 4, bn: 4, op: 'muladd', unroll: 1, textures: true },
  { name: '8x16 muladd textures', bm: 8, bn: 16, op: 'muladd', unroll: 1, textures: true },
];

const WG = 64;

/** WGSL for one variant: invocation i of the grid owns block (i / (N / bn), i % (N / bn)) of C. */
function variantSource(v: Variant): string {
  const L: string[] = [];
  if (v.share) L.push('enable subgroups;');
  L.push('struct Params { M: u32, N: u32, K: u32, pad: u32 }');
  if (v.textures) {
    L.push('@group(0) @binding(0) var a: texture_2d<f32>;');
    L.push('@group(0) @binding(1) var b: texture_2d<f32>;');
  } else {
    L.push('@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;');
    L.push('@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;');
  }
  // Row r, texel k (4 floats along K) of an operand.
  const at = (x: string, r: string, k: string) => (v.textures ? `textureLoad(${x}, vec2<u32>(${k}, ${r}), 0)` : `${x}[(${r}) * K4 + ${k}]`);
  L.push('@group(0) @binding(2) var<storage, read_write> c: array<f32>;');
  L.push('@group(0) @binding(3) var<uniform> p: Params;');
  const args = v.share ? ', @builtin(subgroup_invocation_id) lane: u32' : '';
  L.push(`@compute @workgroup_size(${WG})`);
  L.push(`fn main(@builtin(global_invocation_id) gid: vec3<u32>${args}) {`);
  L.push('  let K4 = p.K / 4u;');
  // With share 'B', 4 lanes share one bn-column block and take 4 consecutive bm-row blocks; lane l loads
  // B rows n0 + l * bn / 4 .. and every lane gets all bn by broadcast.
  if (v.share === 'AB') {
    L.push(`  let tilesN = p.N / ${2 * v.bn}u;`);
    L.push('  let g = gid.x / 4u;');
    L.push('  let r = lane / 2u;');
    L.push('  let cc = lane % 2u;');
    L.push(`  let m0 = ((g / tilesN) * 2u + r) * ${v.bm}u;`);
    L.push(`  let n0 = ((g % tilesN) * 2u + cc) * ${v.bn}u;`);
  } else if (v.share === 'A') {
    L.push(`  let tilesN = p.N / ${4 * v.bn}u;`);
    L.push('  let g = gid.x / 4u;');
    L.push(`  let m0 = (g / tilesN) * ${v.bm}u;`);
    L.push(`  let n0 = ((g % tilesN) * 4u + lane) * ${v.bn}u;`);
  } else if (v.share === 'B') {
    L.push(`  let tilesN = p.N / ${v.bn}u;`);
    L.push('  let g = gid.x / 4u;');
    L.push(`  let m0 = ((g / tilesN) * 4u + lane) * ${v.bm}u;`);
    L.push(`  let n0 = (g % tilesN) * ${v.bn}u;`);
  } else {
    L.push(`  let tilesN = p.N / ${v.bn}u;`);
    L.push(`  let m0 = (gid.x / tilesN) * ${v.bm}u;`);
    L.push(`  let n0 = (gid.x % tilesN) * ${v.bn}u;`);
  }
  // Out-of-range blocks (the grid's tail) must still take part in subgroup broadcasts: clamp, store nothing.
  L.push('  let live = m0 < p.M;');
  L.push(`  let mc = select(0u, m0, live);`);
  for (let i = 0; i < v.bm; i++) for (let j = 0; j < v.bn; j++) L.push(`  var c${i}_${j} = 0.0;`);
  // The loads of step u (k: its index along K in vec4s).
  const loads = (u: number, k: string) => {
    if (v.share === 'AB') {
      // Rows i of the row block come from lane 2r + i / ha (the pair of lanes at row block r); columns j of the
      // column block from lane 2 (j / hb) + cc. subgroupBroadcast takes a constant lane: broadcast from both
      // candidates and select.
      const [ha, hb] = [v.bm / 2, v.bn / 2];
      for (let i = 0; i < ha; i++) L.push(`    let ownA${u}_${i} = ${at('a', `mc + cc * ${ha}u + ${i}u`, k)};`);
      for (let j = 0; j < hb; j++) L.push(`    let ownB${u}_${j} = ${at('b', `n0 + r * ${hb}u + ${j}u`, k)};`);
      for (let i = 0; i < v.bm; i++) {
        const [o, h] = [`ownA${u}_${i % ha}`, Math.floor(i / ha)];
        L.push(
          v.shuffle
            ? `    let a${u}_${i} = subgroupShuffle(${o}, 2u * r + ${h}u);`
            : `    let a${u}_${i} = select(subgroupBroadcast(${o}, ${h}u), subgroupBroadcast(${o}, ${2 + h}u), r == 1u);`,
        );
      }
      for (let j = 0; j < v.bn; j++) {
        const [o, h] = [`ownB${u}_${j % hb}`, 2 * Math.floor(j / hb)];
        L.push(
          v.shuffle
            ? `    let b${u}_${j} = subgroupShuffle(${o}, ${h}u + cc);`
            : `    let b${u}_${j} = select(subgroupBroadcast(${o}, ${h}u), subgroupBroadcast(${o}, ${h + 1}u), cc == 1u);`,
        );
      }
      return;
    }
    // Operand x's `count` rows from `first`, one per let; shared: lane l loads rows l * count / 4 .., and every lane
    // gets all of them by broadcast.
    const rows = (x: 'a' | 'b', count: number, first: string, shared: boolean) => {
      if (!shared) {
        for (let i = 0; i < count; i++) L.push(`    let ${x}${u}_${i} = ${at(x, `${first} + ${i}u`, k)};`);
        return;
      }
      const per = count / 4;
      for (let i = 0; i < per; i++) L.push(`    let own${x}${u}_${i} = ${at(x, `${first} + lane * ${per}u + ${i}u`, k)};`);
      for (let i = 0; i < count; i++) L.push(`    let ${x}${u}_${i} = subgroupBroadcast(own${x}${u}_${i % per}, ${Math.floor(i / per)}u);`);
    };
    rows('a', v.bm, 'mc', v.share === 'A');
    rows('b', v.bn, 'n0', v.share === 'B');
  };
  if (v.part === 'math') for (let u = 0; u < v.unroll; u++) loads(u, `${u}u`);
  if (v.part === 'loads') L.push('  var s = vec4<f32>();');
  L.push('  for (var k = 0u; k < K4; k += ' + v.unroll + 'u) {');
  for (let u = 0; u < v.unroll; u++) {
    if (v.part !== 'math') loads(u, u === 0 ? 'k' : `k + ${u}u`);
    if (v.part === 'loads') {
      for (let i = 0; i < v.bm; i++) L.push(`    s += a${u}_${i};`);
      for (let j = 0; j < v.bn; j++) L.push(`    s += b${u}_${j};`);
      continue;
    }
    for (let i = 0; i < v.bm; i++) {
      for (let j = 0; j < v.bn; j++) {
        const [x, y, acc] = [`a${u}_${i}`, `b${u}_${j}`, `c${i}_${j}`];
        L.push(
          v.op === 'fma'
            ? `    ${acc} = fma(${x}.w, ${y}.w, fma(${x}.z, ${y}.z, fma(${x}.y, ${y}.y, fma(${x}.x, ${y}.x, ${acc}))));`
            : `    ${acc} = ${acc} + ${x}.x * ${y}.x + ${x}.y * ${y}.y + ${x}.z * ${y}.z + ${x}.w * ${y}.w;`,
        );
      }
    }
  }
  L.push('  }');
  if (v.part === 'loads') L.push('  c0_0 = dot(s, vec4<f32>(1.0));');
  L.push('  if (!live) { return; }');
  for (let i = 0; i < v.bm; i++) for (let j = 0; j < v.bn; j++) L.push(`  c[(m0 + ${i}u) * p.N + n0 + ${j}u] = c${i}_${j};`);
  L.push('}');
  return L.join('\n');
}

/**
 * The kept kernel's contract compiled from another source (--against FILE: e.g. the committed matmul_direct.wgsl
 * saved aside, to time an edit of it before and after in one run). Linear shapes only: no bias, B^T, vec4; blocks of
 * --against-block (8 or 16) per invocation, 64x64 tiles, with SUBGROUP where the source has it and matmul() would set it.
 */
async function againstDispatch(ctx: GpuContext, source: string, block: number, shape: MatmulShape, bufs: { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer }): Promise<Dispatch> {
  const s = matmulLayout(shape);
  const subgroup = /#if SUBGROUP/.test(source);
  const desc = { ...MATMUL, name: 'matmul_direct_against', source, defines: [...MATMUL.defines, 'ROW' as const, ...(subgroup ? ['SUBGROUP' as const] : [])] };
  return dispatchKernel(ctx, desc, 'direct (--against)', {
    bufs: { a: { buffer: bufs.a }, b: { buffer: bufs.b }, c: { buffer: bufs.c } },
    need: matmulNeed(s),
    params: { ...s, innerA: 0, innerB: 0, innerC: 0 },
    constants: { WG: 64 / block },
    defines: { TRANS_A: false, TRANS_B: true, VEC4: true, HALF: false, BF16: false, ROW: false, ...(subgroup ? { SUBGROUP: subgroupsOf4(ctx) } : {}) },
    workgroups: [Math.ceil(s.N / 64), Math.ceil(s.M / 64), 1],
  });
}

/** A raw-WGSL dispatch of one variant on the shape's buffers. */
async function variantDispatch(ctx: GpuContext, v: Variant, s: MatmulShape, bufs: { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer }): Promise<Dispatch> {
  const [rowBlocks, colBlocks] = v.share === 'A' ? [1, 4] : v.share === 'B' ? [4, 1] : v.share === 'AB' ? [2, 2] : [1, 1];
  if (s.M % (rowBlocks * v.bm) || s.N % (colBlocks * v.bn) || s.K % (4 * v.unroll)) throw new Error(`${v.name}: shape M${s.M} N${s.N} K${s.K} is not a multiple of the block`);
  const device = ctx.device;
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: v.name, code: variantSource(v) });
  const pipeline = await device.createComputePipelineAsync({ label: v.name, layout: 'auto', compute: { module, entryPoint: 'main' } });
  const err = await device.popErrorScope();
  if (err) throw new Error(`${v.name}: ${err.message}`);
  const uniforms = ctx.buffers.create(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${v.name} p`);
  device.queue.writeBuffer(uniforms, 0, new Uint32Array([s.M, s.N, s.K, 0]));
  const textures = v.textures ? [asTexture(ctx, bufs.a, s.M, s.K), asTexture(ctx, bufs.b, s.N, s.K)] : [];
  made.push(...textures);
  const operands = textures.length ? textures.map((t) => t.createView()) : [{ buffer: bufs.a }, { buffer: bufs.b }];
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [...operands, { buffer: bufs.c }, { buffer: uniforms }].map((resource, binding) => ({ binding, resource })),
  });
  const invocations = (s.M / v.bm) * (s.N / v.bn);
  return { label: v.name, pipeline, bindGroup, workgroups: [Math.ceil(invocations / WG), 1, 1], owned: [uniforms] };
}

/** Textures made for the variants of the current shape, destroyed with its buffers. */
const made: GPUTexture[] = [];

/** A [rows, K] f32 matrix as a K/4 x rows rgba32float texture (K * 4 bytes a row: a multiple of 256 here). */
function asTexture(ctx: GpuContext, buffer: GPUBuffer, rows: number, K: number): GPUTexture {
  const t = ctx.device.createTexture({ size: [K / 4, rows], format: 'rgba32float', usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST });
  const enc = ctx.device.createCommandEncoder();
  enc.copyBufferToTexture({ buffer, bytesPerRow: K * 4 }, { texture: t }, [K / 4, rows]);
  ctx.device.queue.submit([enc.finish()]);
  return t;
}

async function readC(ctx: GpuContext, c: Tensor, d: Dispatch): Promise<Float32Array> {
  await timeInterleaved(ctx, [[d]], 1, 0);
  return c.download();
}

/** Robustness as the device applies it: an index past a 4-element binding of a 64-element buffer. */
async function robustnessProbe(ctx: GpuContext): Promise<string> {
  const device = ctx.device;
  const code = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> i: vec4<u32>;
@compute @workgroup_size(1) fn main() { y[0] = x[i.x]; }`;
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const x = Tensor.upload(ctx, Float32Array.from({ length: 64 }, (_, k) => k + 1), [64], 'probe x');
  const y = Tensor.empty(ctx, [4], 'probe y');
  const u = ctx.buffers.create(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'probe i');
  device.queue.writeBuffer(u, 0, new Uint32Array([10, 0, 0, 0]));
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: x.buffer, size: 16 } }, { binding: 1, resource: { buffer: y.buffer } }, { binding: 2, resource: { buffer: u } }],
  });
  await readC(ctx, y, { label: 'probe', pipeline, bindGroup, workgroups: [1, 1, 1], owned: [u] });
  const v = (await y.download())[0];
  release(ctx, [{ label: 'probe', pipeline, bindGroup, workgroups: [1, 1, 1], owned: [u] }]);
  x.dispose();
  y.dispose();
  const what = v === 4 ? 'clamped to the last element (Tint robustness)' : v === 0 ? 'zero (the driver\'s robust buffer access)' : v === 11 ? 'the unchecked element past the binding' : 'unexpected';
  return `x[10] of a 4-element binding read ${v}: ${what}`;
}

/** roof_fma.wgsl as fma() and as a * b + c (16K invocations, 256 steps), timed in the same rounds as the matmuls. */
const ROOF_SHAPES: RoofFmaShape[] = (['fma', 'muladd'] as const).map((op) => ({ n: 1 << 14, iters: 256, op }));

async function main(): Promise<void> {
  const arg = (flag: string) => {
    const at = process.argv.indexOf(flag);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const features = arg('--dawn-features');
  const only = arg('--only')?.split(',');
  const rounds = Number(arg('--rounds') ?? 5);
  const againstPath = arg('--against');
  const against = againstPath ? readFileSync(againstPath, 'utf8') : undefined;
  const againstBlock = Number(arg('--against-block') ?? 8);
  if (againstBlock !== 8 && againstBlock !== 16) throw new Error(`--against-block ${againstBlock}: expected 8 or 16`);
  const variants: (Variant | 'against')[] = [...(against ? ['against' as const] : []), ...(only ? VARIANTS.filter((v) => only.includes(v.name)) : VARIANTS)];
  if (only && variants.length !== only.length + (against ? 1 : 0)) throw new Error(`--only: unknown variant among ${only.join(', ')}; known: ${VARIANTS.map((v) => v.name).join(', ')}`);
  const ctx = await createNodeContext({ who: 'bench:matmul-variants' }, features ? [`enable-dawn-features=${features}`] : []);
  try {
    console.log(`${ctx.adapterName}, dawn features: ${features ?? '(default)'}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(await robustnessProbe(ctx));
    const roofOut = Tensor.empty(ctx, [1 << 14], 'roof out');
    const roofDs = await Promise.all(ROOF_SHAPES.map((s) => roofFma(ctx, { out: { buffer: roofOut.buffer } }, s)));
    console.log('% of peak: of the better of the two roof kernels, timed in the same rounds as the shape\'s matmuls');
    console.log('| shape | variant | ms | direct ms | direct / variant | GFLOP/s (direct) | % of peak (direct) | max |C - C direct| |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [name, shape] of LINEAR_SHAPES) {
      const fill = (n: number, seed: number) => Tensor.upload(ctx, Float32Array.from({ length: n }, (_, i) => Math.sin(i * seed) * 0.5), [n], 'operand');
      const a = fill(shape.M * shape.K, 0.37);
      const b = fill(shape.N * shape.K, 0.11);
      const c = Tensor.empty(ctx, [shape.M * shape.N], 'c');
      const direct = await matmul(ctx, { a: { buffer: a.buffer }, b: { buffer: b.buffer }, c: { buffer: c.buffer } }, shape, 'direct', { direct: true });
      const want = await readC(ctx, c, direct);
      const ds: Dispatch[] = [];
      const errs: number[] = [];
      for (const v of variants) {
        const bufs = { a: a.buffer, b: b.buffer, c: c.buffer };
        const d = v === 'against' ? await againstDispatch(ctx, against!, againstBlock, shape, bufs) : await variantDispatch(ctx, v, shape, bufs);
        const got = await readC(ctx, c, d);
        errs.push(got.reduce((m, x, i) => Math.max(m, Math.abs(x - want[i])), 0));
        ds.push(d);
      }
      const reps = Math.max(1, Math.round(2e8 / (2 * shape.M * shape.N * shape.K)));
      const all = await timeInterleaved(ctx, [[direct], ...ds.map((d) => [d]), ...roofDs.map((d) => [d])], reps, rounds);
      const ms = all.slice(0, ds.length + 1);
      const [fma, muladd] = ROOF_SHAPES.map((r, i) => roofFmaFlops(r) / all[ds.length + 1 + i] / 1e6);
      const peak = Math.max(fma, muladd);
      console.log(`| ${name} | roof: fma() ${fma.toFixed(2)}, a * b + c ${muladd.toFixed(2)} GFLOP/s | | | | | | |`);
      const gf = (t: number) => (2 * shape.M * shape.N * shape.K) / t / 1e6;
      variants.forEach((v, i) => {
        const [t, t0] = [ms[i + 1], ms[0]];
        console.log(
          `| ${name} | ${v === 'against' ? `direct from ${againstPath}` : v.name} | ${t.toFixed(1)} | ${t0.toFixed(1)} | ${(t0 / t).toFixed(2)}x | ${gf(t).toFixed(2)} (${gf(t0).toFixed(2)}) | ` +
            `${((100 * gf(t)) / peak).toFixed(0)}% (${((100 * gf(t0)) / peak).toFixed(0)}%) | ${errs[i].toExponential(1)} |`,
        );
      });
      release(ctx, [direct, ...ds]);
      for (const t of [a, b, c]) t.dispose();
      for (const t of made.splice(0)) t.destroy();
    }
    release(ctx, roofDs);
    roofOut.dispose();
    console.log(`load at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    ctx.dispose();
  }
}

await main();
