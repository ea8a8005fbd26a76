/**
 * The attnscope model config (docs/model-format.md): JSON under `__metadata__["attnscope"]` of a safetensors file.
 * Keys are exactly the JSON keys, so a config is written back with JSON.stringify.
 *
 * Strictness: every key the document lists for the kind is required, except `pad_id`, `bos_id`, `eos_id` (token
 * kinds; absent = null). A documented key on a kind it does not belong to (`vocab` on a transformer, `causal` on
 * seq2seq) is an error. Keys the document does not list at all are not part of ModelConfig: they are passed back as
 * `extra` (tools/export_torch.py `save(module, path, **extra)` may add such keys).
 *
 * Each kind parses its own fields (kinds/*.ts); this file dispatches on `kind` and checks tensors against the tree.
 */
import { ShapeRecorder, type WeightData } from '../nn/module.ts';
import { dims, jsonError, ModelFileError, quote, show } from './errors.ts';
import { ConfigFields } from './kinds/fields.ts';
import { type FileConfig, FILE_KINDS, kindOf, type ModelConfig } from './kinds/index.ts';
import { isFloatDType, readSafetensors, writeSafetensors, type SafetensorsDType } from './safetensors.ts';

export type { FileConfig, HfConfig, ModelConfig, ModelKindName } from './kinds/index.ts';
export { CONFIG_LIMITS } from './kinds/nn_common.ts';

const KIND_NAMES = Object.keys(FILE_KINDS);
const keysOf = (k: string): readonly string[] => ['format_version', 'kind', ...FILE_KINDS[k].keys!];
const DOCUMENTED = new Set(KIND_NAMES.flatMap(keysOf));

/** Validates a parsed config object; every error is a ModelFileError 'config' naming the field and the bad value. */
export function parseConfig(json: unknown, fileLabel = 'config'): FileConfig {
  return splitConfig(json, fileLabel).config;
}

/** parseConfig, plus the keys the format does not document (ignored by attnscope, kept for the caller). */
export function splitConfig(json: unknown, fileLabel = 'config'): { config: FileConfig; extra: Record<string, unknown> } {
  const f = new ConfigFields(json, fileLabel, 'attnscope config');
  const version = f.get('format_version');
  if (version !== 1) f.fail('format_version', `${show(version)} is not supported (this reader knows format_version 1)`);
  const kind = f.oneOf('kind', KIND_NAMES);
  const known = new Set(keysOf(kind));
  const misplaced = f.keys().find((k) => DOCUMENTED.has(k) && !known.has(k));
  if (misplaced !== undefined) f.fail(misplaced, `is not a config key for kind "${kind}" (only for ${KIND_NAMES.filter((k) => keysOf(k).includes(misplaced)).join(', ')})`);
  const extra: Record<string, unknown> = {};
  // defineProperty: a "__proto__" key is data, not extra's prototype
  for (const k of f.keys()) if (!DOCUMENTED.has(k)) Object.defineProperty(extra, k, { value: f.raw(k), enumerable: true, writable: true, configurable: true });
  return { config: FILE_KINDS[kind].parse(f) as FileConfig, extra };
}

// ---------------------------------------------------------------------------------------------------------------
// tensor names

/** Every tensor the model must contain, name -> shape, in state_dict order: the tree built against a recorder. */
export function expectedTensors(c: ModelConfig): Map<string, number[]> {
  const r = new ShapeRecorder();
  kindOf(c).build(r, c);
  return r.params;
}

// ---------------------------------------------------------------------------------------------------------------
// model files

