/**
 * user-messages.ts: send your own messages through the cluster.
 *
 * Run it:  ./node_modules/.bin/node examples/user-messages.ts      (about 1 s)
 *
 * Three ways to send bytes, all on the sockets the membership protocol
 * already uses (real UDP/TCP on 127.0.0.1 here):
 *
 *   - `broadcast(payload)`: gossiped to every member, piggybacked on protocol
 *     packets and passed on by whoever receives it, so it reaches the members
 *     its sender never talks to. Small (it must fit in one gossip packet) and
 *     best effort (nothing repairs a member that missed it), but it needs no
 *     address.
 *   - `sendBestEffort(name, payload)`: one UDP datagram to one member. Cheap,
 *     may be lost.
 *   - `sendReliable(name, payload)`: one TCP stream to one member. Delivered
 *     or a `MessageError`.
 *
 * Every node consumes its `messages` stream in a fiber of its own. A
 * `UserMessage` carries the bytes, the address they came from and, for a
 * broadcast, the name of the member that broadcast it (`origin`). For a
 * direct message, `from` is the address of the socket it came from: the
 * sender's member address for a datagram, but an ephemeral port for a TCP
 * message. Put the sender's name in the payload when the receiver needs it.
 *
 * Sending fails with a typed `MessageError` (`reason`: "UnknownNode",
 * "TooLarge", "Transport", "Left"); the end of the program shows two.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Queue, Stream } from "effect"
import { CompactCodec, GossipConfig, Membership, UdpTcpTransport } from "../src/index.ts"
import type { MessageError, UserMessage } from "../src/index.ts"

const utf8 = new TextEncoder()
const text = new TextDecoder()

const startNode = Effect.fnUntraced(function*(name: string) {
  const layer = Membership.layer.pipe(
    Layer.provide(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 })),
    Layer.provide(CompactCodec.layer),
    // retransmitMult: each node passes a broadcast on retransmitMult × ceil(log10(members + 1))
    // times; the `local` preset's 2 now and then misses a member, 4 (the `lan` value) does not.
    Layer.provide(GossipConfig.layer({ name, profile: "local", retransmitMult: 4 }))
  )
  return Context.get(yield* Layer.build(layer), Membership)
})

const describe = (to: string, m: UserMessage) =>
  `${to} received "${text.decode(m.payload)}" from ${m.from}` +
  (m.origin === undefined ? " (sent directly)" : ` (a broadcast by ${m.origin})`)

const program = Effect.gen(function*() {
  const nodes = { a: yield* startNode("a"), b: yield* startNode("b"), c: yield* startNode("c") }
  const seed = (yield* nodes.a.localMember).address
  for (const [name, node] of Object.entries(nodes)) {
    yield* Console.log(`${name} is at ${(yield* node.localMember).address}`)
  }
  yield* nodes.b.join([seed])
  yield* nodes.c.join([seed])
  // wait until b and c know each other (gossip), so that every member can reach every other
  for (const node of [nodes.b, nodes.c]) {
    yield* node.members.pipe(Stream.filter((ms) => ms.length === 3), Stream.runHead, Effect.timeout("5 seconds"))
  }

  // One receiver fiber per node; each line also goes to `received` so we know when all arrived.
  const received = yield* Queue.unbounded<string>()
  for (const [name, node] of Object.entries(nodes)) {
    yield* node.messages.pipe(
      Stream.runForEach((m) => Queue.offer(received, describe(name, m))),
      Effect.forkScoped
    )
  }
  yield* Effect.yieldNow // let the receivers subscribe

  yield* Console.log("a broadcasts, b sends a datagram to c, c sends a TCP message to a")
  yield* nodes.a.broadcast(utf8.encode("hello, everyone"))
  yield* nodes.b.sendBestEffort("c", utf8.encode("psst, c (one UDP datagram)"))
  yield* nodes.c.sendReliable("a", utf8.encode("a, this one came over TCP"))

  // b and c get the broadcast (not a, its sender), c the datagram, a the TCP message: 4 in all.
  const lines = yield* Queue.take(received).pipe(Effect.replicateEffect(4), Effect.timeout("5 seconds"))
  for (const line of lines.sort()) yield* Console.log(`  ${line}`)

  // Failures are typed errors, here recovered with catchTag.
  const tryIt = (what: string, send: Effect.Effect<void, MessageError>) =>
    send.pipe(
      Effect.andThen(Console.log(`${what}: sent`)),
      Effect.catchTag("MessageError", (e) => Console.log(`${what}: MessageError ${e.reason}: ${e.message}`))
    )
  yield* tryIt("a to zed", nodes.a.sendReliable("zed", utf8.encode("anyone?")))
  yield* tryIt("a 2 kB broadcast", nodes.a.broadcast(new Uint8Array(2048)))
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
