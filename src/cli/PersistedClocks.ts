/**
 * The Lamport clocks the agent keeps across restarts (in its snapshot) and
 * reports (in `gossip info`). A restarted agent must not reuse LTimes the
 * cluster has already seen: serf ignores an intent, an event or a query that
 * is not newer than what it holds. Each clock is one entry of `agentClocks`;
 * all are also moved past what serf agents show in push/pull exchanges.
 */
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import type { MembershipShape } from "../Membership.ts"
import { decodePushPullState, type SerfPushPullState } from "../serf/PushPullState.ts"
import type { SerfClock } from "../serf/SerfAgent.ts"
import { SerfAgent } from "../serf/SerfAgent.ts"
import { MemberClock } from "./SerfCompat.ts"

/** One clock, as the snapshot and `gossip info` see it. */
export interface PersistedClock {
  /** Its name in the snapshot and, with `_time`, in `gossip info` (`member`, `event`, `query`). */
  readonly name: string
  /** The highest LTime this agent has used or seen. */
  readonly current: Effect.Effect<number>
  /** Moves the clock to at least `ltime` (a value restored from the snapshot). */
  witness(ltime: number): Effect.Effect<void>
  /** The highest LTime serf's push/pull state shows of this clock, to witness; none when followed elsewhere. */
  readonly remote?: (state: SerfPushPullState) => number
}

/**
 * One of serf's own clocks, which reads one past the last LTime used: what is
 * persisted is that LTime, and witnessing it restores the clock exactly.
 */
const serfClock = (name: string, clock: SerfClock, remote: (state: SerfPushPullState) => number): PersistedClock => ({
  name,
  current: Effect.map(clock.current, (next) => Math.max(0, next - 1)),
  witness: clock.witness,
  remote: (state) => remote(state) - 1
})

/**
 * The clocks of the running agent: serf's member-status clock (which the
 * serf member list follows from push/pull states itself), and serf's user
 * event and query clocks.
 */
export const agentClocks: Effect.Effect<ReadonlyArray<PersistedClock>, never, MemberClock | SerfAgent> = Effect.gen(
  function*() {
    const member = yield* MemberClock
    const serf = yield* SerfAgent
    return [
      { name: "member", current: member.current, witness: member.witness },
      serfClock("event", serf.clocks.event, (state) => state.eventLTime),
      serfClock("query", serf.clocks.query, (state) => state.queryLTime)
    ]
  }
)

/**
 * Moves the clocks past what serf agents' push/pull states show, as serf's
 * `MergeRemoteState` does, for as long as the scope lives.
 */
export const followRemoteClocks = (
  membership: MembershipShape,
  clocks: ReadonlyArray<PersistedClock>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const states = yield* membership.subscribeRemoteStates
    yield* states.pipe(
      Stream.runForEach((remote) => {
        const state = decodePushPullState(remote.state)
        if (state === undefined) return Effect.void
        return Effect.forEach(clocks, (clock) => {
          const ltime = clock.remote?.(state)
          return ltime === undefined || ltime <= 0 ? Effect.void : clock.witness(ltime)
        }, { discard: true })
      }),
      Effect.forkScoped
    )
  })

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
