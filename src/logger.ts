import { pino, type Logger } from 'pino'

/** Structured JSON logs on stdout; tokens and authorization headers are redacted. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'hush' },
    redact: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'],
  })
}
