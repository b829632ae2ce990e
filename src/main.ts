import cluster from 'node:cluster'
import type { Logger } from 'pino'
import type { RunningApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { JavaMissingError } from './infra/dynamodb/launcher.js'
import { createLogger } from './logger.js'
import { Lifecycle } from './wiring/lifecycle.js'
import { prepareWorkers } from './wiring/worker-setup.js'
import { WORKER_READY, WorkerPool } from './workers.js'

// The only module with side effects: read the environment, start, and stop on a signal.
// With WORKERS set, this process is the primary of worker mode (src/workers.ts) and every worker
// it forks runs this same module as a server.
let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(error.message)
  process.exit(1)
}

if (config.workers !== undefined && cluster.isPrimary) await runPrimary(config, config.workers)
else await runServer(config)

/** One Hush server: the whole service without WORKERS, one worker of it with. */
async function runServer(config: Config): Promise<void> {
  // Loaded here, not at the top: the primary of worker mode never serves and need not load the app.
  const { createApp } = await import('./app.js')
  const worker = cluster.worker
  const logger = createLogger(config.logLevel, worker ? { role: 'worker', worker: worker.id, pid: process.pid } : {})
  const app = createApp(config, logger)

  let exiting = false
  async function shutdown(signal: string): Promise<void> {
    if (exiting) return
    exiting = true
    logger.info({ signal }, 'shutting down')
    await app.stop()
    process.exit(0)
  }
  if (worker) {
    // The primary decides when a worker stops, by SIGTERM. A terminal's Ctrl-C or hangup reaches
    // every process of the group: the workers leave those to the primary, which stops them in order.
    for (const ignored of ['SIGINT', 'SIGHUP', 'SIGUSR2'] as const) process.on(ignored, () => {})
    process.on('SIGTERM', () => void shutdown('SIGTERM'))
  } else {
    process.once('SIGTERM', () => void shutdown('SIGTERM'))
    process.once('SIGINT', () => void shutdown('SIGINT'))
  }

  try {
    const running = await app.start()
    if (worker) await reportReady(running, logger)
  } catch (error) {
    if (error instanceof JavaMissingError) console.error(error.message)
    else logger.fatal({ err: error }, 'failed to start')
    process.exit(1)
  }
}

/**
 * Tells the primary this worker can take its share of traffic: it listens, and DynamoDB and Redis
 * answer. Until then a rolling restart keeps the worker it would replace.
 */
async function reportReady(running: RunningApp, logger: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await running.checkReadiness()
      break
    } catch (error) {
      if (attempt % 10 === 0) logger.warn({ err: (error as Error).message }, 'not ready yet')
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
  process.send?.({ hush: WORKER_READY })
}

/**
 * The primary of worker mode: sets up once what the workers share, forks them, keeps them
 * running, replaces them one at a time on SIGHUP or SIGUSR2, and stops them on SIGTERM or SIGINT.
 */
async function runPrimary(config: Config, count: number): Promise<void> {
  const logger = createLogger(config.logLevel, { role: 'primary', pid: process.pid })
  const lifecycle = new Lifecycle(logger)
  let pool: WorkerPool | undefined
  let exiting = false
  async function shutdown(reason: string, code: number): Promise<void> {
    if (exiting) return
    exiting = true
    logger.info({ reason }, 'stopping the workers')
    await pool?.stop()
    await lifecycle.stop()
    process.exit(code)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0))
  process.on('SIGINT', () => void shutdown('SIGINT', 0))
  const restart = (signal: string) => {
    if (exiting || pool === undefined) return logger.warn({ signal }, 'not restarting: the workers are not running')
    logger.info({ signal }, 'rolling restart requested')
    void pool.rollingRestart()
  }
  process.on('SIGHUP', () => restart('SIGHUP'))
  process.on('SIGUSR2', () => restart('SIGUSR2'))

  try {
    const env = await prepareWorkers(config, logger, lifecycle)
    pool = new WorkerPool({ count, logger, env, readyTimeoutMs: 120_000, stopTimeoutMs: config.shutdownTimeoutMs + 5_000 })
    await pool.start()
    logger.info({ workers: count, pids: pool.pids() }, 'workers ready')
  } catch (error) {
    if (error instanceof JavaMissingError) console.error(error.message)
    else logger.fatal({ err: error }, 'failed to start the workers')
    await shutdown('failed start', 1)
  }
}
