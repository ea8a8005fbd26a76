// attnscope/node: a GpuContext through Dawn (the `webgpu` package), with SwiftShader as the CPU fallback.
export { createNodeContext, SWIFTSHADER_ICD } from './gpu/node.ts';
export { directoryFiles } from './model/hf/dir.ts';
export { defaultHubCacheDir, folderCache } from './model/hf/folder_cache.ts';
