// Where models come from: the bundled demo model (demo/models/, trained by tools/train_demo.py), the random test
// fixture while that is absent, an attnscope model file, or a Hugging Face checkpoint (dropped files or folder, or the
// hub). Each is opened into a Model with what the page says about it. Files stay in the page; nothing is uploaded.
import { type CheckpointFiles, expectedTensors, type GpuContext, isHfConfig, loadTokenizer, Model, type ModelConfig } from '../src/index.ts';
import { textModel, type TextModel } from './text-model.ts';

/** demo/models/dates.json as tools/train_demo.py writes it (the fields the page uses). */
export interface DemoInfo {
  task?: string;
  examples?: { input: string; expected: string; model_output?: string }[];
  test?: { exact_match?: number; size?: number };
  tokenisation?: { max_tgt_tokens?: number };
}

interface ModelSource {
  label: string;
  bytes: Uint8Array;
  info?: DemoInfo;
  /** Shown above the page: e.g. that the demo model is missing and a fixture stands in. */
  notice?: string;
}

/** A model on the GPU, with what the page shows about it. */
export interface Opened {
  model: Model;
  label: string;
  /** One line: family, shape, size. */
  summary: string;
  /** How it reads text; undefined for seq2seq (read by its two vocabularies) and embedding models. */
  text?: TextModel;
  info?: DemoInfo;
  notice?: string;
}

// Globs, not fetch('/demo/models/...'): an absent file is an empty match instead of a 404 in the console, and a
// production build bundles whatever is there.
const demoModels = import.meta.glob('./models/dates.safetensors', { query: '?url', import: 'default', eager: true }) as Record<string, string>;
const demoInfo = import.meta.glob('./models/dates.json', { import: 'default', eager: true }) as Record<string, DemoInfo>;
const fixture = import.meta.glob('../test/fixtures/seq2seq-sinusoidal.model.safetensors', { query: '?url', import: 'default', eager: true }) as Record<string, string>;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  if ((r.headers.get('content-type') ?? '').includes('text/html')) throw new Error(`${url}: the server sent a web page, not a model file`);
  return new Uint8Array(await r.arrayBuffer());
}

async function defaultModel(): Promise<ModelSource> {
  const url = Object.values(demoModels)[0];
  if (url) {
    return { label: 'dates.safetensors', bytes: await fetchBytes(url), info: Object.values(demoInfo)[0] };
  }
  const fx = Object.values(fixture)[0];
  if (!fx) throw new Error('no demo model: demo/models/dates.safetensors is absent (train it with /usr/bin/python3 tools/train_demo.py)');
  return {
    label: 'seq2seq-sinusoidal (random weights)',
    bytes: await fetchBytes(fx),
    notice:
      'The demo model demo/models/dates.safetensors is not there yet (tools/train_demo.py trains it), so a small test model with random weights stands in: its attention shows the machinery, not meaning.',
  };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/** attnscope's own formats: the stack, its vocabularies and the file's size. */
function describeFile(c: ModelConfig, bytes: number): string {
  if (isHfConfig(c)) throw new Error('describeFile: a Hugging Face config');
  const layers = [c.num_encoder_layers ? `${c.num_encoder_layers} encoder` : '', c.num_decoder_layers ? `${c.num_decoder_layers} decoder` : ''].filter(Boolean).join(' + ');
  const vocab = c.kind === 'seq2seq' ? `, vocab ${c.src_vocab.length} → ${c.tgt_vocab.length}` : c.kind === 'lm' ? `, vocab ${c.vocab.length}${c.causal ? ', causal' : ''}` : '';
  return `${c.kind} · ${layers} layers · d_model ${c.d_model} · ${c.nhead} heads · ${c.norm_first ? 'pre' : 'post'}-norm ${c.activation}${vocab} · ${kib(bytes)}`;
}

/** A Hugging Face checkpoint: family and head, layers × heads from its attention modules, parameters, tokenizer. */
function describeCheckpoint(model: Model, hasTokenizer: boolean): string {
  const c = model.config;
  if (!isHfConfig(c)) throw new Error('describeCheckpoint: not a Hugging Face config');
  const attn = model.attentionModules();
  let params = 0;
  for (const shape of expectedTensors(c).values()) params += shape.reduce((a, b) => a * b, 1);
  const head = c.head === 'base' ? 'base model' : `${c.head} head`;
  const size = params >= 1e6 ? `${(params / 1e6).toFixed(1)} M` : `${(params / 1e3).toFixed(1)} k`;
  return `${c.kind} · ${head} · ${attn.length} layers × ${attn[0]?.heads ?? 0} heads · vocab ${c.vocab_size} · ${size} parameters · ${hasTokenizer ? 'tokenizer.json' : 'no tokenizer.json'}`;
}

function openSource(ctx: GpuContext, s: ModelSource): Opened {
  const model = Model.load(ctx, s.bytes, s.label); // throws ModelFileError with a one-line message
  return { model, label: s.label, summary: describeFile(model.config, s.bytes.length), text: textModel(model), info: s.info, notice: s.notice };
}

export const openBuiltIn = async (ctx: GpuContext): Promise<Opened> => openSource(ctx, await defaultModel());

/** An attnscope model file (.safetensors with its config in the metadata). */
export const openModelFile = async (ctx: GpuContext, file: File): Promise<Opened> => openSource(ctx, { label: file.name, bytes: new Uint8Array(await file.arrayBuffer()) });

/** A Hugging Face checkpoint, with its tokenizer.json when it has one. */
export async function openCheckpoint(ctx: GpuContext, files: CheckpointFiles): Promise<Opened> {
  const model = await Model.fromCheckpoint(ctx, files);
  try {
    const tok = await loadTokenizer(files);
    return { model, label: files.label, summary: describeCheckpoint(model, !!tok), text: textModel(model, tok) };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
