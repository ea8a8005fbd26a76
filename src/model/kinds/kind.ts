import type { AttentionModuleInfo } from '../../analysis/attention_modules.ts';
import type { Module, WeightSource } from '../../nn/module.ts';
import type { Act } from '../../scheduler/plan.ts';
import type { Feeder } from '../feeder.ts';
import type { Decoding, GenerateOptions } from '../generate.ts';
import type { InputTensor, ModelInputs } from '../inputs.ts';
import type { ConfigFields } from './fields.ts';

/** What a kind's `feed` returns: the output's shape, and the recording of the forward (run only for a new plan). */
export interface Fed {
  shape: number[];
  body: () => Promise<Act>;
}

/** A module tree built for one config, with what the Model facade needs to run it. */
export interface BuiltModel {
  readonly root: Module;
  /** The input names forward accepts. */
  readonly inputs: readonly string[];
  /** Float inputs a backward returns gradients for (when fed). */
  readonly gradInputs: readonly string[];
  /** Validates the inputs (only accepted names reach it) and feeds them, which fixes the plan's key. */
  feed(f: Feeder, x: ModelInputs): Fed;
  /** Every attention module in forward order, with its role and layer. */
  attentionModules(): AttentionModuleInfo[];
  /** Greedy decoding with KV caches; absent where the kind has no vocabulary to generate from. */
  generate?(d: Decoding, src: InputTensor, o: GenerateOptions): Promise<void>;
}

/**
 * A model kind: one module that parses and validates its config, builds its module tree (against the GPU or a
 * shape recorder), feeds its inputs, names its outputs and decodes. The table in kinds/index.ts lists them.
 */
export interface ModelKind<C> {
  /** The attnscope-format config keys this kind documents (besides format_version and kind). */
  readonly keys: readonly string[];
  parse(f: ConfigFields): C;
  build(w: WeightSource, c: C): BuiltModel;
}
