/**
 * The WebSocket transport's own timing on simulated links, in virtual time:
 * keepalive, idle close, reconnection backoff, the per-peer queue, stream
 * credit, and refusals of bad frames. SimNetwork's default link (1 ms each
 * way) carries each connection; a dial takes one round trip (2 ms).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Layer, Queue, Random } from "effect"
import type { Scope } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { Dns } from "effect/net"
import { TestClock } from "effect/testing"
import { SimNetwork } from "../../../src/transport/SimNetwork.ts"
import type { Connector } from "../../../src/transport/ws/Core.ts"
import { makeCore } from "../../../src/transport/ws/Core.ts"
import * as F from "../../../src/transport/ws/Frame.ts"
import { resolveLimits, type WebSocketLimits } from "../../../src/transport/ws/Limits.ts"
import { type Link, LinkError } from "../../../src/transport/ws/Link.ts"
import { simAcceptor, simConnector } from "../../../src/transport/ws/SimLink.ts"

const run = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope | Dns.Dns>) =>
  effect.pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(SimNetwork.layer(), Layer.orDie(Dns.layerStatic({})))),
    Random.withSeed(1)
  )

const limits = (overrides: Partial<WebSocketLimits>) => resolveLimits(overrides) as WebSocketLimits

/** A WebSocket core on the simulated network at `address`; `attempts` logs when each connection attempt began. */
const node = (address: string, overrides: Partial<WebSocketLimits> = {}) =>
  Effect.gen(function*() {
    const sim = yield* (yield* SimNetwork).bind(address)
    const attempts: Array<number> = []
    const inner = simConnector(sim)
    const connector: Connector = {
      connect: (target, ms) =>
        Effect.clockWith((c) => Effect.sync(() => attempts.push(c.currentTimeMillisUnsafe()))).pipe(
          Effect.andThen(inner.connect(target, ms))
        )
    }
    const core = yield* makeCore({
      advertise: sim.advertise,
      endpoint: { secure: false, path: "/gossip" },
      limits: limits(overrides),
      connector
    })
    yield* Effect.forkScoped(simAcceptor(sim, core))
    return { address, core, transport: core.transport, attempts }
  })

const now = Clock.currentTimeMillis

/** Advances virtual time 1 ms at a time until `pred` holds (at most `limit` ms); returns the time. */
const until = (pred: () => boolean, limit = 60_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < limit && !pred(); i++) yield* TestClock.adjust(1)
    assert.isTrue(pred(), "condition never held")
    return yield* now
  })

