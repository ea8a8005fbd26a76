// `attnscope run MODEL`: one forward (or --repeat N) on the inputs of a file or a text, its output written to OUT;
// flag groups (capture, relevance, rollout, …: registered in main.ts) add hooks and tensors around it.
import type { HookOptions } from '../hooks/registry.ts';
import { kindOf } from '../model/kinds/index.ts';
import { textInputs } from '../model/hf/text.ts';
import type { ModelInputs } from '../model/inputs.ts';
import type { ForwardResult, Model } from '../model/model.ts';
import type { ModelOutline } from '../model/outline.ts';
import { formatProfile } from '../model/profile.ts';
import { readSafetensors } from '../model/safetensors.ts';
import { CaptureBudgetError } from '../scheduler/plan.ts';
import { bool, intFlag, kernelsFlag, str, UsageError } from './args.ts';
import type { Cli, Command, FlagGroup, Values } from './command.ts';
import { OutFile, type OutTensor, type SpooledTensor } from './out_file.ts';
import { readFile, readSource, type Source, tokenizerOf, withModel, writeAtomically } from './source.ts';

export type { OutTensor } from './out_file.ts';

/** What a flag group reports after the forwards: tensors for OUT, a line for the terminal, fields for --json. */
export interface RunReport {
  tensors?: (OutTensor | SpooledTensor)[];
  line?: string;
  json?: Record<string, unknown>;
}

/** What a flag group does once the model is on the GPU. */
export interface RunStage {
  /** The forwards must keep what a backward needs. */
  grad?: boolean;
  /** After the last forward. */
  report(model: Model, result: ForwardResult): Promise<RunReport>;
  /**
   * The first forward was refused because its captures pass the per-forward budget: change the hooks so they would
   * not (e.g. stream weights to OUT) and return true to have it run again.
   */
  overBudget?(): boolean;
}

/**
 * A group of `run` flags. Each step is optional: `check` runs before any GPU is asked for (usage errors and checks
 * against the model's outline and the forward's output shape); `captureOptions` adds to the hook options --capture
 * puts on attention modules; `setup` registers hooks on the loaded model and returns its stage (undefined when its
 * flags were not given).
 */
export interface RunFlags extends FlagGroup {
  check?(v: Values, pre: { outline: ModelOutline; outputShape: readonly number[] }): void;
  captureOptions?(v: Values, outline: ModelOutline): HookOptions;
  setup?(v: Values, run: { model: Model; captureOptions: HookOptions; out?: OutFile }): RunStage | undefined;
}

