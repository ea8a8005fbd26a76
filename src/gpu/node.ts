import { existsSync } from 'node:fs';
import { GpuContext, type GpuRequirements, isCpuAdapter } from './context.ts';
import { GpuError } from './errors.ts';
import { napWhileWaiting } from './nap.ts';

/** Debian's chromium ships SwiftShader's Vulkan driver: a CPU WebGPU adapter for machines with no GPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let announced = false;

/** The `webgpu` package (Dawn for Node), an optional peer dependency: browser users never install it. */
async function dawn(): Promise<typeof import('webgpu')> {
  try {
    return await import('webgpu');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && /'webgpu'/.test((e as Error).message)) {
      throw new GpuError("attnscope/node needs the 'webgpu' package (Dawn for Node), an optional peer dependency: npm install webgpu", 'unsupported');
    }
    throw e;
  }
}

/**
 * A GpuContext in Node through Dawn (the `webgpu` package, installed beside attnscope). When Vulkan offers no adapter
 * on Linux, retries once with SwiftShader's ICD and says so once per process. `dawnFlags` go to Dawn as given
 * (e.g. 'enable-dawn-features=allow_unsafe_apis,disable_robustness': bench/matmul_variants.ts's experiments). On a CPU
 * adapter its waits nap (src/gpu/nap.ts).
 */
export async function createNodeContext(req: GpuRequirements = {}, dawnFlags: readonly string[] = []): Promise<GpuContext> {
  const { create, globals } = await dawn();
  Object.assign(globalThis, globals);
  let gpu = create([...dawnFlags]);
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter && process.platform === 'linux' && existsSync(SWIFTSHADER_ICD) && process.env.VK_ICD_FILENAMES !== SWIFTSHADER_ICD) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    gpu = create([...dawnFlags]);
    adapter = await gpu.requestAdapter();
    if (adapter && !announced) {
      announced = true;
      console.warn(`attnscope: no Vulkan GPU adapter found; using SwiftShader (CPU) from ${SWIFTSHADER_ICD}`);
    }
  }
  if (!adapter) {
    const hint = process.platform === 'linux' ? ` (for a CPU fallback: apt-get install chromium libvulkan1, which gives ${SWIFTSHADER_ICD})` : '';
    throw new GpuError(`no WebGPU adapter found by Dawn${hint}`, 'unsupported');
  }
  // Dawn for Node polls in a busy loop while it waits: on a CPU adapter that loop would take a core from the shaders.
  return GpuContext.fromAdapter(gpu, adapter, req, isCpuAdapter(adapter.info) ? napWhileWaiting() : undefined);
}
