import { useEffect, useState } from 'preact/hooks'

/** The current time, renewed every `intervalMs`: for countdowns and "5 min ago". */
export function useNow(intervalMs: number): number {
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs)
    return () => clearInterval(timer)
  }, [intervalMs])
  return now
}
