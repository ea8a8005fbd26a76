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
  /** Token ids are [B, L] (else [L, B]): how generate reads its prompt. */
  readonly batchFirst: boolean;
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
  /** The attnscope-format config keys this kind documents (besides format_version and kind); absent for HF kinds. */
  readonly keys?: readonly string[];
  /** How a Hugging Face checkpoint of this family names its tensors; absent for attnscope's own kinds. */
  readonly hf?: HfLayout;
  /** The input names forward accepts. */
  readonly inputs: readonly string[];
  /** Float inputs a backward returns gradients for (when fed). */
  readonly gradInputs: readonly string[];
  parse(f: ConfigFields): C;
  build(w: WeightSource, c: C): BuiltModel;
}

/** What HF's loader knows of a family's checkpoints (PreTrainedModel attributes of the same names). */
export interface HfLayout {
  /** base_model_prefix: a head model's base-model attribute ('transformer', 'bert'). */
  prefix: string;
  /** _keys_to_ignore_on_load_unexpected: buffers older checkpoints carry (attn.bias, position_ids). */
  ignore: readonly RegExp[];
  /** Tied weights a checkpoint may also store (lm_head.weight): the tie wins, as in HF. */
  tied: readonly string[];
}
