import { HushError, payloadOf, UploadPhotoDocument, type UploadPhotoMutation } from '@hush/client'
import { GRAPHQL_URL, type Session } from './session.js'

export type UploadedPhoto = UploadPhotoMutation['uploadPhoto']

/**
 * uploadPhoto as a GraphQL multipart request (the one operation a socket cannot carry): the file
 * goes as a part of its own, streamed by the browser, with the token in the header.
 */
export async function uploadPhoto(session: Session, chatId: string, file: File, viewOnce: boolean): Promise<UploadedPhoto> {
  const form = new FormData()
  // As the session's client sends every other operation (the text, with the id beside it); the
  // file's variable is null, its bytes the part that `map` names (GraphQL multipart request).
  const operation = { ...payloadOf(UploadPhotoDocument, undefined, 'with-text'), variables: { chatId, file: null, viewOnce } }
  form.set('operations', JSON.stringify(operation))
  form.set('map', JSON.stringify({ 0: ['variables.file'] }))
  form.set('0', file, file.name)
  let response: Response
  try {
    // The preflight header tells Yoga's CSRF check that this is no plain form post.
    response = await fetch(GRAPHQL_URL, { method: 'POST', headers: { authorization: `Bearer ${await session.token()}`, 'graphql-require-preflight': '1' }, body: form })
  } catch (error) {
    throw new HushError('fetch failed', { code: 'NETWORK_ERROR', cause: error })
  }
  const result = (await response.json().catch(() => undefined)) as { data?: UploadPhotoMutation | null; errors?: HushError['errors'] } | undefined
  if (result?.errors?.length) throw HushError.fromGraphQL(result.errors, response.status)
  if (!result?.data) throw new HushError(`HTTP ${response.status} without a GraphQL answer`, { code: 'HTTP_ERROR', status: response.status })
  return result.data.uploadPhoto
}
