// Downloads made in the page: a canvas as PNG, the captured attention maps as .safetensors. Nothing is uploaded.
import { type ModelInputs, writeSafetensors } from '../src/index.ts';
import type { AttnMap } from './attention.ts';

export function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function exportPng(canvas: HTMLCanvasElement, filename: string): Promise<void> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((b) => {
      if (!b) reject(new Error('the canvas could not be encoded as PNG'));
      else {
        download(b, filename);
        resolve();
      }
    }, 'image/png');
  });
}

/**
 * The captures under the CLI's names ('<module path>.weights', [B, H, L, S]) plus the forward's token inputs,
 * so `attnscope run MODEL --inputs` on the same file reproduces them.
 */
export function capturesFile(maps: readonly AttnMap[], inputs: ModelInputs, meta: Record<string, string>): Uint8Array {
  const tensors = maps.map((m) => ({ name: `${m.path}.weights`, dtype: 'F32' as const, shape: m.shape, data: m.data }));
  for (const [name, t] of Object.entries(inputs)) {
    if (t) tensors.push({ name, dtype: t.dtype as 'F32', shape: t.shape, data: t.data as Float32Array });
  }
  return writeSafetensors(tensors, { producer: 'attnscope demo', ...meta });
}

export function exportCaptures(maps: readonly AttnMap[], inputs: ModelInputs, meta: Record<string, string>, filename: string): void {
  const bytes = capturesFile(maps, inputs, meta);
  download(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }), filename);
}
