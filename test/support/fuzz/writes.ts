/**
 * DynamoDB Local stores a few hundred items a second and other test files share it: the fuzz test
 * lets only so many writing fields through, then renames the rest (they become validation errors).
 */
const WRITING_FIELDS = /\b(signUp|createPost|addComment|sendMessage|startChat|markRead|leaveChat|blockChat|uploadPhoto)\b/g

export class WriteBudget {
  used = 0

  constructor(readonly limit: number) {}

  /** The document as sent: unchanged while the budget lasts, its writing fields renamed after. */
  guard(text: string): string {
    const writes = text.match(WRITING_FIELDS)?.length ?? 0
    if (writes === 0) return text
    if (this.used + writes <= this.limit) {
      this.used += writes
      return text
    }
    return text.replace(WRITING_FIELDS, '$1_')
  }
}
