/**
 * leader-election.ts: a leader that follows the membership, with no extra protocol.
 *
 * Run it:  ./node_modules/.bin/node examples/leader-election.ts      (about 5 s)
 *
 * Every node announces a priority in typed metadata: `MemberMetadata.make`
 * declares it with a Schema (`{ priority: Int }`, JSON on the wire), its
 * layer announces this node's value, and its `members` stream is the member
 * table with every member's metadata decoded. The leader is the alive member
 * with the highest priority, the lowest name breaking ties. Each node computes
 * it from its own stream, so there is nothing to vote on: when the views agree,
 * the leaders agree. Each node prints its leader whenever it changes.
 *
 * Four nodes on real UDP/TCP on 127.0.0.1: alpha (30) leads; alpha crashes and
 * bravo (20, ahead of charlie, 20, by name) takes over once the others stop
 * seeing alpha alive; then echo (40) joins and leads.
 *
 * Only `alive` members are eligible, so leadership moves as soon as the leader
 * is suspected. To wait for the verdict instead, also accept `suspect` members.
 * (Views can disagree for a moment, e.g. during a partition: this is a
 * "who should lead" hint, not a lock; a real lock needs a consensus protocol.)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Context, Effect, Exit, Layer, Option, Result, Schema, Scope, Stream } from "effect"
import { CompactCodec, GossipConfig, Membership, MemberMetadata, UdpTcpTransport } from "../src/index.ts"

/** What every node announces. A member whose metadata does not decode is never elected. */
const Priority = MemberMetadata.make("priority", Schema.Struct({ priority: Schema.Int }))
type Member = MemberMetadata.TypedMember<typeof Priority.schema.Type>

const priorityOf = (m: Member) => Result.isSuccess(m.metadata) ? m.metadata.success.priority : -1

/** The alive member with the highest priority, then the lowest name. */
const leaderOf = (members: ReadonlyArray<Member>): string => {
  const candidates = members
    .filter((m) => m.state === "alive")
    .sort((a, b) => priorityOf(b) - priorityOf(a) || a.name.localeCompare(b.name))
  return candidates[0]?.name ?? "(none)"
}

interface Node {
  readonly name: string
  readonly address: string
  readonly membership: Membership["Service"]
  readonly members: Stream.Stream<ReadonlyArray<Member>>
  readonly scope: Scope.Closeable
}

const program = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const say = (line: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Console.log(`[${((now - start) / 1000).toFixed(1).padStart(4)}s] ${line}`))
  const parent = yield* Effect.scope

  /** Starts a node in a scope of its own, with a fiber (in that scope) printing its leader on every change. */
  const startNode = Effect.fnUntraced(function*(name: string, priority: number) {
    const scope = yield* Scope.fork(parent, "sequential")
    const layer = Priority.layer({ priority }).pipe(
      Layer.provideMerge(Membership.layer),
      Layer.provide(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 })),
      Layer.provide(CompactCodec.layer),
      // `local`: fast failure detection; retransmitMult 4 (instead of the preset's 2) so that
      // news reaches every member of a cluster this small at once.
      Layer.provide(GossipConfig.layer({ name, profile: "local", retransmitMult: 4 }))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    const membership = Context.get(context, Membership)
    const members = Context.get(context, Priority).members
    yield* members.pipe(
      Stream.map(leaderOf),
      Stream.changes,
      Stream.runForEach((leader) => say(`${name.padEnd(7)} follows ${leader}`)),
      Effect.forkIn(scope)
    )
    const node: Node = { name, address: (yield* membership.localMember).address, membership, members, scope }
    return node
  })

  /** Waits until every node in `nodes` sees `leader` as the leader. */
  const agreeOn = (nodes: ReadonlyArray<Node>, leader: string) =>
    Effect.forEach(nodes, (node) =>
      node.members.pipe(
        Stream.filter((ms) => leaderOf(ms) === leader),
        Stream.runHead,
        Effect.timeout("15 seconds")
      ), { discard: true }).pipe(
        Effect.andThen(say(`-- all of ${nodes.map((n) => n.name).join(", ")} follow ${leader}`))
      )

  const alpha = yield* startNode("alpha", 30)
  const bravo = yield* startNode("bravo", 20)
  const charlie = yield* startNode("charlie", 20)
  const delta = yield* startNode("delta", 10)
  for (const node of [bravo, charlie, delta]) yield* node.membership.join([alpha.address])
  yield* agreeOn([alpha, bravo, charlie, delta], "alpha")

  yield* say("-- alpha crashes")
  yield* Scope.close(alpha.scope, Exit.void)
  yield* agreeOn([bravo, charlie, delta], "bravo")

  yield* say("-- echo (priority 40) joins")
  const echo = yield* startNode("echo", 40)
  yield* echo.membership.join([delta.address])
  yield* agreeOn([bravo, charlie, delta, echo], "echo")

  // Leadership moved when alpha became suspect; the verdict (dead) comes when the suspicion times out.
  const table = yield* delta.members.pipe(
    Stream.filter((ms) => ms.some((m) => m.name === "alpha" && m.state === "dead")),
    Stream.runHead,
    Effect.timeout("15 seconds"),
    Effect.map(Option.getOrElse((): ReadonlyArray<Member> => []))
  )
  yield* say(`-- delta's view: ${table.map((m) => `${m.name}(${priorityOf(m)}) ${m.state}`).join(", ")}`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
