/**
 * Whole clusters on the WebSocket transport over simulated links, in virtual
 * time: failure detection keeps SWIM's timing exactly, encryption and labels
 * work unchanged, large push/pulls and rpc over channels flow.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Random, Scope, Stream } from "effect"
import type { Scope as ScopeType } from "effect"
import { TestClock } from "effect/testing"
import { makeMemberlistCodec } from "../../../src/codec/MemberlistCodec.ts"
import * as Msg from "../../../src/protocol/Messages.ts"
import { Keyring } from "../../../src/security/Keyring.ts"
import { SimNetwork } from "../../../src/transport/SimNetwork.ts"
import { makeCompactCodec } from "../../../src/codec/CompactCodec.ts"
import { clientOn, serveOn, statsOf } from "../../rpc/fixtures.ts"
import { addressOf, firstEvent, type Kind, type Node, settle, startCluster, startNode, tableOf } from "./simCluster.ts"

const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | ScopeType.Scope>, seed = 7) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

const codec = makeCompactCodec()

/** `[time, seqNo]` of every message of `tag` that `node` sent to `to`. */
const sentSeqs = (node: Node, to: string, tag: "Ping" | "IndirectPing") =>
  node.sent.filter((s) => s.to === to).flatMap((s) =>
    codec.decodePacket(s.bytes).messages.flatMap((m) =>
      m._tag === tag ? [[s.at, (m as Msg.Ping | Msg.IndirectPing).seqNo] as const] : []
    )
  )

/** 3 nodes; the last one stops answering 5 s in. When each survivor suspects it and declares it dead, from the crash. */
const silentPeer = (kind: Kind) =>
  sim(Effect.gen(function*() {
    const network = yield* SimNetwork
    const nodes = yield* startCluster(kind, 3)
    yield* TestClock.adjust("5 seconds")
    const victim = nodes[2]!
    const crashedAt = yield* Clock.currentTimeMillis
    yield* network.crash(victim.address)
    yield* TestClock.adjust("20 seconds")
    return nodes.slice(0, 2).map((node) => {
      const suspected = firstEvent(node, victim.name, "MemberSuspected")!
      const failed = firstEvent(node, victim.name, "MemberFailed")!
      const ownProbe = suspected.event._tag === "MemberSuspected" && suspected.event.from === node.name
      // our own probe: ping at t, indirect ping (same sequence number) through the other node, suspicion
      const other = nodes[1 - nodes.indexOf(node)]!
      const [, seqNo] = sentSeqs(node, other.address, "IndirectPing").filter(([at]) => at < suspected.at).at(-1) ?? []
      const ping = sentSeqs(node, victim.address, "Ping").find(([, seq]) => seq === seqNo)
      return {
        suspected: suspected.at - crashedAt,
        failed: failed.at - crashedAt,
        sinceOwnPing: ownProbe && ping !== undefined ? suspected.at - ping[0] : undefined,
        datagrams: node.sent.length
      }
    })
  }))