describe("WebSocket transport on simulated links", () => {
  it.effect("a silent peer's connection closes at the first tick two keepalive intervals after its last frame", () =>
    run(Effect.gen(function*() {
      const network = yield* SimNetwork
      const a = yield* node("10.3.0.1:7946", { keepaliveInterval: 1000 })
      const b = yield* node("10.3.0.2:7946", { keepaliveInterval: 1000 })
      yield* a.transport.sendPacket(b.address, Uint8Array.of(1))
      // the dial takes a round trip: the connection runs from t = 2, ticking at 1002, 2002, …
      yield* until(() => Queue.sizeUnsafe(b.transport.packets) > 0)
      const received = yield* Queue.take(b.transport.packets)
      assert.deepStrictEqual([received.at, received.from, [...received.bytes]], [3, a.address, [1]])
      // b answers a ping at 1002 (pong at 1004) and at 3002 (pong at 3004), then goes silent at 3500
      yield* TestClock.adjust(3500 - 3)
      yield* network.crash(b.address)
      // 4002: silent 998 ms; 5002: 1998 ms, ping (lost); 6002: 2998 ms ≥ 2000: closed
      const closedAt = yield* until(() => a.core.counters.keepaliveTimeouts === 1)
      assert.strictEqual(closedAt, 6002)
      assert.strictEqual(a.core.counters.outboundOpen, 0)
    })))

  it.effect("reconnection backs off 200, 400, 800 ms, then 1 s at most; datagrams meanwhile are refused and counted", () =>
    run(Effect.gen(function*() {
      const network = yield* SimNetwork
      const limitsUsed = { connectTimeout: 1000, reconnectBackoff: 200, reconnectBackoffMax: 1000 }
      const a = yield* node("10.3.0.1:7946", limitsUsed)
      const b = yield* node("10.3.0.2:7946", limitsUsed)
      yield* network.crash(b.address)
      // a datagram every 10 ms; each attempt waits out the 1 s connect timeout (the peer never answers)
      const sender = yield* Effect.forkChild(
        Effect.forever(Effect.ignore(a.transport.sendPacket(b.address, Uint8Array.of(7))).pipe(Effect.andThen(Effect.sleep(10))))
      )
      yield* TestClock.adjust(6500)
      assert.deepStrictEqual(a.attempts, [0, 1200, 2600, 4400, 6400])
      assert.strictEqual(a.core.counters.connectFailures, 4)
      // 601 datagrams sent in all: those during the four failed attempts were queued and lost
      // with them, those during the backoffs (200 + 400 + 800 + 1000 ms) refused at once
      assert.strictEqual(a.core.counters.packetsRefused, 20 + 40 + 80 + 100)
      assert.strictEqual(a.core.counters.packetsDropped, 4 * 100)
      // the peer comes back; the attempt begun at 6400 still times out (at 7400), the next (at 8400) connects
      yield* network.restore(b.address)
      yield* TestClock.adjust(3000)
      yield* Fiber.interrupt(sender)
      assert.deepStrictEqual(a.attempts, [0, 1200, 2600, 4400, 6400, 8400])
      assert.strictEqual(a.core.counters.connectionsOpened, 1)
      assert.strictEqual(b.core.counters.packetsReceived, 110)
    })))

  it.effect("an outbound connection with no traffic and no stream closes after idleTimeout; sending keeps it open", () =>
    run(Effect.gen(function*() {
      const a = yield* node("10.3.0.1:7946", { keepaliveInterval: 1000, idleTimeout: 3000 })
      const b = yield* node("10.3.0.2:7946", { keepaliveInterval: 1000, idleTimeout: 3000 })
      yield* a.transport.sendPacket(b.address, Uint8Array.of(1))
      // keeps sending until 4500: the last send is stamped at the tick of 5002
      const sender = yield* Effect.forkChild(
        Effect.forever(Effect.ignore(a.transport.sendPacket(b.address, Uint8Array.of(2))).pipe(Effect.andThen(Effect.sleep(500))))
      )
      yield* TestClock.adjust(4500)
      yield* Fiber.interrupt(sender)
      const closedAt = yield* until(() => a.core.counters.idleClosed === 1)
      assert.strictEqual(closedAt, 8002)
      assert.strictEqual(a.core.counters.keepaliveTimeouts, 0)
      // the next datagram opens a new connection at once (an idle close is no failure)
      yield* a.transport.sendPacket(b.address, Uint8Array.of(3))
      yield* TestClock.adjust(3)
      assert.deepStrictEqual(a.attempts, [0, 8002])
    })))

  it.effect("a peer's queue holds peerQueueSize datagrams, dropping the oldest; all are lost with a failed connection", () =>
    run(Effect.gen(function*() {
      const network = yield* SimNetwork
      const a = yield* node("10.3.0.1:7946", { peerQueueSize: 16, connectTimeout: 1000 })
      const b = yield* node("10.3.0.2:7946")
      yield* network.crash(b.address)
      for (let i = 0; i < 100; i++) yield* a.transport.sendPacket(b.address, Uint8Array.of(i))
      assert.strictEqual(a.core.counters.packetsDropped, 84)
      yield* TestClock.adjust(1000)
      assert.strictEqual(a.core.counters.packetsDropped, 100)
      assert.strictEqual(b.core.counters.packetsReceived, 0)
    })))

  it.effect("flush completes once what was queued is written: when a slow dial opens, or when it fails", () =>
    run(Effect.gen(function*() {
      const network = yield* SimNetwork
      const a = yield* node("10.3.0.1:7946", { connectTimeout: 1000 })
      const b = yield* node("10.3.0.2:7946")
      const c = yield* node("10.3.0.3:7946")
      const flush = a.transport.flush!
      // nothing queued: at once
      yield* flush
      // a dial to b takes 301 ms (300 there, 1 back); two datagrams wait on it
      yield* network.setLink(a.address, b.address, { latency: 300 })
      yield* a.transport.sendPacket(b.address, Uint8Array.of(1))
      yield* a.transport.sendPacket(b.address, Uint8Array.of(2))
      const flushing = yield* Effect.forkChild(flush)
      yield* TestClock.adjust(300)
      assert.isUndefined(flushing.pollUnsafe())
      assert.strictEqual(yield* until(() => flushing.pollUnsafe() !== undefined), 301)
      // written at 301, they arrive 300 ms later
      assert.strictEqual(yield* until(() => Queue.sizeUnsafe(b.transport.packets) === 2), 601)
      // a dial that fails settles what waited on it: dropped, counted, and flush completes
      yield* network.crash(c.address)
      yield* a.transport.sendPacket(c.address, Uint8Array.of(3))
      const started = yield* now
      const failing = yield* Effect.forkChild(flush)
      assert.strictEqual((yield* until(() => failing.pollUnsafe() !== undefined)) - started, 1000)
      assert.strictEqual(a.core.counters.packetsDropped, 1)
      // an open connection's datagrams are written at once
      yield* a.transport.sendPacket(b.address, Uint8Array.of(4))
      const open = yield* Effect.forkChild(flush)
      yield* Effect.yieldNow
      assert.isDefined(open.pollUnsafe())
    })))

  it.effect("a 1 MiB stream each way flows within its credit window, intact", () =>
    run(Effect.gen(function*() {
      const a = yield* node("10.3.0.1:7946", { streamWindow: 64 * 1024 })
      const b = yield* node("10.3.0.2:7946", { streamWindow: 64 * 1024 })
      const payload = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 131) & 0xff)
      const readAll = (read: Effect.Effect<Uint8Array, unknown>, size: number) =>
        Effect.gen(function*() {
          const parts: Array<Uint8Array> = []
          let got = 0
          while (got < size) {
            const chunk = yield* read
            parts.push(chunk)
            got += chunk.length
          }
          return Buffer.concat(parts)
        })
      const server = yield* Effect.forkChild(Effect.gen(function*() {
        const conn = yield* Queue.take(b.transport.streams)
        const got = yield* readAll(conn.read, payload.length)
        yield* conn.write(got)
        yield* conn.close
        return got
      }))
      const client = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const conn = yield* a.transport.dial(b.address, 1000)
        yield* conn.write(payload)
        return yield* readAll(conn.read, payload.length)
      })))
      const started = yield* now
      const echoed = yield* until(() => client.pollUnsafe() !== undefined).pipe(Effect.andThen(Fiber.join(client)))
      assert.isTrue(Buffer.from(payload).equals(yield* Fiber.join(server)))
      assert.isTrue(Buffer.from(payload).equals(echoed))
      // 16 windows of 64 KiB each way, credit returned every 32 KiB: a round trip (2 ms) per half window
      assert.isBelow((yield* now) - started, 200)
      assert.strictEqual(a.core.counters.streamsOpened, 1)
      assert.strictEqual(b.core.counters.streamsAccepted, 1)
    })))
})

