/**
 * Hush's stored messages over HTTP (sendMessage → the recipient's MessageEvent), one ladder: how
 * far the stored path goes on this machine. No ratio is taken from it (the send path's comparison
 * with DynamoDB alone is send-path.ts).
 */
import type { BenchContext } from '../lib/context.js'
import type { FleetMember } from '../lib/fleet.js'
import { ladder, profiled, warmUp, type LadderResult } from '../lib/measure.js'

export async function runMessages(ctx: BenchContext, hush: FleetMember): Promise<LadderResult> {
  await warmUp(ctx, hush.lg, 'message', 'http')
  return profiled(ctx, hush.server, 'messages', () =>
    ladder(ctx, 'messages: Hush messages (HTTP, stored)', hush.server, hush.lg, 'message', 'http', { rates: ctx.plan.messageRates, extend: false }),
  )
}
