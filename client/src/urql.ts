import { subscriptionExchange, type Exchange, type SubscriptionExchangeOpts } from '@urql/core'
import type { HushClient } from './client.js'

/** Options of hushSubscriptionExchange (urql's subscriptionExchange options, minus the forwarder). */
export interface HushExchangeOptions {
  /**
   * Send queries and mutations over the socket too (then put this exchange before fetchExchange).
   * @default false: subscriptions only
   */
  enableAllOperations?: boolean
  /**
   * Decides per operation whether it goes over the socket; when given, `enableAllOperations` is
   * ignored. @default subscriptions (and, with enableAllOperations, everything but teardowns)
   */
  isSubscriptionOperation?: SubscriptionExchangeOpts['isSubscriptionOperation']
}

/**
 * urql's subscriptionExchange over the Hush client's graphql-ws socket: same token, reconnects
 * and keep-alive as everything else of the client. Usage:
 * `new Client({ url, exchanges: [cacheExchange, hushSubscriptionExchange(hush), fetchExchange] })`.
 * Like any graphql-ws subscription, a reconnect resends the first variables: for chatEvents
 * with afterSeq, chatStream resumes from the last seq, this does not.
 */
export function hushSubscriptionExchange(client: HushClient, options: HushExchangeOptions = {}): Exchange {
  return subscriptionExchange({
    ...options,
    forwardSubscription: (request) => ({
      subscribe: (sink) => ({
        // urql leaves `query` out of persisted requests; graphql-ws requires a string.
        unsubscribe: client.socket.subscribe({ ...request, query: request.query ?? '' }, sink),
      }),
    }),
  })
}
