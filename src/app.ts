import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { EventBus } from './domain/events.js'
import { createLogger } from './logger.js'
import { createHushServer } from './server/http.js'
import { PrometheusMetrics } from './infra/metrics/prometheus.js'
import { TrustedDocuments } from './server/documents/trusted.js'
import { photoLinks } from './server/photo-routes.js'
import { photoOriginsOf } from './server/web-app.js'
import { Lifecycle } from './wiring/lifecycle.js'
import { openMessaging } from './wiring/messaging.js'
import { openPush } from './wiring/push.js'
import { buildServices } from './wiring/services.js'
import { startJobs } from './wiring/jobs.js'
import { openBlobStore, openStorage, resolveSecrets } from './wiring/storage.js'

export interface RunningApp {
  /** http://host:port of the server (GraphQL and GraphiQL at /graphql). */
  url: string
  port: number
  /** The DynamoDB in use (the embedded one's, when embedded). */
  dynamodbEndpoint: string | undefined
  events: EventBus
  /** Throws unless DynamoDB and Redis answer (what /readyz checks). */
  checkReadiness(): Promise<void>
  /** Where Prometheus scrapes (METRICS); undefined when off. */
  metricsUrl: string | undefined
  /** The admin port's base URL (ADMIN_PORT: probes and /metrics); undefined without one. */
  adminUrl: string | undefined
}

export interface App {
  start(): Promise<RunningApp>
  /** Drains and releases everything start() acquired, the DynamoDB Local child included. */
  stop(): Promise<void>
}

/**
 * Builds Hush from a config with no side effect until start(); tests start real servers with
 * `port: 0`. Everything start() opens, stop() closes, in reverse order.
 */
export function createApp(config: Config, logger: Logger = createLogger(config.logLevel)): App {
  const lifecycle = new Lifecycle(logger)

  async function start(): Promise<RunningApp> {
    const metrics = config.metrics.enabled ? new PrometheusMetrics() : undefined
    const storage = await openStorage(config, logger, lifecycle, metrics)
    const secrets = await resolveSecrets(config)
    const messaging = await openMessaging(config, logger, lifecycle, metrics)
    const blobs = await openBlobStore(config, logger, lifecycle)
    let publicUrl = config.photos.publicUrl ?? ''
    const checkReadiness = async () => {
      await storage.check()
      await messaging.check()
    }
    const push = await openPush({ config, storage, messaging, secrets, logger, metrics }, lifecycle)
    const onRateLimited = metrics && ((limit: string) => metrics.rateLimited(limit))
    const services = buildServices({ config, storage, messaging, blobs, secrets, push, onRateLimited, photoLinks: photoLinks(() => publicUrl) }, lifecycle)
    metrics?.gauge('hush_live_streams', 'chatEvents and notifications streams open in this process, by kind.', () => services.live.streamCounts(), 'kind')
    await startJobs({ config, storage, blobs, services, logger, onReclaimed: metrics && ((lag) => metrics.expiryReclaimed(lag)) }, lifecycle)
    const { trustedDocuments: manifest } = config.graphql
    const trustedDocuments = manifest === undefined ? undefined : await TrustedDocuments.load(manifest)
    const server = createHushServer({
      services,
      trustedDocuments,
      logger,
      limits: config.limits,
      graphql: config.graphql,
      trustedProxies: config.trustedProxies,
      checkReadiness,
      readiness: { shedAfterMs: config.unreadyCloseAfterMs },
      metrics: metrics && { sink: metrics, onMainPort: config.adminPort === undefined },
      webApp: config.webApp && { dir: config.webApp.dir, photoOrigins: () => photoOriginsOf(publicUrl, config.photos.s3) },
    })
    const url = await server.listen(config.port, config.host)
    lifecycle.onStop(() => server.close(config.shutdownTimeoutMs))
    const adminUrl = config.adminPort === undefined ? undefined : await server.listenAdmin(config.adminPort, config.host)
    const metricsUrl = metrics && `${adminUrl ?? url}/metrics`
    publicUrl ||= url
    logger.info({ url: `${url}/graphql`, dynamodb: storage.endpoint ?? 'aws', redis: config.redisClusterNodes ? 'cluster' : config.redisUrl !== undefined }, 'Hush is listening')
    return { url, port: Number(new URL(url).port), dynamodbEndpoint: storage.endpoint, events: messaging.events, checkReadiness, metricsUrl, adminUrl }
  }

  return {
    async start() {
      try {
        return await start()
      } catch (error) {
        await lifecycle.stop()
        throw error
      }
    },
    stop: () => lifecycle.stop(),
  }
}
