/**
 * The agent's serf member list as a service: a `SerfView` fed by the
 * engine's member events, by serf's join and leave intents (user messages),
 * and by the push/pull state serf agents send (their member clock, every
 * member's status time and the members they hold as left, merged as serf's
 * `MergeRemoteState` does). `forceLeave` is serf's `force-leave`.
 */
import { Clock, Context, Effect, Layer, Schema, Stream } from "effect"
import { Membership } from "../Membership.ts"
import { decodeSerfMessage, encodeLeaveIntent } from "../serf/Messages.ts"
import { decodePushPullState } from "../serf/PushPullState.ts"
import { MemberClock } from "./SerfCompat.ts"
import { DEFAULT_LIMITS, type SerfMember, SerfView } from "./SerfView.ts"

/** Why a force-leave was refused. */
export const ForceLeaveReason = Schema.Literals(["UnknownMember", "NotFailed", "Broadcast"])

/** A force-leave that could not be done, and why. */
export class ForceLeaveError extends Schema.TaggedError<ForceLeaveError>()("ForceLeaveError", {
  reason: ForceLeaveReason,
  message: Schema.String
}) {}

/** The serf view of the running agent. */
export class SerfMembers extends Context.Service<SerfMembers, {
  /** Every member listed now, self included. */
  readonly members: Effect.Effect<ReadonlyArray<SerfMember>>
  /** Grows whenever a member is added or erased, or changes status or address. */
  readonly changes: Effect.Effect<number>
  /**
   * serf's `force-leave`: a failed member (or, with `prune`, a left one) is
   * marked left here, and serf's leave intent for it is gossiped so that every
   * serf agent and every agent of ours marks it left too; with `prune` they
   * all erase it from their lists.
   */
  forceLeave(node: string, prune: boolean): Effect.Effect<void, ForceLeaveError>
}>()("effect-gossip/cli/SerfMembers") {
  /** Follows the node's events, intents and push/pull states for as long as the layer lives. */
  static readonly layer: Layer.Layer<SerfMembers, never, Membership | MemberClock> = Layer.effect(
    SerfMembers,
    Effect.gen(function*() {
      const membership = yield* Membership
      const clock = yield* MemberClock
      const view = new SerfView(membership.config.name, {
        ...DEFAULT_LIMITS,
        reconnectTimeout: membership.config.reconnectTimeout
      })
      // subscribed before the table is read: nothing that happens in between is missed
      const events = yield* membership.subscribeEvents
      const messages = yield* membership.subscribeMessages
      const states = yield* membership.subscribeRemoteStates
      const reconcile = Effect.flatMap(
        Effect.all([membership.currentMembers, Clock.currentTimeMillis]),
        ([table, now]) => Effect.sync(() => view.reconcile(table, now))
      )
      yield* reconcile

      yield* events.pipe(
        Stream.runForEach((event) =>
          // a reaped member stays listed: serf keeps it until its own timeouts
          event._tag === "MemberReaped"
            ? Effect.void
            : Effect.map(Clock.currentTimeMillis, (now) => view.observe(event.member, now, event._tag === "MemberJoined"))
        ),
        Effect.forkScoped
      )
      yield* messages.pipe(
        Stream.runForEach((message) => {
          const serf = decodeSerfMessage(message.payload)
          if (serf?._tag === "Leave") {
            return Effect.map(Clock.currentTimeMillis, (now) => void view.leaveIntent(serf.node, serf.ltime, serf.prune, now))
          }
          if (serf?._tag === "Join") {
            return Effect.map(Clock.currentTimeMillis, (now) => void view.joinIntent(serf.node, serf.ltime, now))
          }
          return Effect.void
        }),
        Effect.forkScoped
      )
      yield* states.pipe(
        Stream.runForEach((remote) => {
          const state = decodePushPullState(remote.state)
          if (state === undefined) return Effect.void
          return Effect.gen(function*() {
            // serf's clock reads one past the last LTime it used
            if (state.ltime > 0) yield* clock.witness(state.ltime - 1)
            const now = yield* Clock.currentTimeMillis
            const left = new Set(state.leftMembers)
            // a left member's leave came after its last status time, as serf infers
            for (const name of left) view.leaveIntent(name, (state.statusLTimes.get(name) ?? 0) + 1, false, now)
            for (const [name, ltime] of state.statusLTimes) if (!left.has(name)) view.joinIntent(name, ltime, now)
          })
        }),
        Effect.forkScoped
      )

      const forceLeave = Effect.fn("SerfMembers.forceLeave")(function*(node: string, prune: boolean) {
        yield* reconcile
        const entry = view.get(node)
        if (entry === undefined) {
          return yield* new ForceLeaveError({ reason: "UnknownMember", message: `no member named "${node}"` })
        }
        if (entry.status !== "failed" && !(prune && entry.status === "left")) {
          return yield* new ForceLeaveError({
            reason: "NotFailed",
            message: `"${node}" is ${entry.status}: only a failed member can be forced to leave` +
              (entry.status === "left" ? " (a left one can be pruned with --prune)" : "")
          })
        }
        // newer than the member's status time, or serf agents would ignore the intent
        const ltime = Math.max(yield* clock.increment, entry.statusLTime + 1)
        yield* clock.witness(ltime)
        view.leaveIntent(node, ltime, prune, yield* Clock.currentTimeMillis)
        yield* membership.broadcastUnrelayed(encodeLeaveIntent({ ltime, node, prune })).pipe(
          Effect.mapError((e) => new ForceLeaveError({ reason: "Broadcast", message: e.message }))
        )
        yield* Effect.logInfo("forced leave").pipe(Effect.annotateLogs({ node, ltime, prune }))
      })

      return SerfMembers.of({
        members: Effect.andThen(reconcile, Effect.sync(() => view.list())),
        changes: Effect.andThen(reconcile, Effect.sync(() => view.changes)),
        forceLeave
      })
    })
  )
}
