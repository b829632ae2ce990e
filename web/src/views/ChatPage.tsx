import { postHref } from '../route.js'
import type { Session } from '../session.js'
import { timeLeft } from '../time.js'
import { useChat, type ChatControls } from '../use-chat.js'
import { useNow } from '../use-now.js'
import { roleName } from './ChatsPage.js'
import { ChatActions } from './ChatActions.js'
import { ErrorNote } from './ErrorNote.js'
import { MessageComposer } from './MessageComposer.js'
import { MessageItem } from './MessageItem.js'

/** One conversation: who the peer is (an alias), whether they are here, the time left, the messages, and the composer. */
export function ChatPage({ session, chatId }: { session: Session; chatId: string }) {
  const controls = useChat(session, chatId)
  const { state } = controls
  if (!state.chat) return controls.error ? <ErrorNote error={controls.error} /> : <p class="quiet">Opening the chat…</p>
  const { peer, post } = state.chat

  return (
    <section class="chat" aria-label={`Chat with ${peer.alias}`}>
      <header class="chat-head">
        <h1>
          {peer.alias} <span class="role">{roleName(peer.role)}</span>
        </h1>
        <p class="status">
          <span class={state.peerPresent ? 'presence here' : 'presence'} data-testid="presence">
            {state.peerPresent ? 'here now' : 'away'}
          </span>
          {' · '}
          <span data-testid="time-left">{state.closed ? 'closed' : <TimeLeft until={state.expiresAt} />}</span>
        </p>
        <p class="about">
          About <a href={postHref(post.id)}>“{post.body.length > 80 ? `${post.body.slice(0, 79)}…` : post.body}”</a>
        </p>
      </header>
      {state.hasEarlier && (
        <button type="button" class="link" onClick={() => void controls.loadEarlier()}>
          Earlier messages
        </button>
      )}
      <ol class="messages" aria-live="polite">
        {state.messages.map((message) => (
          <MessageItem key={message.key} message={message} state={state} controls={controls} />
        ))}
      </ol>
      <p class="typing" data-testid="typing">
        {state.peerTyping && !state.closed ? `${peer.alias} is typing…` : ' '}
      </p>
      <ErrorNote error={controls.error} onDismiss={controls.dismissError} />
      {state.closed ? <ClosedNote controls={controls} /> : <MessageComposer controls={controls} />}
      {!state.closed && <ChatActions controls={controls} />}
    </section>
  )
}

/** The countdown, on its own so that only it is drawn again every second. */
function TimeLeft({ until }: { until: number }) {
  // The tick only redraws; the clock is read now, so a just-moved expiry never shows a second too many.
  useNow(1_000)
  return <>disappears in {timeLeft(until, Date.now())}</>
}

function ClosedNote({ controls }: { controls: ChatControls }) {
  const { closed, chat } = controls.state
  if (!closed || !chat) return null
  const text =
    closed.reason === 'EXPIRED'
      ? 'This chat has disappeared.'
      : closed.byMe
        ? `You ${closed.reason === 'LEFT' ? 'left' : 'blocked'} this chat.`
        : closed.byMe === false && closed.reason === 'LEFT'
          ? `${chat.peer.alias} left the chat.`
          : 'This chat was closed.'
  return (
    <p class="closed" role="status">
      {text} No more messages can be sent.
    </p>
  )
}
