import { defineConfig, type Plugin } from 'vite';

// One dev server for the demo (/demo/) and the in-browser kernel suite (/test/browser/).
const rootToDemo: Plugin = {
  name: 'root-to-demo',
  configureServer(server) {
    server.middlewares.use((req, res, next) => {
      if (req.url === '/' || req.url === '/index.html') {
        res.statusCode = 302;
        res.setHeader('Location', '/demo/');
        res.end();
      } else next();
    });
  },
};

export default defineConfig({
  plugins: [rootToDemo],
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  preview: { host: '127.0.0.1', port: 5173, strictPort: true },
  build: {
    target: 'es2022',
    rollupOptions: { input: { demo: 'demo/index.html' } },
  },
});
