import type { Logger } from 'pino'

export interface RequestLine {
  requestId: string
  method: string
  status: number
  /** When the request came in (performance.now()). */
  started: number
  /** Which path answered: `jit` (the lean path) or `yoga`. */
  engine: 'jit' | 'yoga'
}

/** The one access log line of an HTTP request, whichever path answered it. */
export function logRequest(logger: Logger, { requestId, method, status, started, engine }: RequestLine): void {
  logger.info({ requestId, method, status, ms: Math.round(performance.now() - started), engine }, 'http request')
}
