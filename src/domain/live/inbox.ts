import type { ChatBusEvent } from '../events.js'

/** Work items of one chat stream, handled strictly one after another. */
export type ChatTask =
  | ChatBusEvent
  /** Deliver the stored messages after the subscriber's afterSeq, through the lastSeq read on open. */
  | { kind: 'replay'; throughSeq: number }
  /** Re-read the chat and deliver what was stored meanwhile: events may have been lost. */
  | { kind: 'resync' }
  | { kind: 'expiry-check' }

/**
 * The tasks a stream has yet to handle, bounded: past `max`, it is compacted to what still
 * matters, which is small whatever came in. Messages give way to one resync (they are all in the
 * store, in order); of typing and presence only the latest counts; receipts merge into the highest
 * marks per user.
 */
export class StreamInbox {
  /** Replaced by a fresh array when drained, so an idle stream keeps no grown backing store. */
  private tasks: ChatTask[] = []

  constructor(private readonly max: number) {}

  get isEmpty(): boolean {
    return this.tasks.length === 0
  }

  push(task: ChatTask): void {
    this.tasks.push(task)
    if (this.tasks.length > this.max) this.tasks = compact(this.tasks)
  }

  /** Puts a task before all others. */
  pushFirst(task: ChatTask): void {
    this.tasks.unshift(task)
  }

  shift(): ChatTask | undefined {
    const task = this.tasks.shift()
    if (this.tasks.length === 0) this.tasks = []
    return task
  }
}

/** The same outcome in a handful of tasks: replay, resync, the latest state per user, then the end. */
function compact(tasks: ChatTask[]): ChatTask[] {
  const first: ChatTask[] = []
  const last: ChatTask[] = []
  const latest = new Map<string, ChatTask>()
  let resync = false
  for (const task of tasks) {
    switch (task.kind) {
      case 'message':
      case 'resync':
        resync = true
        break
      case 'typing':
      case 'presence':
        latest.set(`${task.kind} ${task.userId}`, task)
        break
      case 'receipt': {
        const key = `receipt ${task.userId}`
        const seen = latest.get(key)
        const merged =
          seen?.kind === 'receipt'
            ? { ...task, readSeq: Math.max(seen.readSeq, task.readSeq), deliveredSeq: Math.max(seen.deliveredSeq, task.deliveredSeq), stored: seen.stored && task.stored }
            : task
        latest.set(key, merged)
        break
      }
      case 'replay':
        if (first.length === 0) first.push(task)
        break
      case 'expiry-check':
      case 'closed':
        if (!last.some((kept) => kept.kind === task.kind)) last.push(task)
        break
    }
  }
  if (resync) first.push({ kind: 'resync' })
  return [...first, ...latest.values(), ...last]
}
