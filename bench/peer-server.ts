/**
 * The textbook peer: a chat written the way the GraphQL Yoga docs show it, so that Hush can be
 * compared with what a team would build in an afternoon. graphql-yoga with an in-memory
 * `createPubSub`, a `send(chatId, body)` mutation, a `chat(chatId)` subscription, and graphql-ws
 * over `ws` wired through `yoga.getEnveloped` exactly as in the Yoga "Subscriptions / graphql-ws"
 * recipe. Typing is the same kind of event as a message (a `send` with another body). No auth, no
 * storage: everything Hush does on top of this is what the comparison prices.
 *
 * PORT and HOST from the environment; answers GET /healthz.
 */
import { createServer } from 'node:http'
import type { DocumentNode, ExecutionArgs, GraphQLError, GraphQLSchema } from 'graphql'
import { createPubSub, createSchema, createYoga } from 'graphql-yoga'
import { useServer } from 'graphql-ws/use/ws'
import { WebSocketServer } from 'ws'

interface ChatEvent {
  chatId: string
  body: string
}

const pubSub = createPubSub<{ chat: [chatId: string, payload: ChatEvent] }>()

const yoga = createYoga({
  graphiql: { subscriptionsProtocol: 'WS' },
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Query {
        hello: String
      }
      type ChatEvent {
        chatId: ID!
        body: String!
      }
      type Mutation {
        send(chatId: ID!, body: String!): Boolean!
      }
      type Subscription {
        chat(chatId: ID!): ChatEvent!
      }
    `,
    resolvers: {
      Query: { hello: () => 'world' },
      Mutation: {
        send: (_: unknown, { chatId, body }: { chatId: string; body: string }) => {
          pubSub.publish('chat', chatId, { chatId, body })
          return true
        },
      },
      Subscription: {
        chat: {
          subscribe: (_: unknown, { chatId }: { chatId: string }) => pubSub.subscribe('chat', chatId),
          resolve: (payload: ChatEvent) => payload,
        },
      },
    },
  }),
})

const httpServer = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"status":"ok"}')
    return
  }
  void yoga(req, res)
})

const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint })

type EnvelopedRoot = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown }

useServer(
  {
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    onSubscribe: async (ctx, _id, params) => {
      const enveloped = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
      })
      const { execute, subscribe, contextFactory, parse, validate } = enveloped
      // envelop types the schema, parse's document and validate's errors as `any`: they are graphql-js's.
      const args = {
        schema: enveloped.schema as GraphQLSchema,
        operationName: params.operationName,
        document: parse(params.query) as DocumentNode,
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      }
      const errors = validate(args.schema, args.document) as readonly GraphQLError[]
      if (errors.length) return errors
      return args
    },
  },
  wsServer,
)

httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1')
