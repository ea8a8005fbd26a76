/**
 * Hugging Face checkpoints as `save_pretrained` writes them: `config.json` plus `model.safetensors`, or shards listed
 * by `model.safetensors.index.json`. The family comes from `model_type` (a kind with `hf` in the table of kinds);
 * tensor names are matched to the kind's tree as HF's loader matches them: a base-model prefix added or dropped,
 * tied weights and known buffers (`attn.bias`, `position_ids`) ignored. Tensors stay in the file's bytes until the
 * GPU upload reads them: F16 / BF16 matrices (Linear, Embedding) go up as stored, packed, and the rest is widened in
 * chunks, so loading holds no second full copy and the GPU holds about the file's size.
 */
import type { WeightData } from '../../nn/module.ts';
import { expectedTensors, type ModelFile } from '../config.ts';
import { jsonError, ModelFileError, quote, show } from '../errors.ts';
import { ConfigFields } from '../kinds/fields.ts';
import { HF_KINDS, type ModelConfig } from '../kinds/index.ts';
import { indexSafetensors, isFloatDType, type LazyTensor } from '../safetensors.ts';

/** A checkpoint's files by name: a directory (Node), dropped files (browser), or the hub. */
export interface CheckpointFiles {
  /** Names messages use: the directory path, the hub id. */
  readonly label: string;
  /** File names present at the checkpoint's top level. */
  list(): Promise<string[]>;
  read(name: string): Promise<Uint8Array>;
}

const INDEX = 'model.safetensors.index.json';
const GENERATION = 'generation_config.json';
const SINGLE = 'model.safetensors';

async function readJson(files: CheckpointFiles, name: string): Promise<unknown> {
  const at = `${files.label}/${name}`;
  const text = new TextDecoder().decode(await files.read(name));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(`${at}: not valid JSON (${jsonError(e)})`, 'config', at);
  }
}

/** The tensors of the checkpoint's safetensors file(s), by name, each still in its file's bytes. */
async function readTensors(files: CheckpointFiles, names: readonly string[]): Promise<Map<string, { t: LazyTensor; file: string }>> {
  const out = new Map<string, { t: LazyTensor; file: string }>();
  const add = async (file: string, only?: Set<string>) => {
    const at = `${files.label}/${file}`;
    const { entries } = indexSafetensors(await files.read(file), at);
    for (const [name, t] of entries) if (!only || only.has(name)) out.set(name, { t, file: at });
    for (const name of only ?? []) {
      if (!entries.has(name)) throw new ModelFileError(`${files.label}/${INDEX}: weight_map puts ${quote(name)} in ${file}, which has no such tensor`, 'missing', at, name);
    }
  };
  if (names.includes(INDEX)) {
    const index = new ConfigFields(await readJson(files, INDEX), `${files.label}/${INDEX}`, 'shard index');
    const map = index.get('weight_map');
    if (typeof map !== 'object' || map === null || Array.isArray(map)) index.fail('weight_map', `${show(map)} is not an object of tensor name -> shard file`);
    const shards = new Map<string, Set<string>>();
    for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
      if (typeof file !== 'string') index.fail('weight_map', `${quote(name)} maps to ${show(file)}, not a file name`);
      shards.set(file as string, (shards.get(file as string) ?? new Set()).add(name));
    }
    for (const file of shards.keys()) {
      if (!names.includes(file)) throw new ModelFileError(`${files.label}/${INDEX}: shard ${quote(file)} is not in ${files.label}`, 'missing', `${files.label}/${file}`);
    }
    for (const [file, only] of shards) await add(file, only);
  } else if (names.includes(SINGLE)) await add(SINGLE);
  else if (names.some((n) => /^pytorch_model.*\.bin(\.index\.json)?$/.test(n) || n.endsWith('.bin'))) {
    throw new ModelFileError(
      `${files.label}: has only pytorch_model.bin, a Python pickle, which attnscope does not read (loading a pickle can run code); ` +
        `convert it once with transformers: AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)`,
      'missing',
      files.label,
    );
  } else throw new ModelFileError(`${files.label}: no ${SINGLE} or ${INDEX}`, 'missing', files.label);
  return out;
}

