// fileListFiles: a checkpoint from files the page was handed (a file set, a folder from a picker or a drop), read
// as readCheckpoint reads a directory; empty, nested and mixed selections get one clear message.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../src/model/hf/checkpoint.ts';
import { fileListFiles } from '../src/model/hf/browser_files.ts';

const dir = new URL('./fixtures/hf/gpt2_lm/', import.meta.url);
const names = readdirSync(dir);
const plain = names.map((n) => new File([readFileSync(new URL(n, dir))], n));
/** As `<input webkitdirectory>` gives them: the path from the chosen folder down (Node's File has no such field). */
const picked = (prefix: string) =>
  plain.map((f) => Object.defineProperty(new File([f], f.name), 'webkitRelativePath', { value: `${prefix}/${f.name}` }));

describe('fileListFiles', () => {
  it('reads a set of files as a checkpoint', async () => {
    const files = fileListFiles(plain);
    expect(files.label).toBe('dropped files');
    expect((await files.list()).sort()).toEqual([...names].sort());
    expect((await readCheckpoint(files)).config.kind).toBe('gpt2');
  });

  it('reads a picked folder by its top-level names, leaving subfolders out', async () => {
    const extra = new File(['x'], 'model.onnx');
    Object.defineProperty(extra, 'webkitRelativePath', { value: 'gpt2_lm/onnx/model.onnx' });
    const files = fileListFiles([...picked('gpt2_lm'), extra]);
    expect(files.label).toBe('gpt2_lm');
    expect((await files.list()).sort()).toEqual([...names].sort());
    expect(await files.read('config.json')).toEqual(new Uint8Array(readFileSync(new URL('config.json', dir))));
    expect((await readCheckpoint(files)).config.kind).toBe('gpt2');
  });

  it('reads a dropped folder from paths given beside the files', async () => {
    const files = fileListFiles(plain.map((file) => ({ path: `gpt2_lm/${file.name}`, file })), 'my label');
    expect(files.label).toBe('my label');
    expect((await readCheckpoint(files)).config.kind).toBe('gpt2');
  });

  it('refuses an empty, nested, mixed or ambiguous selection with one message', async () => {
    expect(() => fileListFiles([])).toThrow('dropped files: nothing was chosen; pick a checkpoint folder');
    expect(() => fileListFiles(picked('models/gpt2_lm'))).toThrow('models: holds only subfolders, no files of its own; config.json is in models/gpt2_lm, choose that folder');
    expect(() => fileListFiles([...picked('a'), ...picked('b')])).toThrow('dropped folders: 2 folders (a, b); choose one checkpoint folder');
    expect(() => fileListFiles([...picked('a'), plain[0]])).toThrow(`a: a folder and loose files (${plain[0].name}) together`);
    expect(() => fileListFiles([plain[0], plain[0]])).toThrow(`dropped files: two files named ${plain[0].name}`);
    await expect(fileListFiles(plain).read('pytorch_model.bin')).rejects.toThrow('dropped files: no file pytorch_model.bin');
  });
});