describe("WebSocket clusters in virtual time", () => {
  it.effect("a WebSocket peer that stops answering is suspected, and declared dead, at exactly the instants a UDP peer is", () =>
    Effect.gen(function*() {
      const udp = yield* silentPeer("udp")
      const ws = yield* silentPeer("ws")
      assert.deepStrictEqual(ws, udp)
      // SWIM's own timing: suspected one probe interval after the unanswered ping, dead 4 s later (n = 3)
      assert.isTrue(ws.some((n) => n.sinceOwnPing === 1000))
      for (const n of ws) assert.strictEqual(n.failed - n.suspected, 4000)
    }))

  it.effect("5 nodes with AES-256 keys: join, a crash is detected, a leave is seen; a node with another key stays out", () =>
    sim(Effect.gen(function*() {
      const key = Uint8Array.from({ length: 32 }, (_, i) => i)
      const other = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
      const sealed = (k: Uint8Array) => ({ codec: makeMemberlistCodec({ keyring: Keyring.makeUnsafe([k]), label: "ws-lab" }) })
      const nodes: Array<Node> = []
      for (let i = 0; i < 5; i++) nodes.push(yield* startNode("ws", `node-${i}`, addressOf(i), sealed(key)))
      for (let i = 1; i < 5; i++) yield* settle(nodes[i]!.membership.join([nodes[0]!.address]))
      yield* TestClock.adjust("3 seconds")
      const all = nodes.map((n) => `${n.name}=alive`).sort()
      for (const n of nodes) assert.deepStrictEqual(yield* tableOf(n), all)

      const outsider = yield* startNode("ws", "outsider", addressOf(9), sealed(other))
      const refused = yield* settle(Effect.flip(outsider.membership.join([nodes[0]!.address])))
      assert.strictEqual(refused._tag, "JoinError")

      yield* (yield* SimNetwork).crash(nodes[4]!.address)
      yield* TestClock.adjust("15 seconds")
      for (const n of nodes.slice(0, 4)) assert.include(yield* tableOf(n), "node-4=dead")

      yield* settle(nodes[3]!.membership.leave)
      yield* Scope.close(nodes[3]!.scope, Exit.void)
      yield* TestClock.adjust("2 seconds")
      for (const n of nodes.slice(0, 3)) {
        assert.deepStrictEqual(yield* tableOf(n), ["node-0=alive", "node-1=alive", "node-2=alive", "node-3=left", "node-4=dead"])
      }
      for (const n of nodes.slice(0, 3)) assert.strictEqual((yield* n.membership.stats).decodeErrors, 0)
    })))

  it.effect("a leave waiting on a connection still being dialed is written before leave returns", () =>
    sim(Effect.gen(function*() {
      const network = yield* SimNetwork
      const [a, b] = yield* startCluster("ws", 2)
      yield* TestClock.adjust("3 seconds")
      // a's connection to b is cut, and dialing b again takes 1.5 s: longer than the leave's
      // four transmissions take to be handed over (two gossip rounds)
      yield* network.partition([a!.address], [b!.address])
      yield* network.heal()
      yield* network.setLink(a!.address, b!.address, { latency: 1500 })
      const started = yield* Clock.currentTimeMillis
      yield* settle(a!.membership.leave)
      assert.isAtLeast((yield* Clock.currentTimeMillis) - started, 1500)
      yield* settle(Scope.close(a!.scope, Exit.void))
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* tableOf(b!), ["node-0=left", "node-1=alive"])
    })))

  it.effect("a push/pull larger than 64 KiB (100 members, long names, 480-byte metadata) completes a join", () =>
    sim(Effect.gen(function*() {
      // uncompressed, so the answer is as large as the table
      const name = (i: number) => `member-${i}-${"x".repeat(200)}`
      const options = (_: number) => ({
        config: { meta: new Uint8Array(480).fill(0x61), profile: "local" as const },
        codec: makeMemberlistCodec({ compression: false })
      })
      const nodes: Array<Node> = []
      for (let i = 0; i < 100; i++) nodes.push(yield* startNode("ws", name(i), addressOf(i), options(i)))
      const joins = yield* Effect.forEach(nodes.slice(1), (n) => Effect.forkChild(n.membership.join([nodes[0]!.address])))
      yield* TestClock.adjust(50)
      yield* Effect.forEach(joins, Fiber.join, { discard: true })
      const late = yield* startNode("ws", "late", addressOf(200), options(200))
      const before = (yield* nodes[0]!.ws!.stats).bytesSent
      yield* settle(late.membership.join([nodes[0]!.address]))
      // the whole table came in the seed's one push/pull answer
      assert.isAbove((yield* nodes[0]!.ws!.stats).bytesSent - before, 64 * 1024)
      const table = yield* late.membership.currentMembers
      assert.strictEqual(table.filter((m) => m.state === "alive").length, 101)
    })))

  it.effect("effect/rpc rides a channel over the WebSocket transport: calls, a stream, a 200 kB message", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster("ws", 2, { config: { profile: "local" } })
      yield* TestClock.adjust("2 seconds")
      yield* serveOn(b!)
      const client = yield* settle(clientOn(a!, "node-1"))
      assert.strictEqual(yield* settle(client.Get({ key: "a" })), "node-1:a")
      assert.deepStrictEqual(yield* settle(Stream.runCollect(client.Count({ to: 25 }))), Array.from({ length: 25 }, (_, i) => i + 1))
      const bytes = new Uint8Array(200_000).map((_, i) => i * 7)
      assert.deepStrictEqual(yield* settle(client.Echo({ bytes })), bytes)
      assert.deepInclude(yield* statsOf(a!), { connectionsOpened: 1, connectionsLost: 0, callsLost: 0 })
    })))
})
