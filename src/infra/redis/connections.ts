import { Redis } from 'ioredis'
import type { Logger } from 'pino'

export interface RedisConnectionOptions {
  url: string
  logger: Logger
}

/**
 * The process's two Redis connections, shared by events, presence and rate limits: one for
 * commands (pipelined automatically: a burst of commands in one tick costs one write) and one
 * in subscriber mode, which Redis reserves for pub/sub. ioredis reconnects both by itself and
 * resubscribes the subscriber's channels.
 */
export class RedisConnections {
  readonly commands: Redis
  readonly subscriber: Redis

  constructor(options: RedisConnectionOptions) {
    const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1_000)
    this.commands = new Redis(options.url, { retryStrategy, lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true })
    // A subscribe made while Redis is away waits for it to come back rather than fail: the
    // subscriber then resyncs from the store anyway (see RedisEventBus.onGap).
    this.subscriber = new Redis(options.url, { retryStrategy, lazyConnect: true, autoResubscribe: true, maxRetriesPerRequest: null })
    const log = options.logger.child({ component: 'redis' })
    for (const [role, client] of [['commands', this.commands], ['subscriber', this.subscriber]] as const) {
      client.on('error', (error: Error) => log.warn({ role, err: error.message }, 'Redis connection error'))
      client.on('ready', () => log.debug({ role }, 'Redis ready'))
    }
  }

  async connect(): Promise<void> {
    await Promise.all([this.commands.connect(), this.subscriber.connect()])
  }

  /** Throws unless Redis answers (for /readyz). */
  async ping(): Promise<void> {
    await this.commands.ping()
  }

  async close(): Promise<void> {
    await Promise.all([this.commands.quit().catch(() => this.commands.disconnect()), this.subscriber.quit().catch(() => this.subscriber.disconnect())])
  }
}
