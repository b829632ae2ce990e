import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'

/**
 * Worker mode (WORKERS=n): the primary process forks n workers of this same program, which share
 * the port through node:cluster (the primary accepts and hands connections out round-robin). Each
 * worker is a whole Hush server; they share events, presence and rate limits through Redis and
 * everything lasting through DynamoDB, so any worker can serve any client and a stream resumed on
 * another worker resyncs from the store.
 *
 * The pool keeps n workers running: it re-forks one that dies unexpectedly, after a delay that
 * doubles with each crash in a row, so a crash loop does not spin. A rolling restart replaces the
 * workers one at a time, starting the new one and waiting until it is ready before stopping the
 * old one gracefully, so the port never stops answering. Stopping a worker is SIGTERM, which
 * drains it as it drains a single process (sockets closed with 1001, in-flight work finished).
 */

/** What a worker sends the primary once it listens and DynamoDB and Redis answer. */
export const WORKER_READY = 'hush:worker-ready'

export const isReadyMessage = (message: unknown): boolean => (message as { hush?: unknown } | null)?.hush === WORKER_READY

export interface WorkerPoolOptions {
  count: number
  logger: Logger
  /** Added to each worker's environment (the primary's one-time setup, see wiring/worker-setup.ts). */
  env: Record<string, string>
  /** How long a new worker has to become ready before it is given up. */
  readyTimeoutMs: number
  /** How long a worker has to drain after SIGTERM before it is killed. */
  stopTimeoutMs: number
  /** Delay before re-forking a crashed worker; doubles with each crash in a row, up to maxBackoffMs. */
  backoffMs?: number
  maxBackoffMs?: number
  /** A worker that ran this long was not crash-looping: its slot's backoff starts over. */
  stableMs?: number
}

/** One of the n places a worker runs in. */
interface Slot {
  index: number
  /** The worker serving this slot; unset between a crash and its replacement. */
  current?: Worker
  /** A worker starting for this slot (a re-fork or a rolling restart's new one). */
  incoming?: Worker
  readyAt: number
  crashes: number
  timer?: NodeJS.Timeout
}

export class WorkerPool {
  private readonly slots: Slot[]
  private readonly live = new Set<Worker>()
  private readonly exits = new WeakMap<Worker, Promise<void>>()
  private readonly retiring = new WeakMap<Worker, Promise<void>>()
  private stopping = false
  private restarting: Promise<void> | undefined
  private readonly backoffMs: number
  private readonly maxBackoffMs: number
  private readonly stableMs: number

  constructor(private readonly options: WorkerPoolOptions) {
    this.slots = Array.from({ length: options.count }, (_, index) => ({ index, readyAt: 0, crashes: 0 }))
    this.backoffMs = options.backoffMs ?? 250
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000
    this.stableMs = options.stableMs ?? 30_000
  }

  /**
   * Forks every worker and waits until all are ready. One that fails to come up the first time
   * (port taken, Redis or DynamoDB unreachable) would fail again: the start fails instead of looping.
   */
  async start(): Promise<void> {
    const workers = this.slots.map((slot) => (slot.incoming = this.fork(slot)))
    try {
      await Promise.all(workers.map((worker) => this.whenReady(worker)))
    } finally {
      for (const slot of this.slots) slot.incoming = undefined
    }
    this.slots.forEach((slot, i) => Object.assign(slot, { current: workers[i], readyAt: Date.now() }))
  }

  /** Replaces every worker, one at a time; a second call while one runs joins it. */
  rollingRestart(): Promise<void> {
    this.restarting ??= this.restartEach().finally(() => (this.restarting = undefined))
    return this.restarting
  }

  /** Stops every worker gracefully (SIGTERM, then SIGKILL after stopTimeoutMs) and re-forks none. */
  async stop(): Promise<void> {
    this.stopping = true
    for (const slot of this.slots) clearTimeout(slot.timer)
    await Promise.all([...this.live].map((worker) => this.retire(worker)))
  }

  /** The pids of the workers alive now, for logs and tests. */
  pids(): number[] {
    return [...this.live].flatMap((worker) => (worker.process.pid === undefined ? [] : [worker.process.pid]))
  }

