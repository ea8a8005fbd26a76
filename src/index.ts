// attnscope: the browser-safe API (no Node imports). Node adds `attnscope/node` for Dawn.
export { defaultKernels, GpuContext, type GpuRequirements, type KernelChoice } from './gpu/context.ts';
export { GpuError } from './gpu/errors.ts';
export { Model, type AttentionGrad, type BackwardResult, type ForwardOptions, type ForwardResult } from './model/model.ts';
export type { BackwardTarget } from './model/target.ts';
export { relevanceMaps, type AttentionRole, type RelevanceInput, type RelevanceMaps } from './model/relevance.ts';
export * from './analysis/index.ts';
export type { GenerateOptions, GenerateResult } from './model/generate.ts';
export { formatProfile, type ProfileReport } from './model/profile.ts';
export { generateSquareSubsequentMask, InputError, type InputTensor, type ModelInputs } from './model/inputs.ts';
export { readModelFile, writeModelFile, parseConfig, expectedTensors, type ModelConfig } from './model/config.ts';
export { isHfConfig } from './model/kinds/index.ts';
export { ModelFileError } from './model/errors.ts';
export { fileListFiles, type FolderFile } from './model/hf/browser_files.ts';
export { readSafetensors, writeSafetensors } from './model/safetensors.ts';
export type { BackwardHookFn, CapturedTensor, ForwardHookFn, HookHandle, HookOptions, HookRecord, PreHookFn } from './hooks/registry.ts';
export { CaptureBudgetError } from './scheduler/plan.ts';
export { Module } from './nn/module.ts';
export { Tensor } from './tensor.ts';
