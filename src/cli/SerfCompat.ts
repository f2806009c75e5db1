/**
 * What a node needs, beyond memberlist, to look like a well-behaved member of
 * a serf cluster: the delegate protocol versions serf checks on every join,
 * serf's member-status Lamport clock (followed from the join and leave
 * intents serf gossips), and the serf leave intent that makes serf show a
 * graceful leave as `left` instead of `failed`.
 */
import { Context, Effect, Layer, Ref, Stream } from "effect"
import { Membership } from "../Membership.ts"
import { decodeSerfMessage, encodeLeaveIntent } from "../serf/Messages.ts"

/**
 * Delegate (serf) protocol versions to advertise: serf agents speak 2..5 and
 * refuse a push/pull with any member whose range does not contain theirs.
 */
export const serfDelegateVersions = {
  delegateProtocolMin: 2,
  delegateProtocolMax: 5,
  delegateProtocolVersion: 5
} as const

/** serf's member-status Lamport clock, as far as this node has seen it. */
export class MemberClock extends Context.Service<MemberClock, {
  /** Records an LTime seen in a serf join or leave intent. */
  witness(ltime: number): Effect.Effect<void>
  /** The highest member-status LTime seen so far (0 when none). */
  readonly current: Effect.Effect<number>
  /** Ticks the clock: an LTime newer than every one seen (1 when none was). */
  readonly increment: Effect.Effect<number>
}>()("effect-gossip/cli/MemberClock") {
  /** Follows the intents arriving as user messages for as long as the layer lives. */
  static readonly layer: Layer.Layer<MemberClock, never, Membership> = Layer.effect(
    MemberClock,
    Effect.gen(function*() {
      const membership = yield* Membership
      const seen = yield* Ref.make(0)
      const witness = (ltime: number) => Ref.update(seen, (t) => Math.max(t, ltime))
      yield* membership.messages.pipe(
        Stream.runForEach((message) => {
          // anything else (other serf types, other applications' payloads) is not ours to read
          const decoded = decodeSerfMessage(message.payload)
          return decoded?._tag === "Join" || decoded?._tag === "Leave" ? witness(decoded.ltime) : Effect.void
        }),
        Effect.forkScoped
      )
      return MemberClock.of({
        witness,
        current: Ref.get(seen),
        increment: Ref.modify(seen, (t) => [t + 1, t + 1])
      })
    })
  )
}

/**
 * Sends serf's leave intent for this node (`{LTime, Node, Prune: false}`) to
 * every other alive member, one datagram each; serf gossips it on. It must
 * precede the memberlist leave: serf only records a member as `left` when the
 * intent arrived first. Send failures are logged and ignored: a member that
 * misses it still learns it from the others.
 */
export const announceLeave: Effect.Effect<{ readonly ltime: number; readonly sent: number }, never, Membership | MemberClock> =
  Effect.gen(function*() {
    const membership = yield* Membership
    const clock = yield* MemberClock
    const self = yield* membership.localMember
    const ltime = yield* clock.increment
    const payload = encodeLeaveIntent({ ltime, node: self.name, prune: false })
    const targets = (yield* membership.currentMembers).filter((m) => m.state === "alive" && m.name !== self.name)
    yield* Effect.forEach(
      targets,
      (m) =>
        membership.sendBestEffort(m.name, payload).pipe(
          Effect.catch((e) => Effect.logDebug("leave intent not sent", m.name, e.message))
        ),
      { concurrency: "unbounded", discard: true }
    )
    return { ltime, sent: targets.length }
  }).pipe(Effect.withSpan("announceLeave"))