  private async restartEach(): Promise<void> {
    const started = Date.now()
    const log = this.options.logger
    log.info({ workers: this.slots.length }, 'rolling restart: replacing the workers one at a time')
    for (const slot of this.slots) {
      if (this.stopping) return
      // A slot being re-forked already gets a worker of the new code.
      if (slot.current === undefined || slot.incoming !== undefined) continue
      if (!(await this.spawnInto(slot))) {
        log.error({ slot: slot.index }, 'rolling restart stopped: a new worker did not become ready; the old ones keep serving')
        return
      }
    }
    log.info({ ms: Date.now() - started }, 'rolling restart done')
  }

  /**
   * Forks a worker for `slot` and, once it is ready, makes it the slot's worker and stops the one
   * it replaces. False when the new worker failed (the slot keeps its old worker, if any).
   */
  private async spawnInto(slot: Slot): Promise<boolean> {
    const worker = this.fork(slot)
    slot.incoming = worker
    try {
      await this.whenReady(worker)
    } catch (error) {
      if (!this.stopping) this.options.logger.error({ slot: slot.index, worker: worker.id, err: (error as Error).message }, 'worker failed to start')
      void this.retire(worker)
      if (slot.current === undefined) this.scheduleRefork(slot)
      return false
    } finally {
      slot.incoming = undefined
    }
    if (this.stopping) return false
    const previous = slot.current
    Object.assign(slot, { current: worker, readyAt: Date.now() })
    if (previous !== undefined) await this.retire(previous)
    return true
  }

  private fork(slot: Slot): Worker {
    const worker = cluster.fork(this.options.env)
    this.live.add(worker)
    this.exits.set(worker, new Promise((resolve) => worker.once('exit', () => resolve())))
    worker.on('exit', (code: number | null, signal: string | null) => this.onExit(slot, worker, code, signal))
    // An IPC failure must not take the primary down; the worker's exit, if it follows, is handled.
    worker.on('error', (error) => this.options.logger.warn({ worker: worker.id, err: error.message }, 'worker channel error'))
    this.options.logger.info({ slot: slot.index, worker: worker.id, workerPid: worker.process.pid }, 'worker forked')
    return worker
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    this.live.delete(worker)
    const log = this.options.logger
    if (this.retiring.has(worker)) return log.info({ worker: worker.id, workerPid: worker.process.pid, code, signal }, 'worker stopped')
    // A worker that had not become ready: whenReady reports it.
    if (slot.current !== worker) return
    slot.current = undefined
    log.error({ slot: slot.index, worker: worker.id, workerPid: worker.process.pid, code, signal }, 'worker died unexpectedly')
    if (Date.now() - slot.readyAt >= this.stableMs) slot.crashes = 0
    // A rolling restart's new worker, already starting, takes the slot over.
    if (!this.stopping && slot.incoming === undefined) this.scheduleRefork(slot)
  }

  private scheduleRefork(slot: Slot): void {
    if (this.stopping) return
    const delay = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** slot.crashes)
    slot.crashes += 1
    this.options.logger.info({ slot: slot.index, delayMs: delay }, 'worker will be re-forked')
    clearTimeout(slot.timer)
    slot.timer = setTimeout(() => {
      if (!this.stopping && slot.current === undefined && slot.incoming === undefined) void this.spawnInto(slot)
    }, delay)
  }

  /** Resolves once `worker` reports ready; rejects if it exits first or takes too long. */
  private whenReady(worker: Worker): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer)
        worker.off('message', onMessage)
        worker.off('exit', onExit)
        if (error) reject(error)
        else resolve()
      }
      const onMessage = (message: unknown) => isReadyMessage(message) && done()
      const onExit = (code: number | null, signal: string | null) => done(new Error(`exited before it was ready (code ${code}, signal ${signal})`))
      const timer = setTimeout(() => done(new Error(`not ready within ${this.options.readyTimeoutMs} ms`)), this.options.readyTimeoutMs)
      worker.on('message', onMessage)
      worker.on('exit', onExit)
    })
  }

  /** SIGTERM (the worker drains), then SIGKILL if it has not exited after stopTimeoutMs. */
  private retire(worker: Worker): Promise<void> {
    let retiring = this.retiring.get(worker)
    if (retiring !== undefined) return retiring
    const exited = this.exits.get(worker) ?? Promise.resolve()
    retiring = (async () => {
      if (!worker.isDead()) worker.process.kill('SIGTERM')
      const timer = setTimeout(() => {
        this.options.logger.warn({ worker: worker.id }, 'worker did not stop in time; killing it')
        worker.process.kill('SIGKILL')
      }, this.options.stopTimeoutMs)
      await exited
      clearTimeout(timer)
    })()
    this.retiring.set(worker, retiring)
    return retiring
  }
}
