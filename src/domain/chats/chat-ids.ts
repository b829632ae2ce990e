import { createHmac, randomBytes } from 'node:crypto'

/**
 * Ids that reveal nothing and cannot be forged or guessed without the secret: a keyed hash of
 * what they stand for.
 */
export class ChatIds {
  constructor(private readonly secret: string) {}

  /** The same for the same two users and post, whoever asks: the key of their current chat. */
  pairKey(postId: string, userId: string, otherUserId: string): string {
    return this.hash('pair', postId, ...[userId, otherUserId].sort())
  }

  /** A new chat of a pair; random, so a chat id says nothing about its pair or generation. */
  chatId(pairKey: string, generation: number): string {
    return this.hash('chat', pairKey, String(generation), randomBytes(16).toString('base64url'))
  }

  private hash(...parts: string[]): string {
    return createHmac('sha256', this.secret).update(parts.join('\n')).digest('base64url').slice(0, 27)
  }
}
