/**
 * Hush as src/app.ts builds it, step for step, with one difference: the HTTP and WebSocket server
 * is made by a factory the caller passes in. The bench's alternative servers (see variant-server.ts)
 * use it to replace one part of src/server and reuse everything else: config, storage, messaging,
 * services, jobs and their lifecycle. Keep this in step with src/app.ts's `start`.
 */
import type { Logger } from 'pino'
import type { Config } from '../../src/config.js'
import type { HushServer, HushServerOptions } from '../../src/server/http.js'
import { photoLinks } from '../../src/server/photo-routes.js'
import { Lifecycle } from '../../src/wiring/lifecycle.js'
import { openMessaging } from '../../src/wiring/messaging.js'
import { openPush } from '../../src/wiring/push.js'
import { buildServices } from '../../src/wiring/services.js'
import { startJobs } from '../../src/wiring/jobs.js'
import { openBlobStore, openStorage, resolveSecrets } from '../../src/wiring/storage.js'

export type ServerFactory = (options: HushServerOptions) => HushServer

export interface VariantApp {
  start(): Promise<string>
  stop(): Promise<void>
}

export function createVariantApp(config: Config, logger: Logger, createServer: ServerFactory): VariantApp {
  const lifecycle = new Lifecycle(logger)

  async function start(): Promise<string> {
    const storage = await openStorage(config, logger, lifecycle)
    const secrets = await resolveSecrets(config)
    const messaging = await openMessaging(config, logger, lifecycle)
    const blobs = await openBlobStore(config, logger, lifecycle)
    let publicUrl = config.photos.publicUrl ?? ''
    const push = await openPush({ config, storage, messaging, secrets, logger }, lifecycle)
    const services = buildServices({ config, storage, messaging, blobs, secrets, push, photoLinks: photoLinks(() => publicUrl) }, lifecycle)
    await startJobs({ config, storage, blobs, services, logger }, lifecycle)
    const server = createServer({
      services,
      logger,
      limits: config.limits,
      graphql: config.graphql,
      trustedProxies: config.trustedProxies,
      checkReadiness: async () => {
        await storage.check()
        await messaging.check()
      },
    })
    const url = await server.listen(config.port, config.host)
    lifecycle.onStop(() => server.close(config.shutdownTimeoutMs))
    publicUrl ||= url
    logger.info({ url: `${url}/graphql` }, 'Hush (bench variant) is listening')
    return url
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
