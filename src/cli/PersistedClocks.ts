/**
 * The Lamport clocks the agent keeps across restarts (in its snapshot) and
 * reports (in `gossip info`). A restarted agent must not reuse LTimes the
 * cluster has already seen: serf ignores an intent, an event or a query that
 * is not newer than what it holds. Each clock is one entry of `agentClocks`.
 */
import { Effect } from "effect"
import { MemberClock } from "./SerfCompat.ts"

/** One clock, as the snapshot and `gossip info` see it. */
export interface PersistedClock {
  /** Its name in the snapshot and, with `_time`, in `gossip info` (`member`, `event`, `query`). */
  readonly name: string
  /** The highest LTime this agent has used or seen. */
  readonly current: Effect.Effect<number>
  /** Moves the clock to at least `ltime` (a value restored from the snapshot). */
  witness(ltime: number): Effect.Effect<void>
}

/** The clocks of the running agent: serf's member-status clock. */
export const agentClocks: Effect.Effect<ReadonlyArray<PersistedClock>, never, MemberClock> = MemberClock.useSync(
  (member) => [{ name: "member", current: member.current, witness: member.witness }]
)

/** Every clock's current value, by name. */
export const readClocks = (clocks: ReadonlyArray<PersistedClock>): Effect.Effect<Record<string, number>> =>
  Effect.map(
    Effect.forEach(clocks, (clock) => Effect.map(clock.current, (value) => [clock.name, value] as const)),
    (entries) => Object.fromEntries(entries)
  )

/** Moves each clock to its restored value, if the snapshot has one. */
export const restoreClocks = (
  clocks: ReadonlyArray<PersistedClock>,
  values: Readonly<Record<string, number>>
): Effect.Effect<void> =>
  Effect.forEach(clocks, (clock) => {
    const value = values[clock.name]
    return value === undefined ? Effect.void : clock.witness(value)
  }, { discard: true })
