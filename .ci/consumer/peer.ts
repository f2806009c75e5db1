/**
 * A program outside the library, built against the packed tarball: run it twice
 * (`node peer.ts a` and `node peer.ts b a <address of a>`). The two processes
 * read each other's typed metadata, exchange topic values (surviving a
 * malformed one injected on the topic), call an rpc on each other by member
 * name, and exit 0 when both are done.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Result, Schema, Stream } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { Gossip, GossipRpc, Membership, MemberMetadata, Topic } from "effect-gossip"

const [self = "a", peer = "b", seed] = process.argv.slice(2)

const Role = MemberMetadata.make("role", Schema.Struct({ role: Schema.String, pid: Schema.Int }))
const Chat = Topic.make("chat", Schema.Struct({ n: Schema.Int }))
const Done = Topic.make("done", Schema.Struct({ ok: Schema.Boolean }))
class Peer extends RpcGroup.make(Rpc.make("Whoami", { payload: { asker: Schema.String }, success: Schema.String })) {}

const node = GossipRpc.layerServer(Peer).pipe(
  Layer.provide(Peer.toLayer({ Whoami: ({ asker }) => Effect.succeed(`${self} answers ${asker}`) })),
  Layer.provideMerge(Role.layer({ role: `role-of-${self}`, pid: process.pid })),
  Layer.provideMerge(Gossip.layer({ name: self, bind: "127.0.0.1:0", profile: "local" }))
)

/** A topic frame whose value is not JSON: the receiver must count it and carry on. */
const malformed = (topic: string, sender: string) => {
  const t = new TextEncoder().encode(topic)
  const s = new TextEncoder().encode(sender)
  return Uint8Array.from([0xed, 0, t.length, ...t, s.length, ...s, ...new TextEncoder().encode("{oops")])
}

const program = Effect.gen(function*() {
  const membership = yield* Membership
  const meta = yield* Role
  yield* Console.log(`listening ${(yield* membership.localMember).address}`)
  const chat = yield* Topic.subscribe(Chat)
  const done = yield* Topic.subscribe(Done)
  if (seed !== undefined) yield* membership.join([seed])

  const peerMember = yield* meta.members.pipe(
    Stream.map((ms) => ms.find((m) => m.name === peer && m.state === "alive")),
    Stream.filter((m) => m !== undefined && Result.isSuccess(m.metadata)),
    Stream.runHead,
    Effect.timeout("10 seconds")
  )
  const role = peerMember._tag === "Some" && Result.isSuccess(peerMember.value!.metadata)
    ? peerMember.value!.metadata.success.role
    : "?"
  yield* Console.log(`metadata of ${peer}: ${role}`)

  // One value gossiped to everyone, a malformed one injected on the topic, one sent directly.
  yield* Topic.publish(Chat, { n: 1 })
  yield* membership.sendBestEffort(peer, malformed("chat", self))
  yield* Topic.send(Chat, peer, { n: 2 })
  const got = yield* chat.pipe(
    Stream.take(2),
    Stream.map((d) => `${d.value.n} from ${d.from} (${d.kind})`),
    Stream.runCollect,
    Effect.timeout("10 seconds")
  )
  yield* Console.log(`topic: ${[...got].sort().join(", ")}`)

  const client = yield* GossipRpc.client(Peer, peer)
  yield* Console.log(`rpc: ${yield* client.Whoami({ asker: self })}`)

  const stats = yield* membership.stats
  yield* Console.log(`malformed values dropped: ${stats.topics.byTopic["chat"]?.decodeErrors ?? 0}`)

  // Stay up until the peer is done with us too. Sent directly: it has gone out when `send`
  // returns, so exiting right after cannot lose it.
  yield* Topic.send(Done, peer, { ok: true })
  yield* done.pipe(Stream.take(1), Stream.runDrain, Effect.timeout("10 seconds"))
  yield* Console.log("done")
})

program.pipe(Effect.provide(node), Effect.scoped, NodeRuntime.runMain)

