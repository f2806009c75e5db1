/**
 * Typed topics on the simulated network: publish, send and subscribe, and the
 * bad input that must be dropped and counted without touching anything else.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Random, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { Delivery } from "../../src/topic/Topic.ts"
import * as Topic from "../../src/topic/Topic.ts"
import { Membership } from "../../src/Membership.ts"
import { encodeFrame } from "../../src/topic/Frame.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import type { SimNode } from "../sim/cluster.ts"
import { settle, startCluster } from "../sim/cluster.ts"

const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope>, seed = 1) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

const Chat = Schema.Struct({ room: Schema.String, text: Schema.String, at: Schema.Int })
const chat = Topic.make("chat", Chat)

/** Runs a topic effect as `node` (its Membership provided). */
const on = <A, E, R>(node: SimNode, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Membership, node.membership) as Effect.Effect<A, E, Exclude<R, Membership>>

/** Collects what a subscription delivers into an array, from now on. */
const collect = <A>(node: SimNode, topic: Topic.Topic<A>) =>
  Effect.gen(function*() {
    const got: Array<Delivery<A>> = []
    const stream = yield* on(node, Topic.subscribe(topic))
    yield* Effect.forkScoped(Stream.runForEach(stream, (d) => Effect.sync(() => got.push(d))))
    return got
  })

const tables = (nodes: ReadonlyArray<SimNode>) =>
  Effect.forEach(nodes, (n) =>
    Effect.map(n.membership.currentMembers, (ms) => ms.map((m) => `${m.name}:${m.state}:${m.incarnation}`).join(",")))

describe("Topic", () => {
  it.effect("publish reaches every other member's subscribers, decoded, with the sender's name", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(5)
      yield* TestClock.adjust("5 seconds")
      const inboxes = yield* Effect.forEach(nodes, (n) => collect(n, chat))
      yield* on(nodes[2]!, Topic.publish(chat, { room: "ops", text: "hello", at: 1 }))
      yield* TestClock.adjust("3 seconds")
      inboxes.forEach((got, i) => {
        if (i === 2) assert.deepStrictEqual(got, [], "not delivered to the publisher")
        else assert.deepStrictEqual(got, [{ topic: "chat", from: "node-2", kind: "broadcast", value: { room: "ops", text: "hello", at: 1 } }])
      })
      const stats = yield* nodes[0]!.membership.stats
      assert.deepInclude(stats.topics.byTopic["chat"]!, { received: 1, delivered: 1, decodeErrors: 0, dropped: 0, subscribers: 1 })
      assert.strictEqual((yield* nodes[2]!.membership.stats).topics.byTopic["chat"]!.published, 1)
    })))

  it.effect("send reaches one member: small values in a datagram, large ones over a stream", () =>
    sim(Effect.gen(function*() {
      const [a, b, c] = yield* startCluster(3)
      yield* TestClock.adjust("3 seconds")
      const atB = yield* collect(b!, chat)
      const atC = yield* collect(c!, chat)
      const big = "x".repeat(20_000)
      yield* settle(on(a!, Topic.send(chat, "node-1", { room: "r", text: "small", at: 2 })))
      yield* settle(on(a!, Topic.send(chat, "node-1", { room: "r", text: big, at: 3 })))
      yield* TestClock.adjust(500)
      assert.deepStrictEqual(atB.map((d) => [d.from, d.kind, d.value.text.length]), [["node-0", "direct", 5], ["node-0", "direct", 20_000]])
      assert.deepStrictEqual(atC, [])
      const unknown = yield* Effect.flip(on(a!, Topic.send(chat, "nobody", { room: "r", text: "?", at: 0 })))
      assert.deepInclude(unknown, { _tag: "TopicError", reason: "UnknownNode", topic: "chat" })
    })))

  it.effect("msgpack topics, and a receiver reads either format of the same schema", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2)
      yield* TestClock.adjust("3 seconds")
      const packed = Topic.make("chat", Chat, { format: "msgpack" })
      const got = yield* collect(b!, chat)
      yield* settle(on(a!, Topic.send(packed, "node-1", { room: "ü", text: "ß", at: -7 })))
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(got.map((d) => d.value), [{ room: "ü", text: "ß", at: -7 }])
    })))

  it.effect("subscribe holds what arrives after it returns, before the stream runs", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2)
      yield* TestClock.adjust("3 seconds")
      const stream = yield* on(b!, Topic.subscribe(chat))
      yield* settle(on(a!, Topic.send(chat, "node-1", { room: "r", text: "early", at: 1 })))
      yield* TestClock.adjust(100)
      const first = yield* Stream.runHead(stream)
      assert.strictEqual(first._tag === "Some" ? first.value.value.text : undefined, "early")
    })))

  it.effect("a slow subscriber loses the newest values, counted, and slows nobody", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2)
      yield* TestClock.adjust("3 seconds")
      const small = Topic.make("chat", Chat, { bufferSize: 2 })
      yield* on(b!, Topic.subscribe(small)) // never pulled
      const fast = yield* collect(b!, small)
      for (let i = 0; i < 5; i++) yield* settle(on(a!, Topic.send(small, "node-1", { room: "r", text: `${i}`, at: i })))
      yield* TestClock.adjust(100)
      assert.strictEqual(fast.length, 5)
      assert.deepInclude((yield* b!.membership.stats).topics.byTopic["chat"]!, { received: 5, delivered: 7, dropped: 3, subscribers: 2 })
    })))
})

