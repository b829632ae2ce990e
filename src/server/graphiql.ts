import { createHash } from 'node:crypto'
import type http from 'node:http'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import { gzip } from 'node:zlib'
import type { GraphiQLOptions } from 'graphql-yoga'

/**
 * GraphiQL from Hush itself: its script, styles, fonts, icons and Monaco's workers inlined in one
 * page (about 9 MB, built once, on first request) from @graphql-yoga/render-graphiql's assets,
 * where Yoga's default page loads them from a CDN. The page gets a Content-Security-Policy that
 * allows nothing outside the origin: its one inline script by hash, Monaco's workers from the
 * blobs it makes of them, inline styles, data: fonts and images, and requests to the API ('self'
 * covers ws: on the same host and port).
 */
export function selfContainedGraphiQL(): { render: (options: GraphiQLOptions) => Promise<string>; policy: () => string | undefined } {
  let page: { key: string; html: string; policy: string } | undefined
  const render = async (options: GraphiQLOptions): Promise<string> => {
    const key = JSON.stringify(options)
    if (page?.key !== key) {
      const assets = await loadAssets()
      const script = graphiqlScript(assets, key)
      if (script.includes('</script')) throw new Error('GraphiQL script cannot be inlined')
      const hash = createHash('sha256').update(script).digest('base64')
      const policy = [
        "default-src 'self'",
        `script-src 'sha256-${hash}'`,
        'worker-src blob:',
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; ')
      const title = (options.title ?? 'GraphiQL').replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)
      const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>${title}</title>
<link rel="icon" href="${assets.favicon}" />
<style>${assets.css}</style>
</head>
<body id="body" class="no-focus-outline">
<noscript>You need to enable JavaScript to run this app.</noscript>
<div id="root"></div>
<script>${script}</script>
</body>
</html>
`
      page = { key, html, policy }
    }
    return page.html
  }
  return { render, policy: () => page?.policy }
}

/**
 * The page's script: Monaco's workers from blobs, GraphiQL, then GraphiQL started with `options`
 * (JSON). A browser's WebSocket takes no headers and Yoga's GraphiQL sends the headers editor only
 * with HTTP requests, while Hush authenticates a socket from its connection_init payload: the
 * payload is the headers editor's JSON object (as last edited, or as GraphiQL kept it from the
 * last visit), read each time the socket connects.
 */
function graphiqlScript(assets: GraphiQLAssets, options: string): string {
  const worker = (source: string) => `URL.createObjectURL(new Blob([${JSON.stringify(source)}], { type: 'application/javascript' }))`
  return `
{
  const workers = { editorWorkerService: ${worker(assets.editorWorkerService)}, json: ${worker(assets.jsonWorker)}, graphql: ${worker(assets.graphqlWorker)} };
  self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (moduleId, label) => workers[label] };
}
${assets.js};
{
  let headers = null;
  const connectionParams = () => {
    try {
      const value = JSON.parse(headers ?? localStorage.getItem('graphiql:headers') ?? '{}');
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
    } catch {
      return {};
    }
  };
  YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), Object.assign(${options.replace(/</g, '\\u003c')}, {
    onEditHeaders: (text) => { headers = text; },
    connectionParams,
  }));
}
`
}

/**
 * Serves the page from bytes made once (and gzipped once), where Yoga would encode the 9 MB string
 * again for every request: a burst of browser loads would otherwise hold a copy each.
 */
export function graphiqlPage(graphiql: ReturnType<typeof selfContainedGraphiQL>, options: GraphiQLOptions) {
  let built: Promise<{ html: Buffer; gzipped: Buffer; policy: string }> | undefined
  const build = async () => {
    const html = Buffer.from(await graphiql.render(options))
    const policy = graphiql.policy()!
    return { html, gzipped: await promisify(gzip)(html), policy }
  }
  return {
    /** True for a browser's navigation to the API: a GET (or HEAD) that accepts HTML. */
    wants: (req: http.IncomingMessage) => (req.method === 'GET' || req.method === 'HEAD') && (req.headers.accept ?? '').includes('text/html'),
    serve(req: http.IncomingMessage, res: http.ServerResponse): void {
      built ??= build()
      built.then(
        ({ html, gzipped, policy }) => {
          const zipped = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
          const body = zipped ? gzipped : html
          res.writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'content-length': body.length,
            'content-security-policy': policy,
            'referrer-policy': 'no-referrer',
            vary: 'accept-encoding',
            ...(zipped ? { 'content-encoding': 'gzip' } : {}),
          })
          res.end(req.method === 'HEAD' ? undefined : body)
        },
        () => {
          built = undefined
          res.writeHead(500, { 'content-type': 'text/plain' }).end('GraphiQL is unavailable\n')
        },
      )
    },
  }
}

type GraphiQLAssets = typeof import('@graphql-yoga/render-graphiql/graphiql')

/**
 * The assets (about 9 MB of JavaScript held as string literals), read in a worker thread: parsed
 * in the server's own isolate, that module would stay in its heap for good (about 100 MB of RSS);
 * the worker exits, and only the strings (copied over) stay.
 */
function loadAssets(): Promise<GraphiQLAssets> {
  const url = import.meta.resolve('@graphql-yoga/render-graphiql/graphiql')
  const code = `const { parentPort, workerData } = require('node:worker_threads')
import(workerData).then((assets) => parentPort.postMessage({ ...assets }))`
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: url })
    worker.once('message', (assets: GraphiQLAssets) => {
      resolve(assets)
      void worker.terminate()
    })
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`GraphiQL's assets worker exited with ${code}`)))
  })
}
