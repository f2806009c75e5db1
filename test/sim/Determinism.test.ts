/**
 * A seeded run is a function of its seed: 1,000 nodes joining one seed, with
 * one timer wheel and one member directory for the whole network, publish the
 * same events at the same virtual instants every time. Each node's event log is
 * hashed, and the hashes of two runs must match.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Random, Scope } from "effect"
import { TestClock } from "effect/testing"
import { CompactCodec } from "../../src/codec/CompactCodec.ts"
import { SharedDirectory } from "../../src/runtime/SharedDirectory.ts"
import { Timers } from "../../src/runtime/Timers.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import type { SimNode } from "./cluster.ts"
import { addressOf, startNode } from "./cluster.ts"

/** FNV-1a over the text of each event, one running hash per node. */
const fnv = (hash: number, text: string): number => {
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0
  return hash
}

const eventLine = (at: number, e: SimNode["events"][number]["event"]): string => {
  const m = e.member
  return `${at}|${e._tag}|${m.name}|${m.incarnation}|${m.state}|${m.address}|${"from" in e ? e.from : ""};`
}

interface RunSummary {
  readonly hash: string
  readonly events: number
  readonly alive: number
}

/**
 * n nodes, node i joining node-0 at t = i ms, for `virtualMs`; the hash of every node's event log.
 * `inMemory`: datagrams shared with their receivers, who read the messages their senders encoded
 * (as `bench/sim.ts` runs), instead of a copy per receiver decoded by each.
 */
const run = (n: number, virtualMs: number, seed: number, inMemory = true) =>
  Effect.gen(function*() {
    const nodes: Array<SimNode> = []
    const codec = inMemory ? CompactCodec.layerInMemory : CompactCodec.layer
    for (let i = 0; i < n; i++) nodes.push(yield* startNode(`node-${i}`, addressOf(i), {}, false, { codec }))
    const joins = yield* Scope.make()
    for (let i = 1; i < n; i++) {
      yield* Effect.sleep(i).pipe(
        Effect.andThen(Effect.ignore(nodes[i]!.membership.join([nodes[0]!.address]))),
        Effect.forkIn(joins)
      )
    }
    for (let t = 0; t < virtualMs; t += 250) yield* TestClock.adjust(250)
    let hash = 2166136261
    let events = 0
    for (const node of nodes) {
      hash = fnv(hash, `#${node.name}`)
      for (const { at, event } of node.events) hash = fnv(hash, eventLine(at, event))
      events += node.events.length
    }
    const last = yield* nodes[n - 1]!.membership.currentMembers
    yield* Scope.close(joins, Exit.void)
    for (const node of nodes) yield* Scope.close(node.scope, Exit.void)
    return { hash: hash.toString(16).padStart(8, "0"), events, alive: last.filter((m) => m.state === "alive").length }
  }).pipe(
    Effect.provide(SimNetwork.layer({ shareBytes: inMemory })),
    Effect.provide(Layer.mergeAll(Timers.layer, SharedDirectory.layer)),
    // One instant of a 1,000-node join storm can keep the woken fibers busy for seconds of real
    // time; the clock must wait for them however long that takes, or the run depends on the machine.
    Effect.provide(TestClock.layer({ warningDelay: "10 minutes" })),
    Random.withSeed(seed)
  )

describe("determinism", () => {
  it.effect("1,000 nodes: the same seed gives the same event log, event for event and instant for instant", () =>
    Effect.gen(function*() {
      const first: RunSummary = yield* run(1_000, 2_000, 7)
      const second: RunSummary = yield* run(1_000, 2_000, 7)
      // a real log: the joins end at 1 s, and every node has heard of most of the cluster by 2 s
      assert.isAbove(first.events, 500_000)
      assert.isAbove(first.alive, 900)
      assert.deepStrictEqual(second, first)
    }), 240_000)

  it.effect("the hash depends on the seed (a different seed orders the joins' gossip differently)", () =>
    Effect.gen(function*() {
      const a = yield* run(100, 2_000, 7)
      const b = yield* run(100, 2_000, 8)
      assert.strictEqual(a.alive, 100)
      assert.strictEqual(b.alive, 100)
      assert.notStrictEqual(a.hash, b.hash)
    }), 60_000)

  it.effect("decoding each part once for all receivers changes nothing: the same log as a copy decoded by each", () =>
    Effect.gen(function*() {
      const once = yield* run(300, 3_000, 5, true)
      const each = yield* run(300, 3_000, 5, false)
      assert.strictEqual(once.alive, 300)
      assert.isAbove(once.events, 80_000)
      assert.deepStrictEqual(once, each)
    }), 120_000)
})
