import type { MessageView, ParticipantView } from '../chats/views.js'
import type { ChatCloseReason } from '../events.js'

/** What a chatEvents subscriber receives; everything about "the peer" is about the other side. */
export type ChatEventView =
  | { kind: 'message'; chatId: string; message: MessageView }
  | { kind: 'typing'; chatId: string; typing: boolean }
  | { kind: 'receipt'; chatId: string; peerDeliveredSeq: number; peerReadSeq: number }
  | { kind: 'presence'; chatId: string; peerPresent: boolean }
  | { kind: 'closed'; chatId: string; reason: ChatCloseReason }

/** What a notifications subscriber receives: only what concerns the caller. */
export type NotificationView =
  | { kind: 'chatStarted'; chatId: string; postId: string; peer: ParticipantView }
  | { kind: 'newMessage'; chatId: string; message: MessageView; unreadCount: number }
  | { kind: 'chatClosed'; chatId: string; reason: ChatCloseReason }

/**
 * About the bytes an event takes while it waits for a slow client: a message by its text (JSON
 * escapes and UTF-8 can double it), anything else a small record.
 */
export function sizeOfEvent(event: ChatEventView | NotificationView): number {
  return 'message' in event ? 256 + 2 * (event.message.body?.length ?? 0) : 128
}
