import type { Logger } from 'pino'

export interface ReadinessOptions {
  /** Throws when a backing service (DynamoDB, Redis) cannot be reached. */
  check: () => Promise<void>
  logger: Logger
  /** A check not settled within this counts as failed (a black-holed Redis never answers). Default 2 s. */
  timeoutMs?: number
  /** How often the watcher checks by itself, between the probes' own checks. Default 1 s. */
  intervalMs?: number
  /**
   * When above 0: once unready this long without a break, `onUnreadyTooLong` is called (once per
   * spell of unreadiness). 0: never.
   */
  shedAfterMs?: number
  onUnreadyTooLong?: () => void
}

/**
 * Whether this process can serve: its last check of DynamoDB and Redis, run every second by
 * itself and on every /readyz probe, each bounded by a timeout. A check must not hang: a Redis
 * cut off by a firewall drops packets rather than refusing them, and a PING then waits for TCP to
 * give up, which takes minutes; the load balancer would keep routing to a process that cannot
 * deliver events. The watcher also lets the server act on a long spell of unreadiness (close its
 * sockets so that clients move), which a probe alone, asked from outside, could not.
 */
export class Readiness {
  private readonly timeoutMs: number
  private readonly intervalMs: number
  private readonly shedAfterMs: number
  private ready = true
  private shedTimer: NodeJS.Timeout | undefined
  private loop: NodeJS.Timeout | undefined
  private running: Promise<Error | undefined> | undefined
  private stopped = false

  constructor(private readonly options: ReadinessOptions) {
    this.timeoutMs = options.timeoutMs ?? 2_000
    this.intervalMs = options.intervalMs ?? 1_000
    this.shedAfterMs = options.shedAfterMs ?? 0
  }

  /** True unless the last check failed. */
  get isReady(): boolean {
    return this.ready
  }

  start(): void {
    const next = () => {
      if (this.stopped) return
      this.loop = setTimeout(() => void this.probe().then(next), this.intervalMs)
      this.loop.unref()
    }
    next()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.loop)
    clearTimeout(this.shedTimer)
  }

  /**
   * Checks now (joining a check already running, so probes never pile up on a hung service) and
   * resolves with the failure, or undefined when ready.
   */
  probe(): Promise<Error | undefined> {
    this.running ??= this.checkWithTimeout().then((failure) => {
      this.running = undefined
      this.record(failure)
      return failure
    })
    return this.running
  }

  private async checkWithTimeout(): Promise<Error | undefined> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new Error(`readiness check did not answer within ${this.timeoutMs} ms`)), this.timeoutMs)
    })
    try {
      return await Promise.race([this.options.check().then(() => undefined, (error: unknown) => toError(error)), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  private record(failure: Error | undefined): void {
    const { logger } = this.options
    if (failure === undefined) {
      if (!this.ready) logger.info('ready again')
      this.ready = true
      clearTimeout(this.shedTimer)
      this.shedTimer = undefined
      return
    }
    if (this.ready) logger.warn({ err: failure.message }, 'not ready')
    this.ready = false
    if (this.shedAfterMs > 0 && this.shedTimer === undefined && !this.stopped) {
      this.shedTimer = setTimeout(() => {
        if (!this.ready && !this.stopped) this.options.onUnreadyTooLong?.()
      }, this.shedAfterMs)
      this.shedTimer.unref()
    }
  }
}

const toError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)))
