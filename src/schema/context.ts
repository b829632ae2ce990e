import type { Viewer } from '../domain/ports.js'
import type { Services } from '../domain/services.js'

/** What every resolver receives, over HTTP and graphql-ws alike. */
export interface GraphQLContext {
  /** The authenticated caller; undefined without a valid token. */
  viewer: Viewer | undefined
  services: Services
  /** Echoed as x-request-id and written on the request's access log line. */
  requestId: string
  /**
   * Set on graphql-ws operations: drops the socket with a code that tells the client to reconnect
   * (used when it stops reading its subscriptions).
   */
  cutOff?: () => void
}
