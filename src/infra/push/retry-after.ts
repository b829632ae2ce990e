/**
 * A Retry-After header (RFC 9110 §10.2.3) as milliseconds from `now`: delay-seconds or an
 * HTTP-date. Undefined when absent or unreadable, so the caller falls back on its own backoff.
 */
export function retryAfterMs(value: string | string[] | null | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (text == null || text.trim() === '') return undefined
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

