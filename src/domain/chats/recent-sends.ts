import { createHash } from 'node:crypto'
import type { ChatParticipant, RecentSend } from '../ports.js'

/**
 * How a retried send is told from a new one without a record per send: each side of a chat keeps
 * its last RECENT_SENDS sends (a short hash of the clientMessageId and the seq it got), written by
 * the same commit that makes the message part of the chat. A retry is recognised while its first
 * attempt is among its sender's last RECENT_SENDS messages in the chat, so a client keeps at most
 * RECENT_SENDS sends of a chat unanswered (docs/mobile.md), as Kafka's idempotent producer bounds
 * its in-flight batches. A retry whose first attempt only claimed its seq is recognised exactly
 * (MessageService finds its own claim in its way), whatever the window.
 */
export const RECENT_SENDS = 8

/**
 * 66 bits of the clientMessageId's SHA-256 (11 base64url characters): eight per side keep the
 * Chat item under 1 KB, so its update costs one write unit; two ids of one sender colliding
 * within a window of eight is a chance of about 2^-61.
 */
export const sendKey = (clientMessageId: string): string => createHash('sha256').update(clientMessageId).digest('base64url').slice(0, 11)

/** The seq a participant's send with this clientMessageId got, if it is among its recent ones. */
export function recentSendSeq(participant: ChatParticipant, clientMessageId: string): number | undefined {
  const key = sendKey(clientMessageId)
  return participant.recentSends?.findLast((send) => send.key === key)?.seq
}

/** The participant's recent sends with one more, the oldest dropped past RECENT_SENDS. */
export function withRecentSend(participant: ChatParticipant, clientMessageId: string, seq: number): RecentSend[] {
  return [...(participant.recentSends ?? []), { key: sendKey(clientMessageId), seq }].slice(-RECENT_SENDS)
}
