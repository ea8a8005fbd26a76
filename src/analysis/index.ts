// What the demo and the CLI both show, computed in the library: attention streams, head means, rollout, relevance rows,
// and causal analysis (patching sweeps, head importance, the logit lens, attributions), each a function of a Model.
export { type AttentionModuleInfo, type AttentionStream, attentionStream, byStream } from './attention_modules.ts';
export { headMean, rollout } from './rollout.ts';
export { relevanceRows, type RelevanceModel, type RelevanceRow, type RelevanceRows, type RelevanceRowsOptions, type RowTarget } from './relevance_rows.ts';
export type { Metric } from './metric.ts';
export { patchingSweep, type PatchingOptions, type PatchingResult } from './patching.ts';
export { type HeadImportance, headImportance, type HeadImportanceOptions } from './head_importance.ts';
export { isCausalLm, type LogitLens, logitLens, type LogitLensOptions } from './logit_lens.ts';
export {
  attribute,
  attributeGeneration,
  type Attribution,
  type AttributionMethod,
  type AttributionOptions,
  type GenerationAttribution,
  type InputAttribution,
  type OutputElement,
} from './attribution.ts';
