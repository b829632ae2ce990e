/** "2 h 05 min", "4 min 10 s", "12 s": how long until `until` (ms since the epoch), never negative. */
export function timeLeft(until: number, now: number): string {
  const seconds = Math.max(0, Math.floor((until - now) / 1000))
  const hours = Math.floor(seconds / 3600)
  const minutes = Math.floor((seconds % 3600) / 60)
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} min`
  if (minutes >= 10) return `${minutes} min`
  if (minutes > 0) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`
  return `${seconds} s`
}

/** "just now", "5 min ago", "3 h ago", "2 d ago". */
export function ago(at: string, now: number): string {
  const minutes = Math.floor((now - Date.parse(at)) / 60_000)
  if (minutes < 1) return 'just now'
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.floor(minutes / 60)
  return hours < 24 ? `${hours} h ago` : `${Math.floor(hours / 24)} d ago`
}
