import type { Logger } from 'pino'

/**
 * What an app acquired, released in reverse order: each build step registers how to undo itself
 * the moment it succeeds, so a failed start releases exactly what it got.
 */
export class Lifecycle {
  private readonly stops: Array<() => Promise<void> | void> = []
  private stopping: Promise<void> | undefined

  constructor(private readonly logger: Logger) {}

  onStop(stop: () => Promise<void> | void): void {
    this.stops.push(stop)
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const stop of this.stops.reverse()) {
        try {
          await stop()
        } catch (error) {
          this.logger.error({ err: error }, 'error while stopping')
        }
      }
    })()
    return this.stopping
  }
}
