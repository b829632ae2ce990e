/**
 * The wire between the hosts and DynamoDB Local, as a process of its own: a TCP relay that listens
 * on the bridge address and pipes every connection to DynamoDB Local, adding a delay, per source
 * address, to what a host sends (as `tc qdisc ... netem delay` on that host's egress to
 * DynamoDB's port would: each segment leaves that much later, in order; answers are not
 * delayed). This kernel has no netem (CONFIG_NET_SCH_NETEM is not set, and it loads no modules),
 * so the suite emulates it here.
 *
 * Run as `node --import tsx link-relay.ts <listen address> <upstream host> <upstream port>` with
 * an IPC channel: it sends `{ port }` once it listens and takes `{ source, delayMs }` messages,
 * each answered with `{ source, delayMs }` once in force.
 */
import net from 'node:net'
import { performance } from 'node:perf_hooks'

const [listenAddress = '127.0.0.1', upstreamHost = '127.0.0.1', upstreamPort = '8000'] = process.argv.slice(2)
const delays = new Map<string, number>()

function relay(client: net.Socket): void {
  const source = (client.remoteAddress ?? '').replace(/^::ffff:/, '')
  const upstream = net.connect({ host: upstreamHost, port: Number(upstreamPort) })
  client.setNoDelay(true)
  upstream.setNoDelay(true)
  const queue: Array<{ at: number; chunk: Buffer | null }> = []
  let timer: NodeJS.Timeout | undefined
  const pump = () => {
    timer = undefined
    const now = performance.now()
    while (queue.length > 0 && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!
      if (chunk === null) upstream.end()
      else upstream.write(chunk)
    }
    if (queue.length > 0) timer = setTimeout(pump, Math.max(0, queue[0]!.at - now))
  }
  const forward = (chunk: Buffer | null) => {
    const delayMs = delays.get(source) ?? 0
    if (delayMs === 0 && queue.length === 0) {
      if (chunk === null) upstream.end()
      else upstream.write(chunk)
      return
    }
    queue.push({ at: performance.now() + delayMs, chunk })
    timer ??= setTimeout(pump, Math.max(0, queue[0]!.at - performance.now()))
  }
  client.on('data', (chunk: Buffer) => forward(chunk))
  client.on('end', () => forward(null))
  upstream.pipe(client)
  const close = () => {
    clearTimeout(timer)
    client.destroy()
    upstream.destroy()
  }
  client.on('error', close)
  upstream.on('error', close)
  client.on('close', () => {
    if (queue.length === 0) upstream.end()
  })
  upstream.on('close', close)
}

const server = net.createServer(relay)
server.listen(0, listenAddress, () => {
  process.send?.({ port: (server.address() as net.AddressInfo).port })
})
process.on('message', (message: { source: string; delayMs: number }) => {
  if (message.delayMs > 0) delays.set(message.source, message.delayMs)
  else delays.delete(message.source)
  process.send?.(message)
})
// The suite's end (even a crash) closes the IPC channel: the relay goes with it.
process.on('disconnect', () => process.exit(0))
