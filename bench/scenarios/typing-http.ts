/**
 * Typing over HTTP, as an Apollo/urql split link sends a mutation: Hush (its lean JSON path)
 * against Hush served by Yoga with @envelop/graphql-jit (the lean path's alternative), the peer's
 * send over HTTP, and the floor's bare frames. Server CPU per event at one rate, and the highest
 * rate held.
 */
import type { BenchContext } from '../lib/context.js'
import type { Fleet } from '../lib/fleet.js'
import { liveComparisons, runLive } from '../lib/live.js'
import type { LiveResults, Series } from '../lib/results.js'
import type { Comparison } from '../lib/trials.js'

export const HTTP_SERIES: Series[] = [
  { key: 'hush-http', label: 'Hush typing (HTTP)', target: 'hush', transport: 'http', kind: 'typing' },
  { key: 'yoga-jit-http', label: 'Hush on Yoga + graphql-jit, typing (HTTP)', target: 'hush-yoga-jit', transport: 'http', kind: 'typing' },
  { key: 'peer-http', label: 'peer send (HTTP)', target: 'peer', transport: 'http', kind: 'message' },
  { key: 'floor', label: 'floor frame', target: 'floor', transport: 'ws', kind: 'message' },
]

export function runTypingHttp(ctx: BenchContext, fleet: Fleet): Promise<LiveResults> {
  return runLive(ctx, 'typing-http', fleet, HTTP_SERIES)
}

export function typingHttpComparisons(live: LiveResults): Comparison[] {
  return liveComparisons('typing-http', live, [
    { a: 'hush-http', b: 'yoga-jit-http', metric: 'cpu' },
    { a: 'hush-http', b: 'peer-http', metric: 'cpu' },
    { a: 'hush-http', b: 'floor', metric: 'cpu' },
    { a: 'hush-http', b: 'peer-http', metric: 'held' },
    { a: 'hush-http', b: 'floor', metric: 'held' },
    { a: 'hush-http', b: 'yoga-jit-http', metric: 'held' },
    // The alternative against the goal.
    { a: 'yoga-jit-http', b: 'peer-http', metric: 'held' },
  ])
}
