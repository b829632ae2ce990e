/** The servers a run can measure, and how each is started and spoken to. */

/**
 * - floor: a bare `ws` router of raw JSON frames (bench/floor-server.ts);
 * - peer: the chat as the Yoga docs show it (bench/peer-server.ts);
 * - hush: Hush itself (src/main.ts);
 * - hush-graphql-ws: Hush with its socket served by graphql-ws's `useServer` (bench/servers/);
 * - hush-yoga-jit: Hush with every HTTP request served by Yoga + @envelop/graphql-jit (bench/servers/);
 * - hush-sdk-reads: Hush with its DynamoDB reads sent through the AWS SDK document client, not
 *   the lean path (DYNAMODB_LEAN_READS=false; docs/decisions/0004-lean-dynamodb-reads.md). Only
 *   run when named in --only: it is Hush but for the client of three reads per connect.
 */
export const TARGETS = ['floor', 'peer', 'hush', 'hush-graphql-ws', 'hush-yoga-jit', 'hush-sdk-reads'] as const
/** What a run measures without --only. */
export const DEFAULT_TARGETS: readonly Target[] = ['floor', 'peer', 'hush', 'hush-graphql-ws', 'hush-yoga-jit']
export type Target = (typeof TARGETS)[number]

/** What the load generator speaks to a target. */
export type Protocol = 'floor' | 'peer' | 'hush'

export interface TargetInfo {
  label: string
  protocol: Protocol
  /** script relative to the repository root (run compiled, from bench/.build) */
  script: string
  /** environment on top of the run's Hush environment (Hush targets) */
  env?: Record<string, string>
}

export const TARGET_INFO: Record<Target, TargetInfo> = {
  floor: { label: 'floor (ws)', protocol: 'floor', script: 'bench/floor-server.ts' },
  peer: { label: 'peer (Yoga)', protocol: 'peer', script: 'bench/peer-server.ts' },
  hush: { label: 'Hush', protocol: 'hush', script: 'src/main.ts' },
  'hush-graphql-ws': { label: 'Hush on graphql-ws useServer', protocol: 'hush', script: 'bench/servers/hush-variant.ts', env: { HUSH_VARIANT: 'graphql-ws' } },
  'hush-yoga-jit': { label: 'Hush on Yoga + graphql-jit', protocol: 'hush', script: 'bench/servers/hush-variant.ts', env: { HUSH_VARIANT: 'yoga-jit' } },
  'hush-sdk-reads': { label: 'Hush with AWS SDK reads', protocol: 'hush', script: 'src/main.ts', env: { DYNAMODB_LEAN_READS: 'false' } },
}

export const isHushTarget = (target: Target): boolean => TARGET_INFO[target].protocol === 'hush'
export const labelOf = (target: Target): string => TARGET_INFO[target].label
