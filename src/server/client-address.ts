import type { IncomingMessage } from 'node:http'
import proxyAddr from 'proxy-addr'

/**
 * The address a request came from: the peer of its connection, or, when that peer is one of the
 * trusted proxies, the nearest address in X-Forwarded-For that is not (proxy-addr, as Express
 * computes `req.ip`). A client cannot pick its own address by sending the header.
 */
export function clientAddressOf(trustedProxies: string[]): (req: IncomingMessage) => string {
  const trust = proxyAddr.compile(trustedProxies)
  return (req) => (req.socket.remoteAddress === undefined ? 'unknown' : proxyAddr(req, trust))
}
