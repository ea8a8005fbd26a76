// A checkpoint the user hands the page: a set of files (config.json, model.safetensors, …) or one folder, from a file
// picker or a drop. Browser-safe (only the File API), the counterpart of dir.ts.
import { ModelFileError } from '../errors.ts';
import type { CheckpointFiles } from './checkpoint.ts';

/**
 * A file read from a dropped folder with its path inside the drop ('gpt2/config.json'): files a page reads from a
 * dropped directory entry have an empty webkitRelativePath, so the path travels beside them.
 */
export interface FolderFile {
  path: string;
  file: File;
}

const pathOf = (f: File | FolderFile): string => ('path' in f ? f.path : f.webkitRelativePath || f.name);
const fileOf = (f: File | FolderFile): File => ('path' in f ? f.file : f);

/**
 * The checkpoint in `files`: plain files (their names are the checkpoint's), or the files of one folder (from
 * `<input webkitdirectory>`, whose webkitRelativePath starts with the folder's name, or FolderFiles), whose files
 * directly inside the folder are the checkpoint's; deeper ones (an `onnx/` subfolder) are left out, as a directory's
 * subfolders are. `label` names the checkpoint in messages: by default the folder's name, or 'dropped files'.
 */
export function fileListFiles(files: readonly (File | FolderFile)[], label?: string): CheckpointFiles {
  const fail = (at: string, msg: string): never => {
    throw new ModelFileError(`${at}: ${msg}`, 'missing', at);
  };
  if (files.length === 0) fail(label ?? 'dropped files', 'nothing was chosen; pick a checkpoint folder (config.json + model.safetensors) or its files');
  const parts = files.map((f) => pathOf(f).split('/').filter(Boolean));
  const roots = [...new Set(parts.filter((p) => p.length > 1).map((p) => p[0]))];
  const loose = parts.filter((p) => p.length === 1).map((p) => p[0]);
  if (roots.length > 1) fail(label ?? 'dropped folders', `${roots.length} folders (${roots.slice(0, 3).join(', ')}${roots.length > 3 ? ', …' : ''}); choose one checkpoint folder`);
  if (roots.length === 1 && loose.length) fail(label ?? roots[0], `a folder and loose files (${loose[0]}) together; choose one checkpoint folder, or only its files`);
  const at = label ?? roots[0] ?? 'dropped files';
  const byName = new Map<string, File>();
  files.forEach((f, i) => {
    const p = parts[i];
    if (p.length !== (roots.length ? 2 : 1)) return;
    const name = p[p.length - 1];
    if (byName.has(name)) fail(at, `two files named ${name}`);
    byName.set(name, fileOf(f));
  });
  if (byName.size === 0) {
    const config = parts.find((p) => p[p.length - 1] === 'config.json');
    const hint = config ? `; config.json is in ${config.slice(0, -1).join('/')}, choose that folder` : '';
    fail(at, `holds only subfolders, no files of its own${hint}`);
  }
  return {
    label: at,
    list: () => Promise.resolve([...byName.keys()]),
    async read(name) {
      const f = byName.get(name);
      if (!f) throw new ModelFileError(`${at}: no file ${name}`, 'missing', `${at}/${name}`);
      return new Uint8Array(await f.arrayBuffer());
    },
  };
}
