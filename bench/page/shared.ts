// What the page's benchmarks share: one GpuContext, onnxruntime-web's builds (configured once), fetching models.
import type * as Ort from 'onnxruntime-web';
import { GpuContext } from '../../src/gpu/context.ts';

/** onnxruntime-web's .wasm / .mjs files, served by Vite straight from node_modules (nothing comes from the network). */
export const ORT_WASM_PATH = '/node_modules/onnxruntime-web/dist/';

export type OrtBuild = 'onnxruntime-web' | 'onnxruntime-web/webgpu';

export const params = new URLSearchParams(location.search);
/** ort.env.wasm.numThreads: wasm threads need a cross-origin isolated page. */
export const threads = Number(params.get('threads') ?? (self.crossOriginIsolated ? navigator.hardwareConcurrency : 1));

/** Each build is its own module with its own env and wasm instance; imported on first use, configured once. */
const builds = new Map<OrtBuild, Promise<typeof Ort>>();
export function ortBuild(b: OrtBuild): Promise<typeof Ort> {
  let p = builds.get(b);
  if (!p) {
    p = (b === 'onnxruntime-web' ? import('onnxruntime-web') : import('onnxruntime-web/webgpu')).then((ort) => {
      ort.env.wasm.wasmPaths = ORT_WASM_PATH;
      ort.env.wasm.numThreads = threads;
      ort.env.logLevel = 'error';
      return ort;
    });
    builds.set(b, p);
  }
  return p;
}

/** The adapter of the device an ort build's WebGPU provider created (to show it is the one attnscope uses). */
export async function ortAdapter(ort: typeof Ort): Promise<string> {
  const i = (await ort.env.webgpu.device).adapterInfo;
  return [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(' ');
}

let ctx: Promise<GpuContext> | undefined;
/** attnscope's context on navigator.gpu, one for the page. */
export const gpuContext = (): Promise<GpuContext> => (ctx ??= GpuContext.create(navigator.gpu));

export async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} (run npm run bench first: it writes bench/models/)`);
  return new Uint8Array(await r.arrayBuffer());
}

/** A file under bench/models/ (written by tools/export_bench_models.py and tools/export_hf_bench.py). */
export const modelUrl = (file: string) => new URL(`../models/${file}`, location.href).href;
