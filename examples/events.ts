/**
 * events.ts: react to membership changes with the `events` stream.
 *
 * Run it:  ./node_modules/.bin/node examples/events.ts      (about 11 s)
 *
 * Node `a` subscribes to `Membership.events` and prints each `MemberEvent`,
 * matching on its `_tag` with `Match.tagsExhaustive` (a `switch` on
 * `event._tag` works just as well; both are checked for exhaustiveness by the
 * compiler). Then, on real UDP/TCP sockets on 127.0.0.1:
 *
 *   - b, c and d join               -> MemberJoined
 *   - c changes its (typed) zone    -> MemberUpdated
 *   - b crashes (no goodbye)        -> MemberSuspected, then MemberFailed
 *   - d leaves gracefully           -> MemberLeft
 *   - dead and left members are forgotten after `gossipToTheDeadTime`
 *     (shortened to 3 s here)       -> MemberReaped
 *
 * (`MemberAlive`, a suspected member refuting the suspicion, needs a member
 * that is slow rather than dead: `SimNetwork.pause` simulates one; see
 * `simulation.ts` for the simulated network.)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Context, Effect, Exit, Fiber, Layer, Match, Option, Result, Schema, Scope, Stream } from "effect"
import { CompactCodec, GossipConfig, Membership, MemberMetadata, UdpTcpTransport } from "../src/index.ts"
import type { Member, MemberEvent, MembershipShape } from "../src/index.ts"

/** Each node's zone, as typed metadata (JSON on the wire). */
const Zone = MemberMetadata.make("zone", Schema.Struct({ zone: Schema.Int }))

/** Starts a node in its own scope (a child of the program's), so it can be stopped alone. */
const startNode = Effect.fnUntraced(function*(name: string, zone: number) {
  const scope = yield* Scope.fork(yield* Effect.scope, "sequential")
  const layer = Zone.layer({ zone }).pipe(
    Layer.provideMerge(Membership.layer),
    Layer.provide(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 })),
    Layer.provide(CompactCodec.layer),
    // `local` for fast failure detection; dead and left members forgotten after 3 s instead of 15;
    // retransmitMult 4 instead of 2, so that every piece of gossip reaches all four nodes.
    Layer.provide(GossipConfig.layer({ name, profile: "local", gossipToTheDeadTime: "3 seconds", retransmitMult: 4 }))
  )
  const context = yield* Layer.buildWithScope(layer, scope)
  const membership = Context.get(context, Membership)
  return { name, membership, zone: Context.get(context, Zone), scope, address: (yield* membership.localMember).address }
})

/** A member's zone as text; events carry plain `Member`s, whose metadata the declaration decodes. */
const meta = (m: Member) => Result.match(Zone.decodeBytes(m.meta), { onSuccess: ({ zone }) => `zone=${zone}`, onFailure: () => "zone=?" })

/** One line per event; the compiler insists that every tag is handled. */
const describe = Match.type<MemberEvent>().pipe(
  Match.tagsExhaustive({
    MemberJoined: (e) => `JOINED    ${e.member.name} at ${e.member.address} (${meta(e.member)})`,
    MemberUpdated: (e) =>
      `UPDATED   ${e.member.name}: metadata is now "${meta(e.member)}" (incarnation ${e.member.incarnation})`,
    MemberSuspected: (e) => `SUSPECTED ${e.member.name}, by ${e.from}`,
    MemberAlive: (e) => `ALIVE     ${e.member.name} refuted the suspicion (incarnation ${e.member.incarnation})`,
    MemberLeft: (e) => `LEFT      ${e.member.name}`,
    MemberFailed: (e) => `FAILED    ${e.member.name}, declared dead by ${e.from}`,
    MemberReaped: (e) => `REAPED    ${e.member.name} (was ${e.member.state})`
  })
)

/** Completes once `node` has published an event matching `ok`. */
const waitForEvent = (node: MembershipShape, ok: (e: MemberEvent) => boolean) =>
  node.events.pipe(Stream.filter(ok), Stream.runHead, Effect.timeout("20 seconds"))

const reaped = (name: string) => (e: MemberEvent) => e._tag === "MemberReaped" && e.member.name === name

const program = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const say = (line: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Console.log(`[${((now - start) / 1000).toFixed(1).padStart(4)}s] ${line}`))

  const a = yield* startNode("a", 1)

  // The subscriber: a fiber that prints every event `a` publishes.
  yield* a.membership.events.pipe(
    Stream.runForEach((event) => say(`a: ${describe(event)}`)),
    Effect.forkScoped
  )
  yield* Effect.yieldNow // let it subscribe before anything happens

  const [b, c, d] = yield* Effect.all([startNode("b", 1), startNode("c", 2), startNode("d", 2)])
  for (const node of [b, c, d]) yield* node.membership.join([a.address])

  yield* Effect.sleep("1 second")
  yield* say(`-- c moves to zone 3`)
  yield* c.zone.update({ zone: 3 })

  yield* Effect.sleep("1 second")
  yield* say(`-- b crashes`)
  const bReaped = yield* Effect.forkScoped(waitForEvent(a.membership, reaped("b")))
  yield* Scope.close(b.scope, Exit.void)
  yield* waitForEvent(a.membership, (e) => e._tag === "MemberFailed" && e.member.name === "b")

  yield* say(`-- d leaves`)
  const dReaped = yield* Effect.forkScoped(waitForEvent(a.membership, reaped("d")))
  yield* d.membership.leave
  yield* Scope.close(d.scope, Exit.void)

  yield* Fiber.joinAll([bReaped, dReaped])
  // Read the final table from `members`: it can trail the events of the same change by a moment.
  const table = yield* a.membership.members.pipe(
    Stream.filter((ms) => ms.every((m) => m.name !== "b" && m.name !== "d")),
    Stream.runHead
  )
  yield* say(`-- done: a lists ${Option.getOrElse(table, () => []).map((m) => `${m.name} (${meta(m)})`).join(", ")}`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
