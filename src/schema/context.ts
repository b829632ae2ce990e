import type { QueueBudget } from '../domain/event-queue.js'
import type { Viewer } from '../domain/ports.js'
import type { Services } from '../domain/services.js'

/** What every resolver receives, over HTTP and graphql-ws alike. */
export interface GraphQLContext {
  /** The authenticated caller; undefined without a valid token. */
  viewer: Viewer | undefined
  services: Services
  /** Echoed as x-request-id and written on the request's access log line. */
  requestId: string
  /** Where the request came from (behind trusted proxies, the first untrusted X-Forwarded-For). */
  clientAddress: string
  /**
   * The bytes of events the caller's subscriptions may leave unread: the socket's, shared by all
   * of its subscriptions. Unset: each subscription has a budget of its own.
   */
  budget?: QueueBudget
}
