import { randomUUID } from 'node:crypto'
import { ApolloClient, HttpLink, InMemoryCache, split } from '@apollo/client'
import { GraphQLWsLink } from '@apollo/client/link/subscriptions'
import { getMainDefinition } from '@apollo/client/utilities'
import { Client as UrqlClient, fetchExchange, subscriptionExchange } from '@urql/core'
import { Kind, OperationTypeNode } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ChatEventsDocument,
  CreatePostDocument,
  SendMessageDocument,
  StartChatDocument,
  type ChatEventsSubscription,
} from './generated/graphql.js'
import { startTestApp, type TestApp } from './support/app.js'
import { mustRequest, signUp, wsClient, type TestUser } from './support/client.js'

/** Real client libraries: subscriptions over graphql-ws, mutations over HTTP, as apps use them. */
describe('GraphQL client libraries', () => {
  let app: TestApp
  let author: TestUser
  let commenter: TestUser
  let chatId: string
  beforeAll(async () => {
    app = await startTestApp()
    author = await signUp(app.url)
    commenter = await signUp(app.url)
    const post = (await mustRequest(app.url, CreatePostDocument, { body: 'clients' }, author.token)).createPost
    chatId = (await mustRequest(app.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat.id
  })
  afterAll(() => app.stop())

  const bodies = (events: ChatEventsSubscription[]) =>
    events.flatMap(({ chatEvents: e }) => (e.__typename === 'MessageEvent' ? [e.message.body] : []))

  it('urql: subscriptionExchange over graphql-ws, fetchExchange for the mutation', async () => {
    const ws = wsClient(app.url, author.token)
    const client = new UrqlClient({
      url: `${app.url}/graphql`,
      fetchOptions: { headers: { authorization: `Bearer ${author.token}` } },
      exchanges: [
        fetchExchange,
        subscriptionExchange({
          forwardSubscription: (operation) => ({
            subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...operation, query: operation.query ?? '' }, sink) }),
          }),
        }),
      ],
    })
    const received: ChatEventsSubscription[] = []
    const subscription = client.subscription(ChatEventsDocument, { chatId, afterSeq: 0 }).subscribe((result) => {
      if (result.data) received.push(result.data)
    })
    try {
      const sent = await client.mutation(SendMessageDocument, { chatId, clientMessageId: randomUUID(), body: 'from urql' }).toPromise()
      expect(sent.error).toBeUndefined()
      expect(sent.data?.sendMessage.fromMe).toBe(true)
      for (let i = 0; i < 200 && !bodies(received).includes('from urql'); i++) await new Promise((r) => setTimeout(r, 25))
      expect(bodies(received)).toContain('from urql')
    } finally {
      subscription.unsubscribe()
      await ws.dispose()
    }
  })

  it('Apollo Client: GraphQLWsLink for subscriptions, HttpLink for the mutation', async () => {
    const ws = wsClient(app.url, commenter.token)
    const link = split(
      ({ query }) => {
        const definition = getMainDefinition(query)
        return definition.kind === Kind.OPERATION_DEFINITION && definition.operation === OperationTypeNode.SUBSCRIPTION
      },
      new GraphQLWsLink(ws),
      new HttpLink({ uri: `${app.url}/graphql`, headers: { authorization: `Bearer ${commenter.token}` } }),
    )
    const client = new ApolloClient({ link, cache: new InMemoryCache() })
    const received: ChatEventsSubscription[] = []
    const subscription = client.subscribe({ query: ChatEventsDocument, variables: { chatId, afterSeq: 0 } }).subscribe({
      next: (result) => {
        if (result.data) received.push(result.data)
      },
    })
    try {
      const sent = await client.mutate({ mutation: SendMessageDocument, variables: { chatId, clientMessageId: randomUUID(), body: 'from Apollo' } })
      expect(sent.data?.sendMessage.fromMe).toBe(true)
      for (let i = 0; i < 200 && !bodies(received).includes('from Apollo'); i++) await new Promise((r) => setTimeout(r, 25))
      expect(bodies(received)).toContain('from Apollo')
      // Apollo saw the history too: the urql message came first, in order.
      expect(bodies(received).indexOf('from Apollo')).toBeGreaterThan(0)
    } finally {
      subscription.unsubscribe()
      client.stop()
      await ws.dispose()
    }
  })
})