export interface ModelFile<C extends ModelConfig = ModelConfig, T extends WeightData = WeightData> {
  config: C;
  /** name -> data (in memory, or read from a checkpoint's bytes as uploaded), in expectedTensors order. */
  tensors: Map<string, T>;
  /** Config keys the format does not document (e.g. from export_torch.py `save(..., **extra)`); {} normally. */
  extra: Record<string, unknown>;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Checks a name -> {shape, dtype} listing against the config: every expected tensor present with its shape and a
 * float dtype, nothing else. Throws ModelFileError 'missing' / 'shape' / 'dtype' / 'unexpected'.
 */
export function checkModelTensors(
  config: ModelConfig,
  tensors: ReadonlyMap<string, { shape: readonly number[]; dtype?: SafetensorsDType }>,
  fileLabel: string,
): void {
  const fail = (code: 'missing' | 'shape' | 'dtype' | 'unexpected', msg: string, tensor?: string): never => {
    throw new ModelFileError(`${fileLabel}: ${msg}`, code, fileLabel, tensor);
  };
  const expected = expectedTensors(config);
  const missing = [...expected.keys()].filter((n) => !tensors.has(n));
  if (missing.length) {
    const first = missing[0];
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    const lookalike = [...tensors.keys()].find((n) => n.endsWith(`.${first}`) || first.endsWith(`.${n}`));
    const hint = lookalike !== undefined ? `; the file has ${quote(lookalike)}: wrong name prefix or wrong kind "${config.kind}"?` : '';
    fail('missing', `${config.kind} model needs tensor ${quote(first)} ${fmtShape(expected.get(first)!)}, which is absent${more}${hint}`, first);
  }
  for (const [name, shape] of expected) {
    const t = tensors.get(name)!;
    if (!sameShape(t.shape, shape)) fail('shape', `tensor ${quote(name)} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`, name);
    if (t.dtype !== undefined && !isFloatDType(t.dtype)) fail('dtype', `tensor ${quote(name)} is ${t.dtype}; model weights must be F32, F16, BF16 or F64`, name);
  }
  const extra = [...tensors.keys()].filter((n) => !expected.has(n));
  if (extra.length) {
    // Up to 5 names, as many as fit in ~150 characters (the first always, clipped), so the message stays one short line.
    const shown = [quote(extra[0], 100)];
    for (const n of extra.slice(1, 5)) {
      const q = quote(n, 60);
      if (shown.join(', ').length + q.length > 150) break;
      shown.push(q);
    }
    const names = shown.join(', ') + (extra.length > shown.length ? ', …' : '');
    fail('unexpected', `${extra.length} tensor${extra.length > 1 ? 's' : ''} not part of a ${config.kind} model with this config: ${names}`, extra[0]);
  }
}

function fmtShape(s: readonly number[]): string {
  return dims(s);
}

/** Reads and fully validates an attnscope model file (its tensors in memory, as f32). */
export function readModelFile(bytes: Uint8Array, fileLabel = 'model file'): ModelFile<FileConfig, Float32Array> {
  const file = readSafetensors(bytes, fileLabel);
  const text = file.metadata.attnscope;
  if (text === undefined) {
    throw new ModelFileError(
      `${fileLabel}: not an attnscope model file (no "attnscope" key in the safetensors __metadata__); export one from PyTorch with tools/export_torch.py`,
      'config',
      fileLabel,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(
      `${fileLabel}: __metadata__["attnscope"] is not valid JSON (${jsonError(e)})`,
      'config',
      fileLabel,
    );
  }
  const { config, extra } = splitConfig(json, fileLabel);
  checkModelTensors(config, file.tensors, fileLabel);
  const tensors = new Map<string, Float32Array>();
  for (const name of expectedTensors(config).keys()) tensors.set(name, file.tensors.get(name)!.data as Float32Array);
  return { config, tensors, extra };
}

/**
 * Writes an attnscope model file (F32, tensors in expectedTensors order); validates config and tensors first.
 * `extra` config keys are written after the documented ones; they may not be documented keys.
 */
export function writeModelFile(config: FileConfig, tensors: ReadonlyMap<string, Float32Array>, extra: Record<string, unknown> = {}): Uint8Array {
  const label = 'model writer';
  for (const k of Object.keys(extra)) {
    if (DOCUMENTED.has(k)) throw new ModelFileError(`${label}: extra config key ${quote(k)} is a documented key; set it in the config`, 'config', label, k);
  }
  const json = { ...(JSON.parse(JSON.stringify(config)) as Record<string, unknown>), ...extra };
  const checked = parseConfig(JSON.parse(JSON.stringify(json)), label);
  const expected = expectedTensors(checked);
  const listing = new Map<string, { shape: readonly number[] }>();
  for (const [name, data] of tensors) listing.set(name, { shape: expected.get(name) ?? [data.length] });
  checkModelTensors(checked, listing, label);
  for (const [name, shape] of expected) {
    const n = shape.reduce((a, d) => a * d, 1);
    const got = tensors.get(name)!.length;
    if (got !== n) {
      throw new ModelFileError(`${label}: tensor ${quote(name)} has ${got} values, expected ${fmtShape(shape)} = ${n}`, 'shape', label, name);
    }
  }
  const list = [...expected].map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: tensors.get(name)! }));
  return writeSafetensors(list, { attnscope: JSON.stringify({ ...checked, ...extra }) });
}
