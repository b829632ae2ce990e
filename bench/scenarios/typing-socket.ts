/**
 * Typing over the socket, as a Hush client sends it (setTyping over its graphql-ws socket): Hush
 * against graphql-ws's own server running the same operations (the socket core's alternative),
 * the floor's bare frames, and the peer's send mutation over its socket and over HTTP (as the Yoga
 * docs show it). Server CPU per event at one rate, and the highest rate held.
 */
import type { BenchContext } from '../lib/context.js'
import type { Fleet } from '../lib/fleet.js'
import { liveComparisons, runLive } from '../lib/live.js'
import type { LiveResults, Series } from '../lib/results.js'
import type { Comparison } from '../lib/trials.js'

export const SOCKET_SERIES: Series[] = [
  { key: 'hush-ws', label: 'Hush typing (socket)', target: 'hush', transport: 'ws', kind: 'typing' },
  { key: 'graphql-ws-ws', label: 'Hush on graphql-ws useServer, typing (socket)', target: 'hush-graphql-ws', transport: 'ws', kind: 'typing' },
  { key: 'floor', label: 'floor frame', target: 'floor', transport: 'ws', kind: 'message' },
  { key: 'peer-ws', label: 'peer send (socket)', target: 'peer', transport: 'ws', kind: 'message' },
  { key: 'peer-http', label: 'peer send (HTTP)', target: 'peer', transport: 'http', kind: 'message' },
]

export function runTypingSocket(ctx: BenchContext, fleet: Fleet): Promise<LiveResults> {
  return runLive(ctx, 'typing-socket', fleet, SOCKET_SERIES)
}

export function typingSocketComparisons(live: LiveResults): Comparison[] {
  return liveComparisons('typing-socket', live, [
    { a: 'hush-ws', b: 'floor', metric: 'cpu' },
    { a: 'hush-ws', b: 'graphql-ws-ws', metric: 'cpu' },
    { a: 'hush-ws', b: 'peer-ws', metric: 'cpu' },
    { a: 'hush-ws', b: 'peer-http', metric: 'held' },
    { a: 'hush-ws', b: 'peer-ws', metric: 'held' },
    { a: 'hush-ws', b: 'floor', metric: 'held' },
    { a: 'hush-ws', b: 'graphql-ws-ws', metric: 'held' },
    // The alternative against the goals.
    { a: 'graphql-ws-ws', b: 'floor', metric: 'cpu' },
    { a: 'graphql-ws-ws', b: 'peer-http', metric: 'held' },
  ])
}
