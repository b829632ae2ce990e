// The core entry: no urql, no Apollo (those are @hush/client/urql and @hush/client/apollo).
export { createHushClient, type GetToken, type GetTokenContext, type HushClient, type HushClientOptions } from './client.js'
export { chatStream, isPermanentError, type ChatEvent, type ChatStream, type ChatStreamOptions } from './chat-stream.js'
export { typing, type TypingIndicator, type TypingOptions } from './typing.js'
export { HushError } from './errors.js'
export { backoff, defaultShouldRetry, HushTokenError, RETRYABLE_CLOSE_CODES, type BackoffOptions } from './retry.js'
export { documentIdOf, payloadOf, type OperationPayload, type PersistedDocumentsMode, type VariablesArg } from './documents.js'
export type { FetchLike } from './http.js'
// The typed documents of operations/*.graphql (written by `npm run codegen`).
export * from './generated/graphql.js'
