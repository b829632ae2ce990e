import { CombinedGraphQLErrors } from '@apollo/client/errors'
import { ApolloLink } from '@apollo/client/link'
import type { GraphQLFormattedError } from 'graphql'
import { Observable } from 'rxjs'
import type { HushClient } from './client.js'
import { payloadOf } from './documents.js'
import { HushError } from './errors.js'

/**
 * A terminating ApolloLink over the Hush client's graphql-ws socket, like Apollo's GraphQLWsLink
 * (same token, reconnects and keep-alive as the rest of the client). Route subscriptions to it
 * with `ApolloLink.split`, or everything. Unlike GraphQLWsLink it does not reference a global
 * WebSocket, so it also runs where there is none (Node 20). A reconnect resends the first
 * variables: for chatEvents with afterSeq, chatStream resumes from the last seq, this does not.
 */
export class HushLink extends ApolloLink {
  constructor(readonly client: HushClient) {
    super()
  }

  override request(operation: ApolloLink.Operation): Observable<ApolloLink.Result> {
    return new Observable<ApolloLink.Result>((observer) => {
      const { query, variables, extensions } = operation
      // Always as text: Apollo transforms documents (adding __typename), so codegen's ids would not match.
      const payload = { ...payloadOf(query, variables, false), extensions }
      return this.client.socket.subscribe(payload, {
        next: (result) => observer.next(result as ApolloLink.Result),
        complete: () => observer.complete(),
        error: (error) => observer.error(toApolloError(error)),
      })
    })
  }
}

/** `new HushLink(client)`. */
export const hushLink = (client: HushClient): HushLink => new HushLink(client)

/** GraphQL errors as Apollo's CombinedGraphQLErrors (what its hooks expect), the rest as HushError. */
function toApolloError(error: unknown): Error {
  if (Array.isArray(error)) return new CombinedGraphQLErrors({ errors: error as GraphQLFormattedError[] })
  return HushError.fromSocket(error)
}
