/** A problem in words, with a way to dismiss it; nothing when there is none. */
export function ErrorNote({ error, onDismiss }: { error: string | undefined; onDismiss?: () => void }) {
  if (!error) return null
  return (
    <p class="error" role="alert">
      {error}
      {onDismiss && (
        <button type="button" class="link" onClick={onDismiss}>
          dismiss
        </button>
      )}
    </p>
  )
}
