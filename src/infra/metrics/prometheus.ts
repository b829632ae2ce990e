import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Seconds: from a fast cache hit to a slow DynamoDB transaction under load. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/**
 * Distinct operation names labelled; later ones are counted as "other". Clients name their
 * operations, so without a bound a script sending random names would grow the registry (a series
 * of 15 samples per name) without end.
 */
const OPERATION_NAMES_MAX = 200

/** Seconds from DynamoDB TTL's delete to the reclaim: seconds normally, hours when behind. */
const LAG_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 48 * 3600]

/**
 * Hush's metrics in Prometheus's format (prom-client), one registry per app (tests run several in
 * one process). The parts report through the methods below, each a plain callback, so that no
 * layer but this one knows prom-client; gauges of things counted elsewhere are read at scrape.
 */
export class PrometheusMetrics {
  readonly registry = new Registry()
  private readonly operations
  private readonly dynamodb
  private readonly capacity
  private readonly busEvents
  private readonly slowConsumers
  private readonly refusals
  private readonly pushes
  private readonly expiryLag
  private readonly redisPing
  private readonly operationNames = new Set<string>()

  constructor() {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'hush_' })
    this.operations = new Histogram({
      name: 'hush_operation_duration_seconds',
      help: 'GraphQL operations answered, by operation name, type and transport (http: the lean path, yoga, socket); a subscription counts until it is open.',
      labelNames: ['operation', 'type', 'transport'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.dynamodb = new Histogram({
      name: 'hush_dynamodb_request_duration_seconds',
      help: 'DynamoDB requests by command and outcome (ok, or the error name: ConditionalCheckFailedException, ProvisionedThroughputExceededException ...).',
      labelNames: ['command', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.capacity = new Counter({
      name: 'hush_dynamodb_consumed_capacity_units_total',
      help: 'Capacity units DynamoDB reported consumed, by command, for the requests that ask for it.',
      labelNames: ['command'],
      registers,
    })
    this.busEvents = new Counter({
      name: 'hush_bus_events_received_total',
      help: 'Events this process received from the event bus (Redis or in-process), by kind: message, typing, receipt, presence, closed, chatStarted, chatJoined.',
      labelNames: ['kind'],
      registers,
    })
    this.slowConsumers = new Counter({ name: 'hush_slow_consumer_cutoffs_total', help: 'Sockets closed with 1013 for leaving too many events unread.', registers })
    this.refusals = new Counter({ name: 'hush_rate_limit_refusals_total', help: 'Calls refused RATE_LIMITED, by limit.', labelNames: ['limit'], registers })
    this.pushes = new Counter({
      name: 'hush_pushes_total',
      help: 'Push decisions and sends, by outcome (sent, collapsed, skipped, retrying, failed, device-removed) and platform.',
      labelNames: ['outcome', 'platform'],
      registers,
    })
    this.expiryLag = new Histogram({
      name: 'hush_expiry_reclaim_lag_seconds',
      help: "Time from DynamoDB TTL's removal of a chat to the end of its reclaim by the stream cascade.",
      buckets: LAG_BUCKETS,
      registers,
    })
    this.redisPing = new Histogram({
      name: 'hush_redis_ping_duration_seconds',
      help: "Readiness PINGs to Redis, by outcome (ok, error): Redis's latency as this process sees it.",
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
  }

  operation(name: string | undefined, type: string, transport: string, seconds: number): void {
    let operation = name ?? 'anonymous'
    if (!this.operationNames.has(operation)) {
      if (this.operationNames.size >= OPERATION_NAMES_MAX) operation = 'other'
      else this.operationNames.add(operation)
    }
    this.operations.observe({ operation, type, transport }, seconds)
  }

  dynamodbRequest(command: string, outcome: string, seconds: number, capacityUnits: number | undefined): void {
    this.dynamodb.observe({ command, outcome }, seconds)
    if (capacityUnits) this.capacity.inc({ command }, capacityUnits)
  }

  busEvent(kind: string): void {
    this.busEvents.inc({ kind })
  }

  slowConsumerCut(): void {
    this.slowConsumers.inc()
  }

  rateLimited(limit: string): void {
    this.refusals.inc({ limit })
  }

  push(outcome: string, platform: string | undefined): void {
    this.pushes.inc({ outcome, platform: platform ?? 'none' })
  }

  expiryReclaimed(lagSeconds: number): void {
    this.expiryLag.observe(lagSeconds)
  }

  redisPinged(outcome: 'ok' | 'error', seconds: number): void {
    this.redisPing.observe({ outcome }, seconds)
  }

  /** A gauge read at each scrape from a count kept elsewhere (sockets, streams, queue lengths). */
  gauge(name: string, help: string, read: () => number | Promise<number> | Record<string, number> | Promise<Record<string, number>>, label?: string): void {
    new Gauge({
      name,
      help,
      labelNames: label ? [label] : [],
      registers: [this.registry],
      async collect() {
        const value = await read()
        if (typeof value === 'number') return void this.set(value)
        for (const [key, count] of Object.entries(value)) this.set({ [label!]: key }, count)
      },
    })
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
