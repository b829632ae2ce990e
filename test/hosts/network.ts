import { attempt, run } from './system.js'

/**
 * The suite's network: a Linux bridge in the root namespace, and one network namespace per Hush
 * host, each joined to the bridge by a veth pair and given its own address. Redis, DynamoDB Local
 * (behind the link relay) and HAProxy run in the root namespace, on the bridge's address; a host
 * reaches them only over its veth, so iptables inside its namespace can cut it off from one of
 * them alone.
 */
export const BRIDGE = { name: 'hushbr0', address: '10.77.0.1', prefixLength: 24 } as const

export interface HostSpec {
  /** The server name HAProxy knows the host by. */
  name: string
  netns: string
  /** The root-namespace end of the host's veth pair (the host's end is eth0). */
  veth: string
  address: string
}

export const HOSTS: HostSpec[] = [1, 2, 3].map((i) => ({ name: `h${i}`, netns: `hush-h${i}`, veth: `hush-v${i}`, address: `10.77.0.1${i}` }))

function inNamespace(host: HostSpec, command: string, args: string[]): string {
  return run('ip', ['netns', 'exec', host.netns, command, ...args])
}

/**
 * Removes whatever a previous run left: processes still inside the namespaces (only a run of this
 * suite starts any there), the namespaces (with their iptables rules and veth ends), and the bridge.
 */
export function tearDownNetwork(): void {
  const namespaces = run('ip', ['netns', 'list'])
  for (const host of HOSTS) {
    if (!new RegExp(`^${host.netns}( |$)`, 'm').test(namespaces)) continue
    for (const pid of run('ip', ['netns', 'pids', host.netns]).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // already gone
      }
    }
    run('ip', ['netns', 'del', host.netns])
  }
  for (const host of HOSTS) attempt('ip', ['link', 'del', host.veth])
  attempt('ip', ['link', 'del', BRIDGE.name])
}

export function setUpNetwork(): void {
  tearDownNetwork()
  run('ip', ['link', 'add', BRIDGE.name, 'type', 'bridge'])
  run('ip', ['addr', 'add', `${BRIDGE.address}/${BRIDGE.prefixLength}`, 'dev', BRIDGE.name])
  run('ip', ['link', 'set', BRIDGE.name, 'up'])
  for (const host of HOSTS) {
    run('ip', ['netns', 'add', host.netns])
    run('ip', ['link', 'add', host.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns])
    run('ip', ['link', 'set', host.veth, 'master', BRIDGE.name, 'up'])
    run('ip', ['-n', host.netns, 'addr', 'add', `${host.address}/${BRIDGE.prefixLength}`, 'dev', 'eth0'])
    run('ip', ['-n', host.netns, 'link', 'set', 'lo', 'up'])
    run('ip', ['-n', host.netns, 'link', 'set', 'eth0', 'up'])
  }
}

/**
 * Cuts `host` off from one TCP service on the bridge: every packet to it and from it is dropped
 * inside the host's namespace, as in a network partition (no reset, no refusal: the host's
 * connections just stop answering). Returns the heal.
 */
export function cutOff(host: HostSpec, port: number): () => void {
  const rules = [
    ['OUTPUT', '-d', BRIDGE.address, '-p', 'tcp', '--dport', String(port), '-j', 'DROP'],
    ['INPUT', '-s', BRIDGE.address, '-p', 'tcp', '--sport', String(port), '-j', 'DROP'],
  ]
  for (const rule of rules) inNamespace(host, 'iptables', ['-w', '-A', ...rule])
  let healed = false
  return () => {
    if (healed) return
    healed = true
    for (const rule of rules) inNamespace(host, 'iptables', ['-w', '-D', ...rule])
  }
}

/** The host's iptables rules, for checks that a heal left nothing behind. */
export function firewallRules(host: HostSpec): string[] {
  return inNamespace(host, 'iptables', ['-w', '-S']).split('\n').filter((line) => line.startsWith('-A'))
}