/** A link driven by the test: it hands over `inbox`'s messages and records what is written and how it closed. */
const fakeLink = (peer = "192.0.2.9") =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<Uint8Array | string>()
    const written: Array<F.Frame> = []
    let closed: { code: number; reason: string } | undefined
    // like a socket: once closed, a pending read fails at once
    const gone = yield* Deferred.make<never, LinkError>()
    const link: Link = {
      peer,
      read: Effect.raceFirst(
        Effect.map(Queue.take(inbox), (m) => [m] as NonEmptyReadonlyArray<Uint8Array | string>),
        Deferred.await(gone)
      ),
      write: (messages) => Effect.sync(() => void written.push(...messages.map((m) => F.decodeFrame(m) as F.Frame))),
      buffered: () => 0,
      close: (code, reason) =>
        Effect.suspend(() => {
          closed ??= { code, reason }
          return Deferred.fail(gone, new LinkError({ reason: "Closed", code, message: reason }))
        }).pipe(Effect.asVoid)
    }
    return { link, inbox, written, closed: () => closed }
  })

describe("refusals on the accepting side", () => {
  const hello = F.encodeHello(Uint8Array.of(192, 0, 2, 9), 7946)
  const bad: ReadonlyArray<readonly [string, ReadonlyArray<Uint8Array | string>, number, string]> = [
    ["a text message", ["hello"], 1003, "BadFrame"],
    ["no hello first", [F.encodePacket(Uint8Array.of(1))], 1002, "BadFrame"],
    ["an unknown frame type", [hello, Uint8Array.of(0x42, 0, 0, 0, 1)], 1002, "BadFrame"],
    ["a truncated frame", [hello, Uint8Array.of(F.FrameType.Open, 0)], 1002, "BadFrame"],
    ["data for a stream never opened", [hello, F.encodeData(5, Uint8Array.of(1))], 1002, "BadFrame"],
    ["a reused stream id", [hello, F.encodeOpen(2), F.encodeOpen(1)], 1002, "BadFrame"],
    ["data past the stream's credit", [hello, F.encodeOpen(1), F.encodeData(1, new Uint8Array(17 * 1024)), F.encodeData(1, new Uint8Array(16 * 1024))], 1002, "BadFrame"],
    ["a frame over maxFrameSize", [hello, new Uint8Array(200_000).fill(F.FrameType.Packet, 0, 1)], 1009, "FrameTooLarge"],
    ["another protocol version", [Uint8Array.from([F.FrameType.Hello, 9, 0x1f, 0x4a, 4, 192, 0, 2, 9])], 1002, "BadVersion"]
  ]

  it.effect("each bad input closes its connection with its code and is counted by reason; good traffic goes on", () =>
    Effect.gen(function*() {
      const core = yield* makeCore({
        advertise: { addr: Uint8Array.of(10, 0, 0, 1), port: 7946 },
        endpoint: { secure: false, path: "/gossip" },
        limits: limits({ streamWindow: 32 * 1024 }),
        connector: { connect: () => Effect.never }
      })
      const expected: Record<string, number> = {}
      for (const [what, messages, code, reason] of bad) {
        const { closed, inbox, link } = yield* fakeLink()
        const serving = yield* Effect.forkChild(core.serve(link))
        for (const m of messages) yield* Queue.offer(inbox, m)
        yield* Fiber.join(serving)
        assert.strictEqual(closed()?.code, code, what)
        expected[reason] = (expected[reason] ?? 0) + 1
        assert.strictEqual(core.counters.refused[reason as "BadFrame"], expected[reason], what)
      }
      // a well-behaved peer after all that: its datagram reaches the engine
      const { inbox, link } = yield* fakeLink()
      yield* Effect.forkChild(core.serve(link))
      yield* Queue.offerAll(inbox, [hello, F.encodePacket(Uint8Array.of(42))])
      const packet = yield* Queue.take(core.transport.packets)
      assert.deepStrictEqual([packet.from, [...packet.bytes]], ["192.0.2.9:7946", [42]])
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(Dns.layerStatic({})))))

  it.effect("a peer that sends no hello is cut off exactly at handshakeTimeout", () =>
    Effect.gen(function*() {
      const core = yield* makeCore({
        advertise: { addr: Uint8Array.of(10, 0, 0, 1), port: 7946 },
        endpoint: { secure: false, path: "/gossip" },
        limits: limits({ handshakeTimeout: 2000 }),
        connector: { connect: () => Effect.never }
      })
      const { closed, link } = yield* fakeLink()
      yield* Effect.forkChild(core.serve(link))
      yield* TestClock.adjust(1999)
      assert.isUndefined(closed())
      yield* TestClock.adjust(1)
      assert.strictEqual(closed()?.code, 1008)
      assert.strictEqual(core.counters.refused.HandshakeTimeout, 1)
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(Dns.layerStatic({})))))

  it.effect("streams over the per-connection limit are reset and counted", () =>
    Effect.gen(function*() {
      const core = yield* makeCore({
        advertise: { addr: Uint8Array.of(10, 0, 0, 1), port: 7946 },
        endpoint: { secure: false, path: "/gossip" },
        limits: limits({ maxStreamsPerConnection: 2 }),
        connector: { connect: () => Effect.never }
      })
      const { inbox, link, written } = yield* fakeLink()
      yield* Effect.forkChild(core.serve(link))
      yield* Queue.offerAll(inbox, [hello, F.encodeOpen(1), F.encodeOpen(2), F.encodeOpen(3)])
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      assert.deepInclude(written, { _tag: "Reset", id: 3 })
      assert.strictEqual(core.counters.streamsAccepted, 2)
      assert.strictEqual(core.counters.streamsRejected, 1)
      // the limit is per connection and per peer: admission refuses the 3rd connection of one IP at 2
      const per = yield* makeCore({
        advertise: { addr: Uint8Array.of(10, 0, 0, 1), port: 7946 },
        endpoint: { secure: false, path: "/gossip" },
        limits: limits({ maxConnectionsPerPeer: 2, maxConnections: 3 }),
        connector: { connect: () => Effect.never }
      })
      const slots = [per.admit("192.0.2.1"), per.admit("192.0.2.1"), per.admit("192.0.2.1"), per.admit("192.0.2.2"), per.admit("192.0.2.3")]
      assert.deepStrictEqual(slots.map((s) => typeof s === "string" ? s : "ok"), ["ok", "ok", "PeerLimit", "ok", "ConnectionLimit"])
      ;(slots[0] as { release: () => void }).release()
      assert.notStrictEqual(typeof per.admit("192.0.2.3"), "string")
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(Dns.layerStatic({})))))
})
