// test/hub_server.ts's stand-in hub, reachable from the page: the page is another origin (Vite's port), so a front
// on 127.0.0.1 forwards each request and adds the CORS headers huggingface.co sends (Range needs a preflight).
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HubServer, serveHub } from '../test/hub_server.ts';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-expose-headers': 'Content-Range, Content-Length, ETag, Link, X-Error-Code',
};

/** Serves `repos` (hub id -> folder) to the page; `requests` are the hub's own record of what was fetched. */
export async function serveHubToPage(repos: Readonly<Record<string, string>>): Promise<HubServer> {
  const hub = await serveHub(repos);
  const front = createServer((req, res) => {
    if (req.method === 'OPTIONS') return void res.writeHead(204, CORS).end();
    const up = request(`${hub.url}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(hub.url).host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, { ...r.headers, ...CORS });
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((ok) => front.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
    requests: hub.requests,
    async close() {
      front.closeAllConnections();
      await new Promise<void>((ok) => front.close(() => ok()));
      await hub.close();
    },
  };
}