/**
 * Reads and fully checks a checkpoint: config, family, every tensor the family's tree takes (name, shape, dtype);
 * generation_config.json's eos_token_id, when the file has one, replaces config.json's.
 */
export async function readCheckpoint(files: CheckpointFiles): Promise<ModelFile> {
  const names = await files.list();
  if (!names.includes('config.json')) throw new ModelFileError(`${files.label}: no config.json (not a Hugging Face checkpoint directory?)`, 'config', files.label);
  const configLabel = `${files.label}/config.json`;
  const f = new ConfigFields(await readJson(files, 'config.json'), configLabel, 'config.json');
  const kinds = Object.keys(HF_KINDS);
  const modelType = f.get('model_type');
  if (typeof modelType !== 'string' || !(modelType in HF_KINDS)) f.fail('model_type', `${show(modelType)} is not a supported family (supported: ${kinds.join(', ')})`);
  const kind = HF_KINDS[modelType as keyof typeof HF_KINDS];
  const config = kind.parse(f) as ModelConfig;
  // HF's generate takes its eos from generation_config.json (GenerationConfig.from_pretrained) when the checkpoint has
  // one: Llama 3 and Qwen2.5 instruct models list their end-of-turn token there beside config.json's eos.
  if (names.includes(GENERATION) && 'eos_token_id' in config) {
    const g = new ConfigFields(await readJson(files, GENERATION), `${files.label}/${GENERATION}`, GENERATION);
    if (g.has('eos_token_id')) config.eos_token_id = g.tokenIds('eos_token_id', config.vocab_size, 'the vocabulary');
  }
  const { prefix, ignore, tied } = kind.hf!;

  const stored = await readTensors(files, names);
  const expected = expectedTensors(config);
  // HF's prefix rule: a head model loads a base model's file (add the prefix), a base model a head model's (drop it).
  const wantsPrefix = [...expected.keys()].some((n) => n.startsWith(`${prefix}.`));
  const hasPrefix = [...stored.keys()].some((n) => n.startsWith(`${prefix}.`));
  const rename = (n: string): string | undefined => {
    if (wantsPrefix && !hasPrefix) return expected.has(n) ? n : `${prefix}.${n}`;
    if (!wantsPrefix && hasPrefix) return n.startsWith(`${prefix}.`) ? n.slice(prefix.length + 1) : undefined;
    return n;
  };
  const tensors = new Map<string, WeightData>();
  const unused: string[] = [];
  for (const [name, { t, file }] of stored) {
    const to = rename(name);
    if (to === undefined || !expected.has(to)) {
      if (!ignore.some((re) => re.test(name)) && !tied.includes(to ?? name)) unused.push(name);
      continue;
    }
    const shape = expected.get(to)!;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelFileError(`${file}: tensor ${quote(name)} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] for this config.json`, 'shape', file, name);
    }
    if (!isFloatDType(t.dtype)) throw new ModelFileError(`${file}: tensor ${quote(name)} is ${t.dtype}; weights must be F32, F16, BF16 or F64`, 'dtype', file, name);
    tensors.set(to, t);
  }
  const missing = [...expected.keys()].filter((n) => !tensors.has(n));
  if (missing.length) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    throw new ModelFileError(`${files.label}: ${modelType} checkpoint lacks tensor ${quote(missing[0])} [${expected.get(missing[0])!.join(', ')}]${more}`, 'missing', files.label, missing[0]);
  }
  // As HF does, weights the model has no place for (a head loaded as its base model) are left out; they are named.
  const extra = unused.length ? { unused_tensors: unused } : {};
  return { config, tensors: new Map([...expected.keys()].map((n) => [n, tensors.get(n)!])), extra };
}
