/**
 * kv-store.ts: a tiny replicated key/value store on a typed topic, with
 * request/response for late joiners.
 *
 * Run it:  ./node_modules/.bin/node examples/kv-store.ts      (about 2 s)
 *
 * Every node keeps a full copy of the map. A `put` is applied locally and
 * published on the `kv.put` topic (`Topic.publish`: gossiped to every member);
 * every node applies the writes its subscription delivers, already decoded by
 * the topic's Schema. Conflicting writes to one key are settled
 * by "last writer wins" under a Lamport clock: each write carries the writer's
 * clock, a node's clock jumps past every clock it sees, and the write with the
 * higher (clock, writer name) wins everywhere. So a write made after seeing
 * another one always wins over it, and concurrent writes are ordered the same
 * way on every node: the replicas converge to the same map.
 *
 * Four nodes on real UDP/TCP on 127.0.0.1 make a few puts, two of them
 * concurrent on the same key. Then a fifth node joins: gossip only carries
 * what is written from now on, so it subscribes first and then pulls the whole
 * map from a member by name with an effect/rpc call (`GossipRpc.client`);
 * every node serves that call (`GossipRpc.layerServer`). Each node prints its
 * map, and the five are the same.
 *
 * (Gossip is best effort: a store for real would also repair replicas that
 * missed a write now and then, with the same `Snapshot` call.)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Option, Ref, Schema, Stream, SubscriptionRef } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { CompactCodec, GossipConfig, GossipRpc, Membership, Topic, UdpTcpTransport } from "../src/index.ts"
import type { MembershipShape } from "../src/index.ts"

/** One write, as it travels: a typed topic value (JSON on the wire, checked by the schema on arrival). */
const Put = Schema.Struct({ key: Schema.String, value: Schema.String, clock: Schema.Int, writer: Schema.String })
type Put = typeof Put.Type
const Puts = Topic.make("kv.put", Put)

/** What a replica answers a newcomer: every write it holds. */
class KvSync extends RpcGroup.make(
  Rpc.make("Snapshot", { success: Schema.Array(Put) })
) {}

/** Whether `a` wins over `b`: the higher Lamport clock, then the higher writer name. */
const wins = (a: Put, b: Put | undefined) =>
  b === undefined || a.clock > b.clock || (a.clock === b.clock && a.writer > b.writer)

type Entries = ReadonlyMap<string, Put>

/**
 * A replica of the store on `membership`; its replication fiber lives in the current scope.
 * Subscribed before anything else, so a newcomer's snapshot and later writes overlap
 * rather than leave a gap; applying a write twice changes nothing.
 */
const makeStore = Effect.fnUntraced(function*(name: string, membership: MembershipShape) {
  const entries = yield* SubscriptionRef.make<Entries>(new Map())
  const clock = yield* Ref.make(0)
  const provide = Effect.provideService(Membership, membership)

  const apply = (put: Put) =>
    Ref.update(clock, (c) => Math.max(c, put.clock)).pipe(
      Effect.andThen(SubscriptionRef.update(entries, (map) => wins(put, map.get(put.key)) ? new Map(map).set(put.key, put) : map))
    )

  // Replication: apply every write another node published, and move the clock past it.
  const writes = yield* Topic.subscribe(Puts).pipe(provide)
  yield* writes.pipe(Stream.runForEach((d) => apply(d.value)), Effect.forkScoped)

  const put = Effect.fn("KvStore.put")(function*(key: string, value: string) {
    const write: Put = { key, value, clock: yield* Ref.updateAndGet(clock, (c) => c + 1), writer: name }
    yield* apply(write)
    yield* Topic.publish(Puts, write).pipe(provide)
  })

  /** Pulls the whole map from `member` (a newcomer catching up). */
  const pullFrom = Effect.fn("KvStore.pullFrom")(function*(member: string) {
    const sync = yield* GossipRpc.client(KvSync, member).pipe(provide)
    const snapshot = yield* sync.Snapshot()
    yield* Effect.forEach(snapshot, apply, { discard: true })
    return snapshot.length
  })

  /** Serves `Snapshot` on this node. */
  const serve = GossipRpc.serve(KvSync).pipe(
    Effect.provide(KvSync.toLayer({ Snapshot: () => Effect.map(SubscriptionRef.get(entries), (map) => [...map.values()]) })),
    provide
  )

  return { name, put, pullFrom, serve, changes: SubscriptionRef.changes(entries) }
})

