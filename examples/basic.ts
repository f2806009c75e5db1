/**
 * basic.ts: the smallest useful cluster.
 *
 * Run it:  ./node_modules/.bin/node examples/basic.ts      (about 1 s)
 *
 * Three nodes on real UDP/TCP sockets on 127.0.0.1 (the OS picks the ports):
 * b and c join through a, every node prints the member table it sees, then c
 * leaves gracefully and a sees it `left`, and finally all of them stop.
 *
 * A node is a layer. `Gossip.layer` is the ready-made one: the membership
 * engine on UDP + TCP speaking the hashicorp/memberlist wire format. It is the
 * same as building it from its parts, which the other examples do:
 *
 *   Membership.layer.pipe(
 *     Layer.provide(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 })),
 *     Layer.provide(MemberlistCodec.layer({ ... })),      // or CompactCodec.layer
 *     Layer.provide(GossipConfig.layer({ name, profile: "local" })))
 *
 * `Layer.build` starts a node in the current scope; closing the scope stops it.
 * The `local` profile has the short timers memberlist uses for one machine.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Stream } from "effect"
import { Gossip, Membership } from "../src/index.ts"
import type { Member, MembershipShape } from "../src/index.ts"

/** Starts a node in the current scope and returns its `Membership` service. */
const startNode = (name: string) =>
  Layer.build(Gossip.layer({ name, profile: "local", bind: "127.0.0.1:0" })).pipe(
    Effect.map(Context.get(Membership))
  )

/** Waits until `node`'s member table (a stream: the current one, then each change) satisfies `ok`. */
const waitUntil = (node: MembershipShape, ok: (members: ReadonlyArray<Member>) => boolean) =>
  node.members.pipe(Stream.filter(ok), Stream.runHead, Effect.timeout("5 seconds"))

const row = (m: Member) => `${m.name} ${m.address} ${m.state}`

const program = Effect.gen(function*() {
  const a = yield* startNode("a")
  const b = yield* startNode("b")
  const c = yield* startNode("c")
  const seed = (yield* a.localMember).address
  yield* Console.log(`a listens on ${seed}`)

  // A join is a push/pull with the seed: both sides merge each other's tables.
  // The other members hear of the newcomer by gossip, a few rounds later.
  yield* b.join([seed])
  yield* c.join([seed])
  const nodes = { a, b, c }
  for (const node of Object.values(nodes)) {
    yield* waitUntil(node, (ms) => ms.filter((m) => m.state === "alive").length === 3)
  }
  for (const [name, node] of Object.entries(nodes)) {
    const members = yield* node.currentMembers
    yield* Console.log(`${name} sees ${members.length} members: ${members.map(row).join(", ")}`)
  }

  // A graceful leave gossips the news and waits until it has gone out;
  // the others then list c as `left` rather than suspecting it.
  yield* c.leave
  yield* waitUntil(a, (ms) => ms.some((m) => m.name === "c" && m.state === "left"))
  yield* Console.log(`c left; a sees: ${(yield* a.currentMembers).map(row).join(", ")}`)

  yield* b.leave
  yield* a.leave
  yield* Console.log("all three left; closing the scope stops them")
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
