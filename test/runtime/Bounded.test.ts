/**
 * Every queue between the node and its users is bounded: a subscriber that
 * never reads, and a flood of inbound messages, cost a fixed amount of memory
 * and counted drops, while the member table stays right.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Random, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Msg from "../../src/protocol/Messages.ts"
import { Fanout } from "../../src/runtime/Fanout.ts"
import { SUBSCRIBER_CAPACITY } from "../../src/runtime/NodeActor.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { addressOf, startNode } from "../sim/cluster.ts"
import { fakePeer } from "../sim/fakes.ts"

const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope>, seed = 1) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

const text = (s: string) => new TextEncoder().encode(s)

describe("Fanout", () => {
  it.effect("a dropping subscriber loses the newest, a sliding one the oldest; both counted", () =>
    Effect.gen(function*() {
      const dropping = new Fanout<number>(3, "dropping")
      const sliding = new Fanout<number>(3, "sliding")
      const d = yield* dropping.subscribe()
      const s = yield* sliding.subscribe()
      for (let i = 1; i <= 5; i++) {
        dropping.publish(i)
        sliding.publish(i)
      }
      assert.deepStrictEqual([...yield* d.stream.pipe(Stream.take(3), Stream.runCollect)], [1, 2, 3])
      assert.deepStrictEqual([...yield* s.stream.pipe(Stream.take(3), Stream.runCollect)], [3, 4, 5])
      assert.deepStrictEqual([d.dropped(), s.dropped(), dropping.dropped, sliding.dropped], [2, 2, 2, 2])
    }).pipe(Effect.scoped))

  it.effect("one slow subscriber loses only its own deliveries; a closed one is forgotten", () =>
    Effect.gen(function*() {
      const fanout = new Fanout<number>(2, "dropping")
      const slow = yield* fanout.subscribe()
      const scope = yield* Scope.make()
      const fast = yield* fanout.subscribe(100).pipe(Scope.provide(scope))
      for (let i = 0; i < 10; i++) fanout.publish(i)
      assert.deepStrictEqual([slow.dropped(), fast.dropped()], [8, 0])
      assert.strictEqual((yield* fast.stream.pipe(Stream.take(10), Stream.runCollect)).length, 10)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(fanout.size, 1)
    }).pipe(Effect.scoped))
})

describe("bounded node queues", () => {
  it.effect("100,000 events and messages to subscribers that never read: bounded, counted, table right", () =>
    sim(Effect.gen(function*() {
      const node = yield* startNode("a", addressOf(0))
      const peer = yield* fakePeer("p", addressOf(1))
      const events = yield* node.membership.subscribeEvents // never read
      const messages = yield* node.membership.subscribeMessages // never read
      // takes the first table, then never pulls again
      let tablesSeen = 0
      yield* node.membership.members.pipe(
        Stream.runForEach(() => Effect.andThen(Effect.sync(() => tablesSeen++), Effect.never)),
        Effect.forkScoped
      )
      const total = 100_000
      // 500 updates per virtual millisecond: well within the handoff depth, so none is dropped there.
      for (let i = 1; i <= total; i += 500) {
        for (let j = i; j < i + 500 && j <= total; j++) {
          yield* peer.send(node.address, { ...peer.alive(j), meta: text(`v${j}`) }, Msg.user(text(`m${j}`)))
        }
        yield* TestClock.adjust(1)
      }
      yield* TestClock.adjust(100)
      const stats = yield* node.membership.stats
      assert.strictEqual(stats.handoffDropped, 0)
      // One MemberJoined then 99,999 MemberUpdated, of which the subscriber holds the newest 1024.
      assert.strictEqual(stats.eventsDropped, total - SUBSCRIBER_CAPACITY)
      assert.strictEqual(stats.messagesDropped, total - SUBSCRIBER_CAPACITY)
      // at least one new table per virtual millisecond of updates; the stream holds 16 and slides
      assert.strictEqual(tablesSeen, 1)
      assert.isAtLeast(stats.tablesSkipped, total / 500 - 16 - 1, `skipped ${stats.tablesSkipped}`)
      const held = yield* events.pipe(Stream.take(SUBSCRIBER_CAPACITY), Stream.runCollect)
      const last = held[held.length - 1]!
      assert.deepInclude(last, { _tag: "MemberUpdated" })
      assert.strictEqual(last._tag === "MemberUpdated" ? last.member.incarnation : 0, total)
      const firstMessages = yield* messages.pipe(Stream.take(1), Stream.runCollect)
      assert.strictEqual(new TextDecoder().decode(firstMessages[0]!.payload), "m1", "messages keep the oldest")
      const table = yield* node.membership.currentMembers
      const p = table.find((m) => m.name === "p")!
      assert.deepStrictEqual([p.state, p.incarnation, new TextDecoder().decode(p.meta)], ["alive", total, `v${total}`])
    })), 120_000)

  // Datagrams from a socket wait for the node's receiver fiber, which admits each batch up to the
  // handoff depth before the actor runs. (A transport that hands datagrams over while the actor
  // waits has them handled on the spot, so nothing waits there: see the next test.)
  it.effect("a flood beyond handoffQueueDepth is dropped and counted; probes keep their own share", () =>
    sim(Effect.gen(function*() {
      const node = yield* startNode("a", addressOf(0), { handoffQueueDepth: 16 }, false, { queued: true })
      const peer = yield* fakePeer("p", addressOf(1))
      yield* peer.send(node.address, peer.alive(1))
      yield* TestClock.adjust(10)
      // 100 gossip messages and 10 pings in one go: 16 of the gossip get in, every ping does.
      const flood = Array.from({ length: 100 }, (_, i) => Msg.user(text(`u${i}`)))
      for (let i = 0; i < 100; i += 10) yield* peer.send(node.address, ...flood.slice(i, i + 10))
      for (let i = 0; i < 10; i++) yield* peer.send(node.address, Msg.ping(1000 + i, "a", null, "p", 0))
      yield* TestClock.adjust(10)
      const stats = yield* node.membership.stats
      assert.strictEqual(stats.handoffDropped, 100 - 16)
      const table = yield* node.membership.currentMembers
      assert.deepStrictEqual(table.map((m) => `${m.name}:${m.state}`), ["a:alive", "p:alive"])
    })))

  it.effect("datagrams handed over while the actor waits are handled on the spot: the same flood loses nothing", () =>
    sim(Effect.gen(function*() {
      const node = yield* startNode("a", addressOf(0), { handoffQueueDepth: 16 })
      const delivered: Array<string> = []
      yield* node.membership.messages.pipe(
        Stream.runForEach((m) => Effect.sync(() => delivered.push(new TextDecoder().decode(m.payload)))),
        Effect.forkScoped
      )
      yield* Effect.yieldNow
      const peer = yield* fakePeer("p", addressOf(1))
      yield* peer.send(node.address, peer.alive(1))
      yield* TestClock.adjust(10)
      const flood = Array.from({ length: 100 }, (_, i) => Msg.user(text(`u${i}`)))
      for (let i = 0; i < 100; i += 10) yield* peer.send(node.address, ...flood.slice(i, i + 10))
      yield* TestClock.adjust(10)
      assert.strictEqual((yield* node.membership.stats).handoffDropped, 0)
      assert.deepStrictEqual(delivered, flood.map((_, i) => `u${i}`))
    })))
})
