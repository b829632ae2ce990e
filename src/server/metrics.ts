import type http from 'node:http'
import { getOperationAST, type DocumentNode } from 'graphql'
import type { Plugin } from 'graphql-yoga'

/**
 * What the transports report for /metrics (the wiring implements it on prom-client), and how
 * they serve the exposition.
 */
export interface ServerMetrics {
  /** One GraphQL operation answered; a subscription counts until it is open. */
  operation(name: string | undefined, type: string, transport: 'http' | 'yoga' | 'socket', seconds: number): void
  slowConsumerCut(): void
  /** A gauge read at each scrape. */
  gauge(name: string, help: string, read: () => number): void
  render(): Promise<{ contentType: string; body: string }>
}

/** Answers a scrape. */
export function serveMetrics(metrics: ServerMetrics, res: http.ServerResponse): void {
  metrics.render().then(
    ({ contentType, body }) => {
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
      res.end(body)
    },
    () => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('metrics unavailable\n')
    },
  )
}

/** Times what Yoga executes (GET, uploads, browsers' requests), as the other paths time theirs. */
export function useOperationMetrics(metrics: ServerMetrics): Plugin {
  return {
    onExecute({ args }) {
      const started = performance.now()
      // Envelop types the execute args loosely: they are graphql's.
      const { document, operationName } = args as { document: DocumentNode; operationName?: string | null }
      const operation = getOperationAST(document, operationName)
      return {
        onExecuteDone: () => metrics.operation(operation?.name?.value, operation?.operation ?? 'query', 'yoga', (performance.now() - started) / 1000),
      }
    },
  }
}
