import type { QueueBudget } from '../domain/event-queue.js'
import type { Services } from '../domain/services.js'
import type { GraphQLContext } from '../schema/context.js'

/** What a transport knows of a request, for its resolver context. */
export interface RequestFacts {
  /** The `Authorization` header, or the `authorization` of graphql-ws's connection_init payload. */
  authorization: string | null | undefined
  requestId: string
  clientAddress: string
  /** The socket's byte budget for unread events (unset over HTTP). */
  budget?: QueueBudget
}

export type CreateContext = (facts: RequestFacts) => Promise<GraphQLContext>

/** The one way every path (lean HTTP, Yoga, the socket) builds a resolver context. */
export function contextFactory(services: Services): CreateContext {
  return async ({ authorization, requestId, clientAddress, budget }) => ({
    viewer: await services.accounts.authenticate(authorization),
    services,
    requestId,
    clientAddress,
    budget,
  })
}