describe("Topic: bad input is dropped, counted and harmless", () => {
  it.effect("a wrong-schema payload never reaches subscribers and never fails their stream", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(3)
      const [a, b, c] = nodes
      yield* TestClock.adjust("3 seconds")
      const before = yield* tables(nodes)
      const got = yield* collect(b!, chat)
      // Another member speaks "chat" with a schema of its own.
      const impostor = Topic.make("chat", Schema.Struct({ room: Schema.Number }))
      yield* settle(on(c!, Topic.send(impostor, "node-1", { room: 42 })))
      yield* on(c!, Topic.publish(impostor, { room: 43 }))
      yield* settle(on(a!, Topic.send(chat, "node-1", { room: "r", text: "fine", at: 1 })))
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(got.map((d) => d.value.text), ["fine"])
      const stats = yield* b!.membership.stats
      assert.deepInclude(stats.topics.byTopic["chat"]!, { received: 1, decodeErrors: 2 })
      assert.deepStrictEqual(yield* tables(nodes), before)
      const metric = (yield* Metric.snapshot).find((m) =>
        m.id === "gossip_topic_decode_errors" &&
        (m.attributes as Record<string, string> | undefined)?.["node"] === "node-1" &&
        (m.attributes as Record<string, string> | undefined)?.["topic"] === "chat"
      )
      assert.strictEqual((metric?.state as { count: number } | undefined)?.count, 2)
    })).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("a topic nobody declared here is counted by name; a malformed frame is counted", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(2)
      const [a, b] = nodes
      yield* TestClock.adjust("3 seconds")
      const before = yield* tables(nodes)
      const other = Topic.make("metrics", Schema.Number)
      yield* settle(on(a!, Topic.send(other, "node-1", 1)))
      yield* settle(on(a!, Topic.send(other, "node-1", 2)))
      yield* settle(a!.membership.sendBestEffort("node-1", Uint8Array.of(0xed, 7, 1, 0x61, 0)))
      yield* settle(a!.membership.sendBestEffort("node-1", Uint8Array.of(0xed)))
      yield* TestClock.adjust(100)
      const stats = (yield* b!.membership.stats).topics
      assert.deepStrictEqual(stats.unknown, { metrics: 2 })
      assert.strictEqual(stats.malformed, 2)
      assert.deepStrictEqual(stats.byTopic, {})
      assert.deepStrictEqual(yield* tables(nodes), before)
    })))

  it.effect("an oversized value is a typed error at the sender; a receiver drops one over its limit", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(2)
      const [a, b] = nodes
      yield* TestClock.adjust("3 seconds")
      const before = yield* tables(nodes)
      const tooBig = yield* Effect.flip(on(a!, Topic.publish(chat, { room: "r", text: "x".repeat(5000), at: 0 })))
      assert.deepInclude(tooBig, { _tag: "TopicError", reason: "TooLarge", topic: "chat" })
      const limited = Topic.make("chat", Chat, { maxValueBytes: 100 })
      const overLimit = yield* Effect.flip(on(a!, Topic.send(limited, "node-1", { room: "r", text: "x".repeat(200), at: 0 })))
      assert.deepInclude(overLimit, { reason: "TooLarge" })
      // The receiver's own limit holds even against a sender that allows more.
      const got = yield* collect(b!, limited)
      yield* settle(on(a!, Topic.send(chat, "node-1", { room: "r", text: "x".repeat(200), at: 0 })))
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(got, [])
      assert.strictEqual((yield* b!.membership.stats).topics.byTopic["chat"]!.decodeErrors, 1)
      assert.strictEqual((yield* a!.membership.stats).topics.byTopic["chat"]!.refused, 2)
      assert.deepStrictEqual(yield* tables(nodes), before)
    })))

  it.effect("one name declared with two different schemas is a typed conflict", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(1)
      const [a] = nodes
      const before = yield* tables(nodes)
      yield* on(a!, Topic.declare(chat))
      yield* on(a!, Topic.declare(Topic.make("chat", Chat))) // the same schema, declared again: fine
      const conflict = yield* Effect.flip(on(a!, Topic.subscribe(Topic.make("chat", Schema.String))))
      assert.deepInclude(conflict, { _tag: "TopicError", reason: "Conflict", topic: "chat" })
      const format = yield* Effect.flip(on(a!, Topic.declare(Topic.make("chat", Chat, { format: "msgpack" }))))
      assert.deepInclude(format, { reason: "Conflict" })
      const badName = yield* Effect.flip(on(a!, Topic.declare(Topic.make("", Chat))))
      assert.deepInclude(badName, { reason: "BadName" })
      assert.deepInclude((yield* a!.membership.stats).topics.byTopic["chat"]!, { subscribers: 0 })
      assert.strictEqual((yield* a!.membership.stats).topics.conflicts, 2)
      assert.deepStrictEqual(yield* tables(nodes), before)
    })))

  it("frames round-trip through the wire layout", () => {
    const bytes = encodeFrame(new TextEncoder().encode("t"), new TextEncoder().encode("n"), "msgpack", Uint8Array.of(1, 2))
    assert.deepStrictEqual([...bytes], [0xed, 1, 1, 0x74, 1, 0x6e, 1, 2])
  })
})
