/**
 * The hosts Web Push may be sent to (SPEC: `PUSH_ALLOWED_HOSTS`). A subscription's endpoint is a
 * URL the client chose, so without this list Hush could be made to send requests anywhere (its own
 * network included). An entry is `host` (any port), `host:port`, or `*.domain` (its subdomains).
 */
export class PushHostAllowList {
  private readonly entries: Array<{ host: string; port: string | undefined; subdomains: boolean }>

  constructor(entries: readonly string[]) {
    this.entries = entries.map((entry) => {
      const match = /^(\*\.)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry.trim().toLowerCase())
      if (!match) throw new Error(`not a host or host:port: ${entry}`)
      return { subdomains: match[1] !== undefined, host: match[2]!, port: match[3] }
    })
  }

  /** True for an https URL, without credentials, on an allowed host. */
  allows(endpoint: string): boolean {
    let url: URL
    try {
      url = new URL(endpoint)
    } catch {
      return false
    }
    if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return false
    const host = url.hostname.toLowerCase()
    const port = url.port === '' ? '443' : url.port
    return this.entries.some(
      (entry) =>
        (entry.subdomains ? host.endsWith(`.${entry.host}`) : host === entry.host) && (entry.port === undefined || entry.port === port),
    )
  }
}
