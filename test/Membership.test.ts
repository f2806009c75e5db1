/**
 * The public surface of `Membership` on a simulated network.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Random, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { CompactCodec } from "../src/codec/CompactCodec.ts"
import { GossipConfig } from "../src/Config.ts"
import { Membership } from "../src/Membership.ts"
import { SimNetwork } from "../src/transport/SimNetwork.ts"
import { addressOf, settle, startCluster, startNode, stopNode } from "./sim/cluster.ts"
import { codec } from "./sim/fakes.ts"

const text = (s: string) => new TextEncoder().encode(s)
const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope>, seed = 1) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

describe("members and events", () => {
  it.effect("members: the current table first, then the table after each change", () =>
    sim(Effect.gen(function*() {
      const a = yield* startNode("a", addressOf(0))
      const b = yield* startNode("b", addressOf(1))
      const seen = yield* a.membership.members.pipe(
        Stream.map((ms) => ms.map((m) => `${m.name}:${m.state}`).join(",")),
        Stream.take(2),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* settle(b.membership.join([a.address]))
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(yield* Fiber.join(seen), ["a:alive", "a:alive,b:alive"])
      assert.strictEqual(yield* a.membership.numMembers, 2)
      assert.strictEqual((yield* a.membership.localMember).name, "a")
      const joined = a.events.find((e) => e.event._tag === "MemberJoined" && e.event.member.name === "b")
      assert.isDefined(joined)
    })))

  it.effect("Membership.members and .events are also available as streams from context", () =>
    Effect.gen(function*() {
      const first = yield* Membership.members.pipe(Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(first[0]!.map((m) => m.name), ["solo"])
      const events = yield* Membership.events.pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      const membership = yield* Membership
      yield* membership.updateMetadata(text("x"))
      assert.strictEqual((yield* Fiber.join(events))[0]!._tag, "MemberUpdated")
    }).pipe(
      Effect.provide(
        Membership.layer.pipe(
          Layer.provide(SimNetwork.transport(addressOf(0))),
          Layer.provide(CompactCodec.layer),
          Layer.provide(GossipConfig.layer({ name: "solo" })),
          Layer.provide(SimNetwork.layer())
        )
      ),
      Random.withSeed(3)
    ))
})

describe("metadata", () => {
  it.effect("updateMetadata bumps the incarnation and every member sees the update", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(5, { meta: text("role=web") })
      yield* TestClock.adjust("5 seconds")
      const before = yield* nodes[2]!.membership.localMember
      yield* settle(nodes[2]!.membership.updateMetadata(text("role=db")))
      yield* TestClock.adjust("2 seconds")
      for (const n of nodes) {
        const view = (yield* n.membership.currentMembers).find((m) => m.name === "node-2")!
        assert.strictEqual(new TextDecoder().decode(view.meta), "role=db")
        assert.strictEqual(view.incarnation, before.incarnation + 1)
      }
      assert.isTrue(nodes[0]!.events.some((e) => e.event._tag === "MemberUpdated" && e.event.member.name === "node-2"))
      const tooLarge = yield* Effect.flip(nodes[0]!.membership.updateMetadata(new Uint8Array(513)))
      assert.deepInclude(tooLarge, { _tag: "MetadataTooLargeError", size: 513, limit: 512 })
    })))
})

describe("join", () => {
  it.effect("fails with a typed error when no seed answers, and counts the ones that did", () =>
    sim(Effect.gen(function*() {
      const a = yield* startNode("a", addressOf(0))
      const b = yield* startNode("b", addressOf(1))
      const none = yield* Effect.flip(settle(a.membership.join([addressOf(9), "not-an-address"])))
      assert.strictEqual(none._tag, "JoinError")
      assert.lengthOf(none._tag === "JoinError" ? none.errors : [], 2)
      assert.strictEqual((yield* Effect.flip(a.membership.join([])))._tag, "JoinError")
      assert.strictEqual(yield* settle(a.membership.join([addressOf(9), b.address])), 1)
    })))

  it.effect("refuses a peer with incompatible delegate versions on both sides", () =>
    sim(Effect.gen(function*() {
      const a = yield* startNode("a", addressOf(0), { delegateProtocolMin: 2, delegateProtocolMax: 5, delegateProtocolVersion: 5 })
      const b = yield* startNode("b", addressOf(1))
      const error = yield* Effect.flip(settle(b.membership.join([a.address])))
      assert.match(error.message, /incompatible/)
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual((yield* a.membership.currentMembers).map((m) => m.name), ["a"])
      assert.deepStrictEqual((yield* b.membership.currentMembers).map((m) => m.name), ["b"])
    })))
})

describe("application messages", () => {
  it.effect("broadcast reaches every member; best-effort and reliable sends reach one", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(6)
      yield* TestClock.adjust("3 seconds")
      const inboxes = yield* Effect.forEach(nodes, (n) =>
        n.membership.messages.pipe(
          Stream.map((m) => new TextDecoder().decode(m.payload)),
          Stream.take(1),
          Stream.runCollect,
          Effect.forkChild
        ))
      yield* Effect.yieldNow
      yield* nodes[0]!.membership.broadcast(text("hello all"))
      yield* TestClock.adjust("3 seconds")
      for (const inbox of inboxes.slice(1)) assert.deepStrictEqual(yield* Fiber.join(inbox), ["hello all"])
      // The origin does not hear its own broadcast back.
      assert.isUndefined(inboxes[0]!.pollUnsafe())

      const direct = yield* nodes[4]!.membership.messages.pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      yield* nodes[1]!.membership.sendBestEffort("node-4", text("udp"))
      yield* settle(nodes[2]!.membership.sendReliable("node-4", text("tcp")))
      yield* TestClock.adjust(100)
      const got = (yield* Fiber.join(direct)).map((m) => new TextDecoder().decode(m.payload)).sort()
      assert.deepStrictEqual(got, ["tcp", "udp"])
    })))

  it.effect("send picks a datagram for small messages and a stream for large ones", () =>
    sim(Effect.gen(function*() {
      const network = yield* SimNetwork
      const nodes = yield* startCluster(2)
      yield* TestClock.adjust("2 seconds")
      const inbox = yield* nodes[1]!.membership.messages.pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      const streamsBefore = (yield* network.stats(nodes[0]!.address)).streamsOpened
      yield* nodes[0]!.membership.send("node-1", new Uint8Array(100).fill(1))
      assert.strictEqual((yield* network.stats(nodes[0]!.address)).streamsOpened, streamsBefore)
      yield* settle(nodes[0]!.membership.send("node-1", new Uint8Array(5000).fill(2)))
      assert.strictEqual((yield* network.stats(nodes[0]!.address)).streamsOpened, streamsBefore + 1)
      yield* TestClock.adjust(100)
      assert.deepStrictEqual((yield* Fiber.join(inbox)).map((m) => m.payload.length).sort(), [100, 5000])
    })))

  it.effect("typed errors for unknown members and oversized messages", () =>
    sim(Effect.gen(function*() {
      const a = yield* startNode("a", addressOf(0))
      const unknown = yield* Effect.flip(a.membership.sendBestEffort("nobody", text("x")))
      assert.strictEqual(unknown.reason, "UnknownNode")
      const big = yield* Effect.flip(a.membership.broadcast(new Uint8Array(2000)))
      assert.strictEqual(big.reason, "TooLarge")
      const huge = yield* Effect.flip(a.membership.sendBestEffort("a", new Uint8Array(70_000)))
      assert.strictEqual(huge.reason, "TooLarge")
    })))
})

describe("bad input", () => {
  it.effect("garbage, truncated and oversized packets are counted decode errors and change nothing", () =>
    sim(Effect.gen(function*() {
      const network = yield* SimNetwork
      const nodes = yield* startCluster(3)
      yield* TestClock.adjust("3 seconds")
      const target = nodes[0]!
      const before = yield* target.membership.currentMembers
      const attacker = yield* network.bind("10.9.9.9:7946")
      const alive = codec.encodeMessage({
        _tag: "Alive",
        incarnation: 99,
        node: "intruder",
        addr: Uint8Array.of(10, 9, 9, 9),
        port: 7946,
        meta: null,
        vsn: Uint8Array.of(1, 5, 2, 0, 0, 0)
      })
      const rng = Random.nextIntBetween(0, 255)
      const garbage: Array<Uint8Array> = [
        new Uint8Array(0),
        Uint8Array.of(0xff, 0x00, 0x13),
        alive.subarray(0, alive.length - 3), // truncated
        Uint8Array.of(7, 3, 0, 200, 0, 1), // compound whose part runs past the end
        Uint8Array.of(4, ...new Array(60_000).fill(0xee)) // oversized garbage
      ]
      for (let i = 0; i < 200; i++) {
        const bytes = new Uint8Array(1 + (i % 40))
        for (let j = 0; j < bytes.length; j++) bytes[j] = yield* rng
        garbage.push(bytes)
      }
      for (const bytes of garbage) yield* Effect.ignore(attacker.sendPacket(target.address, bytes))
      yield* TestClock.adjust("3 seconds")
      const stats = yield* target.membership.stats
      assert.isAtLeast(stats.decodeErrors, 5)
      assert.strictEqual(stats.internalErrors, 0)
      const after = yield* target.membership.currentMembers
      assert.deepStrictEqual(after.map((m) => [m.name, m.state, m.incarnation]), before.map((m) => [m.name, m.state, m.incarnation]))
      // Still a healthy member of its cluster.
      yield* TestClock.adjust("20 seconds")
      for (const n of nodes) {
        const view = (yield* n.membership.currentMembers).find((m) => m.name === target.name)
        assert.strictEqual(view?.state, "alive")
      }
    })))
})

describe("lifecycle", () => {
  it.effect("closing a node's scope stops it: its address is released and the others see it fail", () =>
    sim(Effect.gen(function*() {
      const network = yield* SimNetwork
      const nodes = yield* startCluster(4)
      yield* TestClock.adjust("3 seconds")
      yield* stopNode(nodes[3]!)
      const rebound = yield* Effect.exit(Effect.scoped(network.bind(nodes[3]!.address)))
      assert.isTrue(Exit.isSuccess(rebound))
      yield* TestClock.adjust("30 seconds")
      for (const n of nodes.slice(0, 3)) {
        const view = (yield* n.membership.currentMembers).find((m) => m.name === "node-3")
        assert.strictEqual(view?.state, "dead")
      }
    })))

  it.effect("a bad configuration is a typed error when the layer is built", () =>
    Effect.gen(function*() {
      const build = (input: Parameters<typeof GossipConfig.layer>[0]) =>
        Effect.flip(Effect.scoped(Layer.build(GossipConfig.layer(input))))
      assert.deepInclude(yield* build({ name: "x", probeTimeout: 5000 }), { _tag: "GossipConfigError", field: "probeTimeout" })
      assert.deepInclude(yield* build({ name: "x", gossipNodes: -1 }), { field: "gossipNodes" })
      assert.deepInclude(yield* build({ name: "" }), { field: "name" })
      assert.deepInclude(yield* build({ name: "x", probeInterval: "soon" as never }), { field: "probeInterval" })
      assert.deepInclude(yield* build({ name: "x", profile: "lan2" as never }), { field: "profile" })
      assert.deepInclude(yield* build({ name: "x", meta: new Uint8Array(600) }), { field: "meta" })
      assert.deepInclude(
        yield* build({ name: "x", delegateProtocolMin: 3, delegateProtocolMax: 5, delegateProtocolVersion: 2 }),
        { field: "delegateProtocolVersion" }
      )
      const ok = yield* Effect.scoped(Layer.build(GossipConfig.layer({ name: "x", profile: "wan", probeInterval: "6 seconds" })))
      const values = ok.mapUnsafe.get(GossipConfig.key) as GossipConfig["Service"]
      assert.deepInclude(values, { probeInterval: 6000, probeTimeout: 3000, suspicionMult: 6, gossipNodes: 4 })
    }))
})

describe("metrics", () => {
  it.effect("counters and gauges are published as Effect metrics labelled with the node", () =>
    sim(Effect.gen(function*() {
      yield* startCluster(3)
      yield* TestClock.adjust("5 seconds")
      const snapshots = yield* Metric.snapshot
      const find = (id: string, node: string) =>
        snapshots.find((s) => s.id === id && (s.attributes as Record<string, string> | undefined)?.["node"] === node)
      const received = find("gossip_packets_received", "node-1")
      assert.isDefined(received)
      assert.isAbove((received!.state as { count: number }).count, 0)
      assert.strictEqual((find("gossip_members", "node-2")!.state as { value: number }).value, 3)
      // three members: the table's columns hold a few hundred bytes, and the queue has drained
      const tableBytes = (find("gossip_member_table_bytes", "node-2")!.state as { value: number }).value
      assert.isAbove(tableBytes, 0)
      assert.isBelow(tableBytes, 1024)
      assert.isDefined(find("gossip_broadcast_queue_bytes", "node-2"))
    })).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})
