/**
 * GossipRpc between two nodes on real loopback sockets with the memberlist
 * codec and AES keys: one call each way, bounded by deadlines.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Scope, Stream } from "effect"
import { Gossip } from "../../src/Gossip.ts"
import { Membership } from "../../src/Membership.ts"
import { GossipRpc } from "../../src/rpc/GossipRpc.ts"
import { UdpTcpTransport } from "../../src/transport/UdpTcpTransport.ts"
import { Store, StoreLive } from "./fixtures.ts"

const KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/** A node on 127.0.0.1 (OS-chosen port) serving `Store` through `layerServer`, alive until `scope` closes. */
const start = (scope: Scope.Scope, name: string) =>
  Effect.gen(function*() {
    const node = Gossip.layer({ name, profile: "local", bind: "127.0.0.1:0", encryptionKeys: [KEY] })
    const context = yield* Layer.buildWithScope(
      GossipRpc.layerServer(Store).pipe(Layer.provide(StoreLive(name)), Layer.provideMerge(node)),
      scope
    )
    const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
    const transport = context.mapUnsafe.get(UdpTcpTransport.key) as UdpTcpTransport["Service"]
    return { membership, address: `127.0.0.1:${transport.port}` }
  })

/** Polls until both see each other alive; fails after the deadline. */
const waitAlive = (nodes: ReadonlyArray<Membership["Service"]>) =>
  Effect.gen(function*() {
    while (true) {
      const tables = yield* Effect.forEach(nodes, (m) => m.currentMembers)
      if (tables.every((t) => t.length === nodes.length && t.every((m) => m.state === "alive"))) return
      yield* Effect.sleep(20)
    }
  }).pipe(Effect.timeout("10 seconds"))

describe("GossipRpc on loopback", () => {
  it.live("a call each way over TCP, encrypted with the cluster key", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const a = yield* start(scope, "a")
      const b = yield* start(scope, "b")
      yield* b.membership.join([a.address])
      yield* waitAlive([a.membership, b.membership])

      const toB = yield* GossipRpc.client(Store, "b").pipe(Effect.provideService(Membership, a.membership))
      const toA = yield* GossipRpc.client(Store, "a").pipe(Effect.provideService(Membership, b.membership))
      assert.strictEqual(yield* toB.Get({ key: "a" }).pipe(Effect.timeout("5 seconds")), "b:a")
      assert.strictEqual(yield* toA.Get({ key: "a" }).pipe(Effect.timeout("5 seconds")), "a:a")
      const missing = yield* Effect.flip(toA.Get({ key: "x" })).pipe(Effect.timeout("5 seconds"))
      assert.deepInclude(missing, { _tag: "NotFound", key: "x" })
      const counted = yield* Stream.runCollect(toB.Count({ to: 5 })).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(counted, [1, 2, 3, 4, 5])
      const stats = yield* GossipRpc.stats.pipe(Effect.provideService(Membership, b.membership))
      assert.deepInclude(stats, { connectionsOpened: 1, connectionsServed: 1, callsLost: 0 })
    })), 30_000)
})
