import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Readiness } from '../../src/server/readiness.js'

const logger = pino({ level: 'silent' })
const never = () => new Promise<void>(() => {})

describe('Readiness', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  it('fails a check that never answers after its timeout, and probes meanwhile share that one check', async () => {
    const check = vi.fn(never)
    const readiness = new Readiness({ check, logger, timeoutMs: 2_000 })
    const probes = [readiness.probe(), readiness.probe()]
    await vi.advanceTimersByTimeAsync(1_999)
    expect(readiness.isReady).toBe(true)
    await vi.advanceTimersByTimeAsync(1)
    const failures = await Promise.all(probes)
    expect(failures.map((failure) => failure?.message)).toEqual(['readiness check did not answer within 2000 ms', 'readiness check did not answer within 2000 ms'])
    expect(check).toHaveBeenCalledTimes(1)
    expect(readiness.isReady).toBe(false)
  })

  it('sheds once after a spell of unreadiness as long as shedAfterMs, not after a shorter one', async () => {
    let healthy = false
    const onUnreadyTooLong = vi.fn()
    const readiness = new Readiness({ check: async () => void (healthy || (await Promise.reject(new Error('Redis down')))), logger, intervalMs: 1_000, shedAfterMs: 3_000, onUnreadyTooLong })
    readiness.start()
    await vi.advanceTimersByTimeAsync(2_500)
    healthy = true
    await vi.advanceTimersByTimeAsync(5_000)
    expect(onUnreadyTooLong).not.toHaveBeenCalled()
    expect(readiness.isReady).toBe(true)

    healthy = false
    await vi.advanceTimersByTimeAsync(1_000 + 3_000)
    expect(onUnreadyTooLong).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(onUnreadyTooLong).toHaveBeenCalledTimes(1)
    readiness.stop()
  })
})
