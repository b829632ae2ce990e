import type { ChatState, LogMessage } from '../chat-log.js'
import type { ChatControls } from '../use-chat.js'
import { PhotoView } from './PhotoView.js'

/** One message: its text and photo, and for the user's own, how far it got (sent, delivered, read). */
export function MessageItem({ message, state, controls }: { message: LogMessage; state: ChatState; controls: ChatControls }) {
  const who = message.fromMe ? 'You' : (state.chat?.peer.alias ?? '')
  return (
    <li class={message.fromMe ? 'message mine' : 'message'} data-seq={message.seq}>
      <span class="who">{who}</span>
      <div class="content">
        {message.photo !== null && <PhotoView message={message} controls={controls} />}
        {message.body !== null && <p class="body">{message.body}</p>}
        {message.fromMe && <small class="mark">{markOf(message, state)}</small>}
      </div>
    </li>
  )
}

function markOf(message: LogMessage, state: ChatState): string {
  if (message.failure) return `not sent: ${message.failure}`
  if (message.seq === undefined) return 'sending…'
  if (message.seq <= state.peerReadSeq) return 'read'
  if (message.seq <= state.peerDeliveredSeq) return 'delivered'
  return 'sent'
}
