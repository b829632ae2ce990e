/**
 * Entry point of the bench's alternative Hush servers, as src/main.ts is Hush's: the same
 * environment and config, the app built by variant-app.ts, the server by variant-server.ts.
 * HUSH_VARIANT picks which replacement goes back to its library:
 * - `graphql-ws`: the socket served by graphql-ws's `useServer` (target hush-graphql-ws);
 * - `yoga-jit`: HTTP served by Yoga with @envelop/graphql-jit, no lean path (target hush-yoga-jit).
 */
import { ConfigError, loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { createVariantApp } from './variant-app.js'
import { createVariantServer, type Variant } from './variant-server.js'

const variants: Record<string, Variant> = {
  'graphql-ws': { http: 'hush', socket: 'graphql-ws' },
  'yoga-jit': { http: 'yoga-jit', socket: 'hush' },
}
const variant = variants[process.env.HUSH_VARIANT ?? '']
if (!variant) {
  console.error(`HUSH_VARIANT must be one of ${Object.keys(variants).join(', ')}`)
  process.exit(2)
}

let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(error.message)
  process.exit(1)
}

const logger = createLogger(config.logLevel)
const app = createVariantApp(config, logger, (options) => createVariantServer(options, variant))

let exiting = false
async function shutdown(): Promise<void> {
  if (exiting) return
  exiting = true
  await app.stop()
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown())
process.once('SIGINT', () => void shutdown())

try {
  await app.start()
} catch (error) {
  logger.fatal({ err: error }, 'failed to start')
  process.exit(1)
}
