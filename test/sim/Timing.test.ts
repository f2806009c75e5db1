/**
 * Exact protocol timing under TestClock: probe → indirect probe → suspicion →
 * death, Lifeguard confirmations and refutation, to the millisecond.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Random } from "effect"
import { TestClock } from "effect/testing"
import type { MemberEvent } from "../../src/MemberEvent.ts"
import * as Msg from "../../src/protocol/Messages.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { addressOf, firstEvent, type SimNode, startCluster, startNode } from "./cluster.ts"
import { codec, fakePeer } from "./fakes.ts"

const about = (name: string, tag: MemberEvent["_tag"]) => (e: MemberEvent) => e._tag === tag && e.member.name === name

/** `[time, seqNo]` of every message of `tag` that `node` sent to `to`. */
const sentSeqs = (node: SimNode, to: string, tag: "Ping" | "IndirectPing") =>
  node.sent
    .filter((s) => s.to === to)
    .flatMap((s) =>
      codec.decodePacket(s.bytes).messages.flatMap((m) =>
        m._tag === tag ? [[s.at, (m as Msg.Ping | Msg.IndirectPing).seqNo] as const] : []
      )
    )

describe("probe timing (3 nodes, LAN)", () => {
  it.effect("a silent node is suspected exactly one probe interval after the ping and dies exactly 4 s later", () =>
    Effect.gen(function*() {
      const network = yield* SimNetwork
      const nodes = yield* startCluster(3, {}, true)
      yield* TestClock.adjust("5 seconds")
      for (const n of nodes) assert.strictEqual(yield* n.membership.healthScore, 0)
      const victim = nodes[2]!
      yield* network.crash(victim.address)
      yield* TestClock.adjust("20 seconds")

      let checked = 0
      for (const node of nodes.slice(0, 2)) {
        const suspected = firstEvent(node, about(victim.name, "MemberSuspected"))!
        const failed = firstEvent(node, about(victim.name, "MemberFailed"))!
        assert.isDefined(suspected)
        assert.isDefined(failed)
        // n = 3: k = 0, so the timeout is min = 4 × max(1, log10 3) × 1 s, from the suspicion's start.
        if (failed.event._tag === "MemberFailed" && failed.event.from === node.name) {
          assert.strictEqual(failed.at, suspected.at + 4000)
        }
        if (suspected.event._tag === "MemberSuspected" && suspected.event.from === node.name) {
          // Our own probe: ping at t, indirect ping (same sequence number) at t + probeTimeout,
          // suspicion at t + probeInterval. Pings we relay for others carry other numbers.
          const other = nodes[1 - nodes.indexOf(node)]!
          const indirect = sentSeqs(node, other.address, "IndirectPing").filter(([at]) => at < suspected.at)
          const [indirectAt, seqNo] = indirect[indirect.length - 1]!
          const [pingAt] = sentSeqs(node, victim.address, "Ping").find(([, seq]) => seq === seqNo)!
          assert.strictEqual(indirectAt, pingAt + 500)
          assert.strictEqual(suspected.at, pingAt + 1000)
          checked++
        }
      }
      assert.isAtLeast(checked, 1)
      // Every live node ends with the victim dead.
      for (const node of nodes.slice(0, 2)) {
        const view = (yield* node.membership.currentMembers).find((m) => m.name === victim.name)
        assert.strictEqual(view?.state, "dead")
      }
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(7)))
})

describe("Lifeguard suspicion (10 members: min 4 s, max 24 s, k = 2)", () => {
  /** A real node `n` and nine scripted peers it knows; `x` is the last one. */
  const setup = Effect.gen(function*() {
    const node = yield* startNode("n", addressOf(0))
    const peers = []
    for (let i = 1; i <= 9; i++) peers.push(yield* fakePeer(`p${i}`, addressOf(i)))
    yield* peers[0]!.send(node.address, ...peers.map((p) => p.alive(1)))
    yield* TestClock.adjust("3 seconds")
    assert.strictEqual((yield* node.membership.currentMembers).filter((m) => m.state === "alive").length, 10)
    return { node, peers, x: peers[8]! }
  })

  const suspectX = (peers: ReadonlyArray<{ send: (to: string, ...m: Array<Msg.PacketMessage>) => Effect.Effect<void> }>, from: number, to: string) =>
    peers[from]!.send(to, Msg.suspect(1, "p9", `p${from + 1}`))

  const deathAt = (node: SimNode) => firstEvent(node, about("p9", "MemberFailed"))?.at

  /** Advances virtual time to exactly `t`. */
  const advanceTo = (t: number) => Effect.flatMap(Clock.currentTimeMillis, (now) => TestClock.adjust(t - now))

  /** p1's suspicion reaches `n` (1 ms link latency); returns when it started there. */
  const startSuspicion = (node: SimNode, peers: Parameters<typeof suspectX>[0]) =>
    Effect.gen(function*() {
      yield* suspectX(peers, 0, node.address)
      yield* TestClock.adjust(1)
      return firstEvent(node, about("p9", "MemberSuspected"))!.at
    })

  it.effect("no confirmation: dead exactly max = 24 s after the suspicion", () =>
    Effect.gen(function*() {
      const { node, peers } = yield* setup
      const start = yield* startSuspicion(node, peers)
      yield* advanceTo(start + 23_999)
      assert.isUndefined(deathAt(node))
      yield* advanceTo(start + 24_000)
      assert.strictEqual(deathAt(node), start + 24_000)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(1)))

  it.effect("one confirmation moves the deadline to max − ln 2 / ln 3 × (max − min) = 11.381 s", () =>
    Effect.gen(function*() {
      const { node, peers } = yield* setup
      const start = yield* startSuspicion(node, peers)
      yield* advanceTo(start + 2999)
      yield* suspectX(peers, 1, node.address) // arrives at start + 3000
      yield* suspectX(peers, 1, node.address) // the same confirmer counts once
      yield* advanceTo(start + 11_380)
      assert.isUndefined(deathAt(node))
      yield* advanceTo(start + 11_381)
      assert.strictEqual(deathAt(node), start + 11_381)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(2)))

  it.effect("two confirmations bring it down to min = 4 s", () =>
    Effect.gen(function*() {
      const { node, peers } = yield* setup
      const start = yield* startSuspicion(node, peers)
      yield* suspectX(peers, 1, node.address)
      yield* advanceTo(start + 1000)
      yield* suspectX(peers, 2, node.address)
      yield* advanceTo(start + 3999)
      assert.isUndefined(deathAt(node))
      yield* advanceTo(start + 4000)
      assert.strictEqual(deathAt(node), start + 4000)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(3)))

  it.effect("a refutation (newer alive) cancels the death", () =>
    Effect.gen(function*() {
      const { node, peers, x } = yield* setup
      yield* startSuspicion(node, peers)
      yield* TestClock.adjust(2000)
      yield* x.send(node.address, x.alive(2))
      yield* TestClock.adjust(1)
      assert.isDefined(firstEvent(node, about("p9", "MemberAlive")))
      yield* TestClock.adjust("60 seconds")
      assert.isUndefined(deathAt(node))
      const view = (yield* node.membership.currentMembers).find((m) => m.name === "p9")
      assert.deepInclude(view, { state: "alive", incarnation: 2 })
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(4)))
})

describe("refutation in a real cluster", () => {
  it.effect("a paused node is suspected, refutes when it wakes, and is never declared dead", () =>
    Effect.gen(function*() {
      const network = yield* SimNetwork
      const nodes = yield* startCluster(4)
      yield* TestClock.adjust("5 seconds")
      const slow = nodes[3]!
      yield* network.pause(slow.address, 2500)
      yield* TestClock.adjust("60 seconds")
      const others = nodes.slice(0, 3)
      assert.isTrue(others.some((n) => firstEvent(n, about(slow.name, "MemberSuspected")) !== undefined))
      for (const n of others) assert.isUndefined(firstEvent(n, about(slow.name, "MemberFailed")))
      assert.isAtLeast((yield* slow.membership.localMember).incarnation, 2)
      for (const n of others) {
        const view = (yield* n.membership.currentMembers).find((m) => m.name === slow.name)
        assert.strictEqual(view?.state, "alive")
      }
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(5)))
})
