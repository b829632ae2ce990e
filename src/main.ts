import { createApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { JavaMissingError } from './infra/dynamodb/launcher.js'
import { createLogger } from './logger.js'

// The only module with side effects: read the environment, start, and stop on a signal.
let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(error.message)
  process.exit(1)
}

const logger = createLogger(config.logLevel)
const app = createApp(config, logger)

let exiting = false
async function shutdown(signal: string): Promise<void> {
  if (exiting) return
  exiting = true
  logger.info({ signal }, 'shutting down')
  await app.stop()
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))

try {
  await app.start()
} catch (error) {
  if (error instanceof JavaMissingError) console.error(error.message)
  else logger.fatal({ err: error }, 'failed to start')
  process.exit(1)
}
