/**
 * user-messages.ts: typed messages and request/response between members.
 *
 * Run it:  ./node_modules/.bin/node examples/user-messages.ts      (about 1 s)
 *
 * Three nodes on real UDP/TCP on 127.0.0.1, and two typed ways to talk:
 *
 *   - A `Topic` declares a message by its `Schema`. `Topic.publish` gossips a
 *     value to every member (piggybacked on protocol packets and passed on by
 *     whoever receives it); `Topic.send` delivers one to a member by name, in
 *     one UDP datagram when it fits and over a TCP stream otherwise.
 *     `Topic.subscribe` streams what arrives, decoded, with the sender's name.
 *     A value that does not decode never reaches a subscriber: it is counted.
 *   - effect/rpc between members: `GossipRpc.layerServer(group)` serves an
 *     `RpcGroup` on a node, `GossipRpc.client(group, "a")` calls it on member
 *     `a` by name, over a channel on the node's TCP port. Typed success, typed
 *     failure, and streamed responses, as effect/rpc gives them.
 *
 * Failures are typed: `TopicError` (`reason`: "UnknownNode", "TooLarge", …) and
 * `GossipRpcError` (`reason`: "UnknownMember", "MemberGone", "Timeout", …).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Fiber, Layer, Schema, Stream } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { CompactCodec, GossipConfig, GossipRpc, Membership, Topic, UdpTcpTransport } from "../src/index.ts"

/** A chat line; `Topic.make` gives it a name every member agrees on. */
const Chat = Topic.make("chat", Schema.Struct({ text: Schema.String }))

/** The failure `Greet` may answer with. */
class Unwelcome extends Schema.TaggedError<Unwelcome>()("Unwelcome", { name: Schema.String }) {}

/** A request/response protocol: one plain call, one that streams its answer. */
class Greeter extends RpcGroup.make(
  Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String, error: Unwelcome }),
  Rpc.make("Countdown", { payload: { from: Schema.Int }, success: Schema.Int, stream: true })
) {}

/** What each node answers. */
const greeterOn = (node: string) =>
  Greeter.toLayer({
    Greet: ({ name }) =>
      name === "mallory" ? Effect.fail(new Unwelcome({ name })) : Effect.succeed(`${node} says hello to ${name}`),
    Countdown: ({ from }) => Stream.range(0, from).pipe(Stream.map((i) => from - i))
  })

/** A node: the membership engine, serving `Greeter`; started in the current scope. */
const startNode = Effect.fnUntraced(function*(name: string) {
  const node = Membership.layer.pipe(
    Layer.provide(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 })),
    Layer.provide(CompactCodec.layer),
    // retransmitMult: each node passes a broadcast on retransmitMult × ceil(log10(members + 1))
    // times; the `local` preset's 2 now and then misses a member, 4 (the `lan` value) does not.
    Layer.provide(GossipConfig.layer({ name, profile: "local", retransmitMult: 4 }))
  )
  const layer = GossipRpc.layerServer(Greeter).pipe(Layer.provide(greeterOn(name)), Layer.provideMerge(node))
  return Context.get(yield* Layer.build(layer), Membership)
})

const program = Effect.gen(function*() {
  const nodes = { a: yield* startNode("a"), b: yield* startNode("b"), c: yield* startNode("c") }
  const seed = (yield* nodes.a.localMember).address
  yield* nodes.b.join([seed])
  yield* nodes.c.join([seed])
  // wait until every node knows all three (gossip), so that every member can reach every other
  for (const node of Object.values(nodes)) {
    yield* node.members.pipe(Stream.filter((ms) => ms.length === 3), Stream.runHead, Effect.timeout("5 seconds"))
  }
  /** Runs `effect` as node `name`: its Membership in context. */
  const as = (name: keyof typeof nodes) => Effect.provideService(Membership, nodes[name])

  // Subscriptions first: each is in place when `subscribe` returns.
  const expected = { a: 1, b: 1, c: 2 }
  const inboxes = yield* Effect.forEach(Object.entries(expected), ([name, count]) =>
    Topic.subscribe(Chat).pipe(
      as(name as keyof typeof nodes),
      Effect.flatMap((deliveries) =>
        deliveries.pipe(
          Stream.take(count),
          Stream.map((d) => `${name} got "${d.value.text.slice(0, 40)}" (${d.value.text.length} chars) from ${d.from}, ${d.kind}`),
          Stream.runCollect,
          Effect.forkScoped
        )
      )
    ))

  yield* Console.log("a publishes to everyone; b sends to c; c sends 3000 chars to a (too big for one datagram)")
  yield* Topic.publish(Chat, { text: "hello, everyone" }).pipe(as("a"))
  yield* Topic.send(Chat, "c", { text: "psst, c" }).pipe(as("b"))
  yield* Topic.send(Chat, "a", { text: "x".repeat(3000) }).pipe(as("c"))
  const lines = (yield* Fiber.joinAll(inboxes).pipe(Effect.timeout("5 seconds"))).flat().sort()
  for (const line of lines) yield* Console.log(`  ${line}`)

  // Request/response: a client for member "a", from node b.
  const greeter = yield* GossipRpc.client(Greeter, "a").pipe(as("b"))
  yield* Console.log(`b calls a: ${yield* greeter.Greet({ name: "b" })}`)
  const refused = yield* Effect.flip(greeter.Greet({ name: "mallory" }))
  yield* Console.log(`b calls a for mallory: ${refused._tag} (${refused._tag === "Unwelcome" ? refused.name : refused.message})`)
  const countdown = yield* greeter.Countdown({ from: 3 }).pipe(Stream.runCollect)
  yield* Console.log(`b streams a countdown from a: ${countdown.join(", ")}`)

  // Failures are typed errors, recovered here with catchTag.
  yield* Topic.send(Chat, "zed", { text: "anyone?" }).pipe(
    as("a"),
    Effect.catchTag("TopicError", (e) => Console.log(`a to zed: TopicError ${e.reason}`))
  )
  yield* Topic.publish(Chat, { text: "y".repeat(2000) }).pipe(
    as("a"),
    Effect.catchTag("TopicError", (e) => Console.log(`a publishes 2000 chars: TopicError ${e.reason}`))
  )
  yield* GossipRpc.client(Greeter, "zed").pipe(
    as("b"),
    Effect.catchTag("GossipRpcError", (e) => Console.log(`b calls zed: GossipRpcError ${e.reason}`))
  )
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
