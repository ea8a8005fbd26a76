// A stand-in for the Hugging Face hub on 127.0.0.1, serving local folders as model repos in the URL layout
// @huggingface/hub calls (lib/list-files.ts, lib/file-download-info.ts, utils/WebBlob.ts):
//   GET /api/models/{id}/tree/{revision}      the top-level files: [{type, path, size, oid, lfs?}]
//   GET /{id}/resolve/{revision}/{file}       the file; `Range: bytes=a-b` answers 206 with Content-Range and ETag
// Misses answer as the hub does: 404 with a JSON error (repo, revision) or X-Error-Code: EntryNotFound (file).
// Every request is recorded, so tests can count what a load fetched.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface HubServer {
  /** http://127.0.0.1:PORT, the hubUrl to pass. */
  url: string;
  /** 'METHOD path' of every request so far. */
  requests: string[];
  close(): Promise<void>;
}

const REVISION = 'main';

function files(dir: string): Map<string, Buffer> {
  return new Map(
    readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [e.name, readFileSync(join(dir, e.name))]),
  );
}

/** The tree API's entry: git's blob id, and an LFS pointer's sha256 for the large files (as the hub stores them). */
function treeEntry(path: string, bytes: Buffer) {
  const oid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  const lfs = path.endsWith('.safetensors') || path.endsWith('.bin') ? { lfs: { oid: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, pointerSize: 134 } } : {};
  return { type: 'file', oid, size: bytes.length, path, ...lfs };
}

function notFound(res: ServerResponse, error: string, code: string): void {
  res.writeHead(404, { 'Content-Type': 'application/json', 'X-Error-Code': code });
  res.end(JSON.stringify({ error }));
}

function serveFile(req: IncomingMessage, res: ServerResponse, bytes: Buffer): void {
  const etag = `"${createHash('sha1').update(bytes).digest('hex')}"`;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (!range) {
    res.writeHead(200, { 'Content-Length': bytes.length, ETag: etag, 'Accept-Ranges': 'bytes' });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return;
  }
  const from = Number(range[1]);
  const to = Math.min(range[2] === '' ? bytes.length - 1 : Number(range[2]), bytes.length - 1);
  res.writeHead(206, { 'Content-Length': to - from + 1, 'Content-Range': `bytes ${from}-${to}/${bytes.length}`, ETag: etag, 'Accept-Ranges': 'bytes' });
  res.end(req.method === 'HEAD' ? undefined : bytes.subarray(from, to + 1));
}

/** Serves `repos` (hub id -> folder) until closed. Folders are read on each request, so a test may change them. */
export async function serveHub(repos: Readonly<Record<string, string>>): Promise<HubServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(`${req.method} ${path}`);
    const tree = /^\/api\/models\/(.+)\/tree\/([^/]+)$/.exec(path);
    const resolve = /^\/(.+)\/resolve\/([^/]+)\/([^/]+)$/.exec(path);
    const [, id, revision] = tree ?? resolve ?? [];
    const dir = id === undefined ? undefined : repos[id];
    if (!dir) return notFound(res, 'Repository not found', 'RepoNotFound');
    if (revision !== REVISION) return notFound(res, `Invalid rev id: ${revision}`, 'RevisionNotFound');
    const repo = files(dir);
    if (tree) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify([...repo].map(([name, bytes]) => treeEntry(name, bytes))));
      return;
    }
    const bytes = repo.get(resolve![3]);
    if (!bytes) return notFound(res, 'Entry not found', 'EntryNotFound');
    serveFile(req, res, bytes);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