/** The forward's inputs: IN's tensors (each one the model takes) or TEXT tokenized (then also the tokens). */
async function runInputs(src: Source, v: Values): Promise<{ inputs: ModelInputs; tokens?: string[] }> {
  const accepted = kindOf(src.file.config).inputs;
  const text = str(v, 'text');
  if (text !== undefined) {
    const { inputs, encoded } = textInputs(await tokenizerOf(src, '--text', 'run'), accepted, text);
    return { inputs, tokens: encoded.tokens };
  }
  const path = str(v, 'inputs')!;
  const io = readSafetensors(readFile(path, 'inputs file'), path);
  const inputs: ModelInputs = {};
  for (const [name, t] of io.tensors) {
    if (!accepted.includes(name)) throw new Error(`${path}: tensor '${name}' is not a forward argument (expected some of ${accepted.join(', ')})`);
    inputs[name] = t;
  }
  return { inputs };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function runCommand(groups: readonly RunFlags[]): Command {
  return {
    name: 'run',
    gpu: true,
    synopsis: `MODEL (--inputs IN.safetensors | --text TEXT) [--out OUT.safetensors] [--repeat N] [--profile FILE.json] [--kernels K=V,…] [--json] ${groups.map((g) => g.synopsis).join(' ')}`,
    help: `runs one forward pass. MODEL is an attnscope model file or a Hugging Face checkpoint directory. IN holds the
forward's arguments by name: for a model file src, tgt, memory and their masks (float activations, int token ids,
masks as F32 = added or U8/BOOL = true blocks); for a checkpoint input_ids (I64/I32 [B, L]) and attention_mask
(1 keep, 0 padding), token_type_ids or position_ids where the family takes them. --text TEXT tokenizes TEXT with
the checkpoint's tokenizer instead (a batch of one) and prints the tokens. Inputs are checked against the model
before a GPU is opened.
OUT (optional) receives 'output' (logits, or the last hidden state of a base model) and what the flags below add.
--repeat N runs N forwards and reports the median time. --profile FILE.json times every dispatch with GPU
timestamps (median of --repeat runs, default 5), prints the top kernels and modules and writes the full report.
--kernels picks kernels (attention=fused|steps, matmul=tiled|direct, rows=wide|narrow; the rest stay the
adapter's defaults). --json prints one JSON object instead of the text lines.`,
    options: {
      inputs: { type: 'string' },
      text: { type: 'string' },
      out: { type: 'string' },
      repeat: { type: 'string' },
      profile: { type: 'string' },
      kernels: { type: 'string' },
      json: { type: 'boolean' },
      ...Object.assign({}, ...groups.map((g) => g.options)),
    },
    async run(modelPath: string, v: Values, cli: Cli): Promise<void> {
      if (str(v, 'inputs') === undefined && str(v, 'text') === undefined) throw new UsageError('run needs --inputs IN.safetensors (or --text TEXT with a checkpoint directory)', 'run');
      if (str(v, 'inputs') !== undefined && str(v, 'text') !== undefined) throw new UsageError('run takes --inputs or --text, not both', 'run');
      const repeat = intFlag(v, 'repeat', 1)!;
      const kernels = kernelsFlag(v);
      const src = await readSource(modelPath, cli.progress);
      const { inputs, tokens } = await runInputs(src, v);
      const outputShape = src.outline.checkInputs(inputs);
      for (const g of groups) g.check?.(v, { outline: src.outline, outputShape });
      const captureOptions: HookOptions = Object.assign({}, ...groups.map((g) => g.captureOptions?.(v, src.outline) ?? {}));
      const json = bool(v, 'json');
      const say = (line: string): void => {
        if (!json) cli.print(line);
      };
      if (tokens) say(`tokens: ${JSON.stringify(tokens)}`);

      const outPath = str(v, 'out');
      const outFile = outPath === undefined ? undefined : new OutFile(outPath);
      try {
        await withModel(src, { kernels, progress: cli.progress }, (model) => runModel(model));
      } finally {
        outFile?.dispose();
      }
      async function runModel(model: Model): Promise<void> {
        const stages = groups.flatMap((g) => g.setup?.(v, { model, captureOptions, out: outFile }) ?? []);
        const grad = stages.some((s) => s.grad);
        const report: Record<string, unknown> = { model: modelPath, kind: model.config.kind, adapter: model.ctx.adapterName, kernels: model.ctx.kernels, ...(tokens && { tokens }) };
        const profile = str(v, 'profile');
        if (profile) {
          cli.progress.step('profiling');
          const p = await model.profile(inputs, { runs: str(v, 'repeat') === undefined ? 5 : repeat });
          say(formatProfile(p));
          writeAtomically(profile, new TextEncoder().encode(JSON.stringify({ date: new Date().toISOString(), model: modelPath, ...p }, null, 2)));
          say(`wrote ${profile}`);
          report.profile = profile;
        }
        const times: number[] = [];
        let result: ForwardResult | undefined;
        for (let i = 0; i < repeat; i++) {
          cli.progress.step(i === 0 ? 'compiling and running the forward' : `forward ${i + 1} of ${repeat}`);
          const t0 = performance.now();
          try {
            result = await model.forward(inputs, { grad });
          } catch (e) {
            // Refused while the plan was recorded, before anything ran: the stages may make the captures fit and retry.
            if (!(i === 0 && e instanceof CaptureBudgetError && stages.filter((st) => st.overBudget?.()).length)) throw e;
            cli.progress.step('the captures pass the per-forward budget: streaming the attention weights to OUT');
            result = await model.forward(inputs, { grad });
          }
          times.push(performance.now() - t0);
        }
        const { output, shape } = result!;
        const s = model.planStats!;
        Object.assign(report, { output: { shape }, forward_ms: { first: times[0], median: median(times), runs: repeat }, plan: s, weight_bytes: model.weightBytes });
        say(
          `${model.config.kind} on ${model.ctx.adapterName}: output [${shape.join(', ')}]; first forward ${times[0].toFixed(1)} ms` +
            (repeat > 1 ? `, median of ${repeat} ${median(times).toFixed(1)} ms` : '') +
            `; ${s.dispatches} dispatches, ${s.submitsPerForward} submit per forward; activations ${s.slotBytes} B in ${s.slots} buffers ` +
            `(largest live set ${s.peakLiveBytes} B, unshared ${s.unsharedBytes} B); weights ${model.weightBytes} B`,
        );
        const tensors: (OutTensor | SpooledTensor)[] = [{ name: 'output', shape, data: output }];
        for (const stage of stages) {
          cli.progress.step('analysing');
          const r = await stage.report(model, result!);
          tensors.push(...(r.tensors ?? []));
          if (r.line) say(r.line);
          Object.assign(report, r.json);
        }
        const out = outPath;
        if (outFile && out) {
          cli.progress.step(`writing ${out}`);
          outFile.write(tensors, { producer: 'attnscope' });
          report.out = { path: out, tensors: tensors.map((t) => t.name) };
          say(`wrote ${out} (${tensors.length} tensor${tensors.length === 1 ? '' : 's'}${tensors.length > 1 ? `: ${summarize(tensors.slice(1).map((t) => t.name))}` : ''})`);
        }
        if (json) cli.print(JSON.stringify(report));
      }
    },
  };
}

/** 'output and 4 more: a.weights, b.weights, …' for the wrote line, at most 3 names. */
function summarize(names: string[]): string {
  return `output and ${names.length} more (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''})`;
}
