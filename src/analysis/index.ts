// What the demo and the CLI both show, computed in the library: attention streams, head means, rollout, relevance rows.
export { type AttentionModuleInfo, type AttentionStream, attentionStream, byStream } from './attention_modules.ts';
export { headMean, rollout } from './rollout.ts';
export { relevanceRows, type RelevanceModel, type RelevanceRows, type RowTarget } from './relevance_rows.ts';
