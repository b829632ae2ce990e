import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb'
import type { Logger } from 'pino'
import { localCredentials } from './client.js'

export class JavaMissingError extends Error {
  constructor() {
    super('Java 17+ is needed for the embedded DynamoDB Local: install Java 17, or set DYNAMODB_ENDPOINT to a DynamoDB you run.')
    this.name = 'JavaMissingError'
  }
}

export interface EmbeddedDynamoDb {
  endpoint: string
  /** Stops the Java child and waits for it to exit. */
  stop(): Promise<void>
}

export interface LaunchOptions {
  dataDir: string
  logger: Logger
  /** How long DynamoDB Local may take to answer its first request. */
  startTimeoutMs?: number
}

/** The jar and native libraries that ship inside the npm package amplify-dynamodb-simulator. */
function emulatorDir(): string {
  const require = createRequire(import.meta.url)
  return path.join(path.dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator')
}

function javaAvailable(): boolean {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/**
 * Launches AWS's DynamoDB Local as a child process, with its data under `<dataDir>/dynamodb`.
 *
 * Java is started behind a small shell that holds our stdin pipe: when this process ends in any
 * way (even SIGKILL) the pipe closes, the shell kills Java, and no orphan is left behind.
 */
export async function launchDynamoDbLocal(options: LaunchOptions): Promise<EmbeddedDynamoDb> {
  if (!javaAvailable()) throw new JavaMissingError()
  const dir = emulatorDir()
  const dbPath = path.join(options.dataDir, 'dynamodb')
  await mkdir(dbPath, { recursive: true })
  const port = await freePort()
  const javaArgs = [
    `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    path.join(dir, 'DynamoDBLocal.jar'),
    '-dbPath',
    dbPath,
    '-port',
    String(port),
  ]
  const watchdog = 'java "$@" & child=$!; cat >/dev/null; kill $child 2>/dev/null; wait $child'
  const child = spawn('sh', ['-c', watchdog, 'sh', ...javaArgs], { stdio: ['pipe', 'pipe', 'pipe'] })
  const log = options.logger.child({ component: 'dynamodb-local', port })
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

  const endpoint = `http://127.0.0.1:${port}`
  try {
    await waitUntilReady(endpoint, child, options.startTimeoutMs ?? 60_000)
  } catch (error) {
    child.stdin?.end()
    child.kill('SIGKILL')
    throw new Error(`DynamoDB Local did not start: ${(error as Error).message}\n${output}`)
  }
  log.info({ dbPath }, 'DynamoDB Local started')

  let stopping: Promise<void> | undefined
  return {
    endpoint,
    stop() {
      stopping ??= (async () => {
        child.stdin?.end()
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
        log.info('DynamoDB Local stopped')
      })()
      return stopping
    },
  }
}

async function waitUntilReady(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: localCredentials, maxAttempts: 1 })
  const deadline = Date.now() + timeoutMs
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`java exited with code ${child.exitCode}`)
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }))
        return
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 150))
      }
    }
  } finally {
    client.destroy()
  }
}
