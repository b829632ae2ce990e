import type { PushKind, PushQueue } from '../ports.js'

/**
 * What the writers (send, start, close) call after their write: it queues the push decision for a
 * worker and returns at once, so a push never delays nor fails the mutation it follows.
 */
export class PushNotifier {
  constructor(
    /** Undefined when no push provider is configured: nothing is queued. */
    private readonly queue: PushQueue | undefined,
    private readonly onError: (error: unknown) => void,
  ) {}

  notify(kind: PushKind, chatId: string, userId: string): void {
    this.queue?.add({ type: 'notify', kind, chatId, userId }).catch(this.onError)
  }
}
