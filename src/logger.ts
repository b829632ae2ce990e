import { pino, type Logger } from 'pino'

/**
 * Structured JSON logs on stdout; tokens and authorization headers are redacted. `bindings` go on
 * every line: in worker mode, which process (primary or worker id, and pid) wrote it.
 */
export function createLogger(level: string, bindings: Record<string, string | number> = {}): Logger {
  return pino({
    level,
    base: { service: 'hush', ...bindings },
    redact: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'],
  })
}
