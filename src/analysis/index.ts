// What the demo and the CLI both show, computed in the library: attention streams, head means, rollout, relevance rows,
// and causal analysis (patching sweeps, head importance, the logit lens, attributions: Model's methods of those names).
export { type AttentionModuleInfo, type AttentionStream, attentionStream, byStream } from './attention_modules.ts';
export { headMean, rollout } from './rollout.ts';
export { relevanceRows, type RelevanceModel, type RelevanceRows, type RowTarget } from './relevance_rows.ts';
export type { Metric } from './metric.ts';
export type { PatchingOptions, PatchingResult } from './patching.ts';
export type { HeadImportance, HeadImportanceOptions } from './head_importance.ts';
export { isCausalLm, type LogitLens, type LogitLensOptions } from './logit_lens.ts';
export type { Attribution, AttributionMethod, AttributionOptions, GenerationAttribution, InputAttribution, OutputElement } from './attribution.ts';