/** The map as text, sorted by key; each value with the writer and clock that won. */
const show = (map: Entries) => {
  const puts = [...map.values()].sort((a, b) => a.key.localeCompare(b.key))
  return `{ ${puts.map((p) => `${p.key}=${p.value} (${p.writer}@${p.clock})`).join(", ")} }`
}

const startNode = Effect.fnUntraced(function*(name: string) {
  const layer = Membership.layer.pipe(
    Layer.provide(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 })),
    Layer.provide(CompactCodec.layer),
    // Each broadcast is sent retransmitMult × ceil(log10(members + 1)) times by every node that
    // receives it. The `local` preset's 2 lets about one broadcast in five miss a member of a
    // 4-node cluster; 4 (the `lan` value) reaches them all.
    Layer.provide(GossipConfig.layer({ name, profile: "local", retransmitMult: 4 }))
  )
  return Context.get(yield* Layer.build(layer), Membership)
})

const program = Effect.gen(function*() {
  const names = ["n1", "n2", "n3", "n4"]
  const nodes = yield* Effect.forEach(names, startNode)
  const seed = (yield* nodes[0]!.localMember).address
  for (const node of nodes.slice(1)) yield* node.join([seed])
  yield* Effect.forEach(nodes, (node) =>
    node.members.pipe(Stream.filter((ms) => ms.length === nodes.length), Stream.runHead, Effect.timeout("5 seconds")))
  const [s1, s2, s3, s4] = yield* Effect.forEach(nodes, (node, i) => makeStore(names[i]!, node))
  for (const store of [s1!, s2!, s3!, s4!]) yield* store.serve

  yield* Console.log("n1: color=red, n2: size=L")
  yield* s1!.put("color", "red")
  yield* s2!.put("size", "L")
  yield* Effect.sleep("500 millis")
  yield* Console.log("n3, having seen color=red: color=blue (a later write wins)")
  yield* s3!.put("color", "blue")
  yield* Effect.sleep("500 millis")
  yield* Console.log("n1 and n4 at the same moment: owner=alice, owner=bob (same clock: the higher writer name wins)")
  yield* Effect.all([s1!.put("owner", "alice"), s4!.put("owner", "bob")], { concurrency: "unbounded" })
  yield* Console.log("n2: size=XL")
  yield* s2!.put("size", "XL")

  // Wait until the four replicas hold the same map.
  type Store = Effect.Success<ReturnType<typeof makeStore>>
  const agree = (stores: ReadonlyArray<Store>) =>
    Stream.zipLatestAll(...stores.map((s) => s.changes)).pipe(
      Stream.map((maps) => maps.map(show)),
      Stream.filter((shown) => shown.every((m) => m === shown[0]) && shown[0]!.includes("size=XL ")),
      Stream.runHead,
      Effect.timeout("10 seconds"),
      Effect.map(Option.getOrElse((): ReadonlyArray<string> => []))
    )
  yield* agree([s1!, s2!, s3!, s4!])

  // A latecomer: it joins, subscribes (in makeStore), then pulls the map from n2 by name.
  const n5 = yield* startNode("n5")
  yield* n5.join([seed])
  const s5 = yield* makeStore("n5", n5)
  yield* s5.serve
  const pulled = yield* s5.pullFrom("n2")
  yield* Console.log(`n5 joined late and pulled ${pulled} entries from n2 with an rpc call`)

  const stores = [s1!, s2!, s3!, s4!, s5]
  const maps = yield* agree(stores)
  yield* Effect.forEach(stores, (store, i) => Console.log(`${store.name}: ${maps[i]}`))
  yield* Console.log(`all ${stores.length} replicas are identical: ${maps[0]}`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
