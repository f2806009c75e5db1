import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Fiber, Layer, Option, Queue, Random, Scope } from "effect"
import { TestClock } from "effect/testing"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import type { SimNetworkOptions, SimNetworkShape } from "../../src/transport/SimNetwork.ts"
import { Transport } from "../../src/transport/Transport.ts"
import type { InboundPacket, TransportError, TransportShape } from "../../src/transport/Transport.ts"

const A = "10.0.0.1:7946"
const B = "10.0.0.2:7946"
const C = "10.0.0.3:7946"
const D = "10.0.0.4:7946"

const bytes = (...xs: Array<number>) => Uint8Array.from(xs)
const text = (s: string) => new TextEncoder().encode(s)
const untext = (b: Uint8Array) => new TextDecoder().decode(b)

/** Runs `body` with a fresh network (scoped to the test). */
const withNet = <A, E>(
  body: (net: SimNetworkShape) => Effect.Effect<A, E, Scope.Scope>,
  options?: SimNetworkOptions
) => Effect.flatMap(SimNetwork.make(options), body)

/** Everything waiting on a node's packet queue, right now. */
const drain = (t: TransportShape) => Queue.clear(t.packets)

const failureOf = <A>(exit: Exit.Exit<A, TransportError>) => {
  assert.isTrue(Exit.isFailure(exit))
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  assert.isTrue(Option.isSome(error), "expected a typed failure")
  return Option.getOrThrow(error)
}

/** Dials `to` from `from` and takes the accepted end: `[dialing, accepting]`. */
const connect = (from: TransportShape, to: TransportShape) =>
  Effect.gen(function*() {
    const dialing = yield* Effect.forkChild(from.dial(addressOfTransport(to), 10_000))
    while (dialing.pollUnsafe() === undefined) yield* TestClock.adjust(1)
    const conn = yield* Fiber.join(dialing)
    return [conn, yield* Queue.take(to.streams)] as const
  })

const addressOfTransport = (t: TransportShape) => `${t.advertise.addr.join(".")}:${t.advertise.port}`

describe("SimNetwork packets", () => {
  it.effect("delivers exactly at the latency instant, not a millisecond before", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* TestClock.adjust(100)
        yield* a.sendPacket(B, bytes(1, 2, 3))
        yield* TestClock.adjust(4)
        assert.deepStrictEqual(yield* drain(b), [])
        yield* TestClock.adjust(1)
        const got = yield* drain(b)
        assert.deepStrictEqual(got, [{ from: A, bytes: bytes(1, 2, 3), at: 105 }])
      }), { link: { latency: 5 } }))

  it.effect("uses the default link of 1 ms", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* a.sendPacket(B, bytes(9))
        yield* TestClock.adjust(0)
        assert.strictEqual((yield* drain(b)).length, 0)
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(b)).map((p) => p.at), [1])
      })))

  it.effect("zero latency still goes through the scheduler and keeps send order", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const c = yield* net.bind(C)
        const b = yield* net.bind(B)
        for (let i = 0; i < 5; i++) {
          yield* a.sendPacket(B, bytes(i))
          yield* c.sendPacket(B, bytes(100 + i))
        }
        // nothing is handed over inside sendPacket itself
        assert.strictEqual(Queue.sizeUnsafe(b.packets), 0)
        const got = yield* Queue.takeN(b.packets, 10)
        assert.deepStrictEqual(got.map((p) => p.bytes[0]), [0, 100, 1, 101, 2, 102, 3, 103, 4, 104])
        assert.isTrue(got.every((p) => p.at === 0))
      }), { link: { latency: 0 } }))

  /** A datagram and a stream chunk from A to B, each changed by its sender once sent; what B got. */
  const sendThenChange = (net: SimNetworkShape) =>
    Effect.gen(function*() {
      const a = yield* net.bind(A)
      const b = yield* net.bind(B)
      const datagram = bytes(1, 1)
      yield* a.sendPacket(B, datagram)
      datagram[0] = 7
      yield* TestClock.adjust(1)
      const [dialing, accepting] = yield* connect(a, b)
      const chunk = bytes(2, 3, 4)
      yield* dialing.write(chunk)
      chunk[0] = 7
      const reading = yield* Effect.forkChild(accepting.read)
      yield* TestClock.adjust(1)
      return { sent: [datagram, chunk], got: [(yield* drain(b))[0]!.bytes, yield* Fiber.join(reading)] }
    })

  it.effect("copies the bytes: the sender may reuse its buffer", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const { got } = yield* sendThenChange(net)
        assert.deepStrictEqual(got, [bytes(1, 1), bytes(2, 3, 4)])
      })))

  it.effect("with shareBytes, hands over the sender's arrays themselves, datagrams and stream chunks", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const { got, sent } = yield* sendThenChange(net)
        assert.strictEqual(got[0], sent[0])
        assert.strictEqual(got[1], sent[1])
      }), { shareBytes: true }))

  const jitterRun = (seed: number) =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const delays: Array<number> = []
        for (let i = 0; i < 200; i++) {
          const sentAt = i * 100
          yield* TestClock.setTime(sentAt)
          yield* a.sendPacket(B, bytes(i & 0xff))
          yield* TestClock.adjust(99)
          const got = yield* drain(b)
          assert.strictEqual(got.length, 1)
          delays.push(got[0]!.at - sentAt)
        }
        return delays
      }), { link: { latency: 20, jitter: 5 } }).pipe(Random.withSeed(seed))

  it.effect("jitter stays within latency ± jitter and repeats with the same seed", () =>
    Effect.gen(function*() {
      const first = yield* jitterRun(42)
      assert.isTrue(first.every((d) => d >= 15 && d <= 25 && Number.isInteger(d)))
      assert.strictEqual(new Set(first).size, 11, "every whole millisecond in [15, 25] occurs")
      assert.deepStrictEqual(yield* jitterRun(42), first)
      assert.notDeepEqual(yield* jitterRun(7), first)
    }))

  it.effect("jitter never delivers before zero delay", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        for (let i = 0; i < 50; i++) yield* a.sendPacket(B, bytes(i))
        yield* TestClock.adjust(3)
        const got = yield* drain(b)
        assert.strictEqual(got.length, 50)
        assert.isTrue(got.every((p) => p.at >= 0 && p.at <= 3))
        // packets due at the same millisecond keep send order
        for (let i = 1; i < got.length; i++) {
          if (got[i]!.at === got[i - 1]!.at) assert.isTrue(got[i]!.bytes[0]! > got[i - 1]!.bytes[0]!)
        }
      }), { link: { latency: 1, jitter: 2 } }).pipe(Random.withSeed(3)))

  const lossRun = (seed: string) =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        for (let i = 0; i < 4000; i++) {
          yield* a.sendPacket(B, bytes(i & 0xff, i >> 8))
          if (i % 500 === 499) yield* TestClock.adjust(1)
        }
        yield* TestClock.adjust(1)
        const got = (yield* drain(b)).map((p) => p.bytes[0]! | (p.bytes[1]! << 8))
        return { got, stats: yield* net.stats(A) }
      }), { link: { loss: 0.3 }, packetQueueCapacity: 10_000 }).pipe(Random.withSeed(seed))

  it.effect("loses about the configured fraction, identically with the same seed", () =>
    Effect.gen(function*() {
      const first = yield* lossRun("loss")
      const rate = 1 - first.got.length / 4000
      assert.isTrue(rate > 0.27 && rate < 0.33, `loss rate ${rate}`)
      assert.strictEqual(first.stats.packetsSent, 4000)
      assert.strictEqual(first.stats.packetsDropped, 4000 - first.got.length)
      const second = yield* lossRun("loss")
      assert.deepStrictEqual(second.got, first.got)
      assert.notDeepEqual((yield* lossRun("other")).got, first.got)
    }))

  it.effect("rejects packets over maxPacketSize with TooLarge", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        yield* net.bind(B)
        assert.strictEqual(a.maxPacketSize, 1400)
        yield* a.sendPacket(B, new Uint8Array(1400))
        const error = failureOf(yield* Effect.exit(a.sendPacket(B, new Uint8Array(1401))))
        assert.strictEqual(error.reason, "TooLarge")
        assert.strictEqual((yield* net.stats(A)).packetsSent, 1)
      }), { maxPacketSize: 1400 }))

  it.effect("defaults maxPacketSize to the UDP limit", () =>
    withNet((net) => Effect.map(net.bind(A), (a) => assert.strictEqual(a.maxPacketSize, 65_507))))

  it.effect("loses packets to unknown addresses silently; rejects non-addresses", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        yield* a.sendPacket("10.9.9.9:1", bytes(1))
        assert.strictEqual((yield* net.stats(A)).packetsDropped, 1)
        const error = failureOf(yield* Effect.exit(a.sendPacket("node-b", bytes(1))))
        assert.strictEqual(error.reason, "BadAddress")
      })))

  it.effect("honours directional links", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* net.setLink(A, B, { latency: 10 })
        yield* a.sendPacket(B, bytes(1))
        yield* b.sendPacket(A, bytes(2))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(a)).map((p) => p.at), [1])
        assert.strictEqual((yield* drain(b)).length, 0)
        yield* TestClock.adjust(9)
        assert.deepStrictEqual((yield* drain(b)).map((p) => p.at), [10])
        yield* net.setDefaultLink({ latency: 3 })
        yield* b.sendPacket(A, bytes(3))
        yield* TestClock.adjust(3)
        assert.deepStrictEqual((yield* drain(a)).map((p) => p.at), [13])
      })))

  it.effect("a late send with a shorter delay wakes the scheduler early", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const c = yield* net.bind(C)
        yield* net.setLink(A, C, { latency: 50 })
        yield* a.sendPacket(C, bytes(1))
        yield* TestClock.adjust(10)
        yield* a.sendPacket(B, bytes(2))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(b)).map((p) => p.at), [11])
        yield* TestClock.adjust(39)
        assert.deepStrictEqual((yield* drain(c)).map((p) => p.at), [50])
      })))

  it.effect("counts overflow of a full inbound queue", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        for (let i = 0; i < 10; i++) yield* a.sendPacket(B, bytes(i))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(b)).map((p) => p.bytes[0]), [0, 1, 2, 3])
        const stats = yield* net.stats(B)
        assert.strictEqual(stats.queueOverflows, 6)
        assert.strictEqual(stats.packetsReceived, 4)
      }), { packetQueueCapacity: 4 }))

  it.effect("keeps per-node counters and totals", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* a.sendPacket(B, new Uint8Array(100))
        yield* a.sendPacket(B, new Uint8Array(50))
        yield* b.sendPacket(A, new Uint8Array(10))
        yield* a.sendPacket("10.9.9.9:1", new Uint8Array(7))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(yield* net.stats(A), {
          packetsSent: 3,
          packetsReceived: 1,
          bytesSent: 157,
          bytesReceived: 10,
          packetsDropped: 1,
          queueOverflows: 0,
          streamsOpened: 0,
          streamsAccepted: 0,
          streamBytesSent: 0,
          streamBytesReceived: 0,
          dialsLost: 0,
          streamsReset: 0
        })
        const totals = yield* net.totals()
        assert.strictEqual(totals.packetsSent, 4)
        assert.strictEqual(totals.packetsReceived, 3)
        assert.strictEqual(totals.bytesReceived, 160)
        assert.strictEqual((yield* net.stats("10.7.7.7:1")).packetsSent, 0)
      })))
})

describe("SimNetwork on the live clock", () => {
  it.live("delivers after real latency", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const sentAt = yield* Clock.currentTimeMillis
        yield* a.sendPacket(B, bytes(1))
        const got = yield* Queue.take(b.packets).pipe(Effect.timeout("2 seconds"))
        assert.isTrue(got.at - sentAt >= 5)
      }), { link: { latency: 5 } }))
})

describe("SimNetwork nodes", () => {
  it.effect("binds IPv4 and IPv6 addresses and advertises their bytes", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        assert.deepStrictEqual(a.advertise, { addr: bytes(10, 0, 0, 1), port: 7946 })
        const v6 = yield* net.bind("[fd00::1]:7000")
        assert.strictEqual(v6.advertise.addr.length, 16)
        assert.strictEqual(v6.advertise.port, 7000)
        // any spelling of the address reaches it
        yield* a.sendPacket("[fd00:0:0::1]:7000", bytes(1))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(v6)).map((p) => p.from), [A])
      })))

  it.effect("refuses a second bind of the same address and non-addresses", () =>
    withNet((net) =>
      Effect.gen(function*() {
        yield* net.bind(A)
        assert.strictEqual(failureOf(yield* Effect.exit(net.bind(A))).reason, "Bind")
        assert.strictEqual(failureOf(yield* Effect.exit(net.bind("localhost:1"))).reason, "BadAddress")
        assert.strictEqual(failureOf(yield* Effect.exit(net.bind("10.0.0.9"))).reason, "BadAddress")
      })))

  it.effect("closing the transport's scope unregisters the node", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const scope = yield* Scope.make()
        const b = yield* net.bind(B).pipe(Scope.provide(scope))
        yield* a.sendPacket(B, bytes(1))
        yield* Scope.close(scope, Exit.void)
        yield* TestClock.adjust(1)
        assert.strictEqual((yield* net.stats(B)).packetsReceived, 0)
        assert.strictEqual((yield* net.stats(A)).packetsDropped, 1)
        assert.strictEqual(failureOf(yield* Effect.exit(Effect.scoped(a.dial(B, 1000)))).reason, "Refused")
        assert.isTrue(Exit.isFailure(yield* Effect.exit(Queue.take(b.packets))))
        // the address is free again
        const again = yield* net.bind(B)
        yield* a.sendPacket(B, bytes(2))
        yield* TestClock.adjust(1)
        assert.strictEqual((yield* drain(again)).length, 1)
      })))

  it.effect("works as layers: SimNetwork.layer + SimNetwork.transport", () =>
    Effect.gen(function*() {
      const nodeA = SimNetwork.transport(A)
      const received = yield* Effect.gen(function*() {
        const a = yield* Transport
        yield* a.sendPacket(A, bytes(5))
        yield* TestClock.adjust(1)
        return yield* Queue.take(a.packets)
      }).pipe(Effect.provide(nodeA.pipe(Layer.provide(SimNetwork.layer()))))
      assert.deepStrictEqual(received, { from: A, bytes: bytes(5), at: 1 } satisfies InboundPacket)
    }))
})

describe("SimNetwork faults", () => {
  it.effect("partition loses packets between groups only, until heal", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const c = yield* net.bind(C)
        const d = yield* net.bind(D)
        yield* net.partition([A, B], [C, D])
        yield* a.sendPacket(B, bytes(1))
        yield* a.sendPacket(C, bytes(2))
        yield* d.sendPacket(B, bytes(3))
        yield* c.sendPacket(D, bytes(4))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(b)).map((p) => p.bytes[0]), [1])
        assert.deepStrictEqual((yield* drain(c)).length, 0)
        assert.deepStrictEqual((yield* drain(d)).map((p) => p.bytes[0]), [4])
        assert.strictEqual((yield* net.stats(A)).packetsDropped, 1)
        assert.strictEqual((yield* net.stats(D)).packetsDropped, 1)
        yield* net.heal()
        yield* a.sendPacket(C, bytes(5))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(c)).map((p) => p.bytes[0]), [5])
      })))

  it.effect("a partition also cuts packets already in flight", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* a.sendPacket(B, bytes(1))
        yield* TestClock.adjust(5)
        yield* net.partition([A], [B])
        yield* TestClock.adjust(5)
        assert.strictEqual((yield* drain(b)).length, 0)
        assert.strictEqual((yield* net.stats(A)).packetsDropped, 1)
      }), { link: { latency: 10 } }))

  it.effect("several partitions add up", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        yield* net.bind(B)
        yield* net.bind(C)
        for (let i = 0; i < 40; i++) yield* net.partition([`10.1.0.${i + 1}:1`], [`10.2.0.${i + 1}:1`])
        yield* net.partition([A], [B])
        yield* net.partition([A], [C])
        yield* a.sendPacket(B, bytes(1))
        yield* a.sendPacket(C, bytes(1))
        assert.strictEqual((yield* net.stats(A)).packetsDropped, 2)
      })))

  it.effect("crash drops everything in and out until restore", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* a.sendPacket(B, bytes(1)) // in flight when B crashes
        yield* net.crash(B)
        yield* a.sendPacket(B, bytes(2))
        yield* b.sendPacket(A, bytes(3))
        yield* TestClock.adjust(1)
        assert.strictEqual((yield* drain(b)).length, 0)
        assert.strictEqual((yield* drain(a)).length, 0)
        assert.strictEqual((yield* net.stats(A)).packetsDropped, 2)
        assert.strictEqual((yield* net.stats(B)).packetsDropped, 1)
        yield* net.restore(B)
        yield* a.sendPacket(B, bytes(4))
        yield* b.sendPacket(A, bytes(5))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(b)).map((p) => p.bytes[0]), [4])
        assert.deepStrictEqual((yield* drain(a)).map((p) => p.bytes[0]), [5])
      })))

  it.effect("a timed pause holds packets and releases them in order when it ends", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* net.pause(B, 10)
        for (let i = 0; i < 5; i++) {
          yield* a.sendPacket(B, bytes(i))
          yield* TestClock.adjust(1)
        }
        yield* TestClock.adjust(4) // t = 9
        assert.strictEqual((yield* drain(b)).length, 0)
        yield* TestClock.adjust(1) // t = 10: the pause ends
        const got = yield* drain(b)
        assert.deepStrictEqual(got.map((p) => p.bytes[0]), [0, 1, 2, 3, 4])
        assert.isTrue(got.every((p) => p.at === 10))
        yield* a.sendPacket(B, bytes(9))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual((yield* drain(b)).map((p) => p.at), [11])
      })))

  it.effect("resume ends an open-ended pause at once; a new pause replaces the old", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* net.pause(B, 5)
        yield* net.pause(B) // no end of its own
        yield* a.sendPacket(B, bytes(1))
        yield* TestClock.adjust(20)
        assert.strictEqual((yield* drain(b)).length, 0)
        yield* net.resume(B)
        assert.deepStrictEqual(yield* drain(b), [{ from: A, bytes: bytes(1), at: 20 }])
      })))

  it.effect("packets held during a pause are bounded by the queue capacity", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* net.pause(B, 5)
        for (let i = 0; i < 5; i++) yield* a.sendPacket(B, bytes(i))
        yield* TestClock.adjust(5)
        assert.deepStrictEqual((yield* drain(b)).map((p) => p.bytes[0]), [0, 1, 2])
        assert.strictEqual((yield* net.stats(B)).queueOverflows, 2)
      }), { packetQueueCapacity: 3 }))

  it.effect("invalid fault arguments are defects", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(net.crash("not-an-address"))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
        const bad = yield* Effect.exit(net.setDefaultLink({ loss: 2 }))
        assert.isTrue(Exit.isFailure(bad) && Cause.hasDies(bad.cause))
        const overlap = yield* Effect.exit(net.partition([A], [A]))
        assert.isTrue(Exit.isFailure(overlap) && Cause.hasDies(overlap.cause))
      })))
})

describe("SimNetwork streams", () => {
  it.effect("connects after one round trip and carries bytes both ways with latency", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const dialing = yield* Effect.forkChild(a.dial(B, 1000))
        yield* TestClock.adjust(2)
        assert.isUndefined(dialing.pollUnsafe())
        assert.strictEqual(Queue.sizeUnsafe(b.streams), 0)
        yield* TestClock.adjust(1) // t = 3: the accepting side appears
        const accepted = yield* Queue.take(b.streams)
        assert.strictEqual(accepted.remote, A)
        assert.isUndefined(dialing.pollUnsafe())
        yield* TestClock.adjust(3) // t = 6: connect() returns
        const conn = yield* Fiber.join(dialing)
        assert.strictEqual(conn.remote, B)

        yield* conn.write(text("hello"))
        yield* conn.write(text(" world"))
        const reading = yield* Effect.forkChild(Effect.all([accepted.read, accepted.read]))
        yield* TestClock.adjust(2)
        assert.isUndefined(reading.pollUnsafe())
        yield* TestClock.adjust(1) // t = 9
        assert.deepStrictEqual((yield* Fiber.join(reading)).map(untext), ["hello", " world"])

        yield* accepted.write(text("reply"))
        const reply = yield* Effect.forkChild(conn.read)
        yield* TestClock.adjust(3)
        assert.strictEqual(untext(yield* Fiber.join(reply)), "reply")

        const stats = yield* net.stats(A)
        assert.strictEqual(stats.streamsOpened, 1)
        assert.strictEqual(stats.streamBytesSent, 11)
        assert.strictEqual(stats.streamBytesReceived, 5)
        assert.strictEqual((yield* net.stats(B)).streamsAccepted, 1)
      }), { link: { latency: 3 } }))

  it.effect("keeps write order under jitter", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const dialing = yield* Effect.forkChild(a.dial(B, 1000))
        yield* TestClock.adjust(40)
        const conn = yield* Fiber.join(dialing)
        const accepted = yield* Queue.take(b.streams)
        for (let i = 0; i < 100; i++) {
          yield* conn.write(bytes(i))
          yield* TestClock.adjust(1)
        }
        yield* TestClock.adjust(40)
        const got: Array<number> = []
        for (let i = 0; i < 100; i++) got.push((yield* accepted.read)[0]!)
        assert.deepStrictEqual(got, Array.from({ length: 100 }, (_, i) => i))
      }), { link: { latency: 10, jitter: 10 } }).pipe(Random.withSeed(11)))

  it.effect("read fails with Closed once the peer closed and the data is read", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const scope = yield* Scope.make()
        const conn = yield* a.dial(B, 1000).pipe(Scope.provide(scope))
        const accepted = yield* Queue.take(b.streams)
        yield* conn.write(text("last words"))
        yield* Scope.close(scope, Exit.void) // closing the dial scope closes the stream
        assert.strictEqual(failureOf(yield* Effect.exit(conn.read)).reason, "Closed")
        assert.strictEqual(failureOf(yield* Effect.exit(conn.write(text("x")))).reason, "Closed")
        assert.strictEqual(untext(yield* accepted.read), "last words")
        assert.strictEqual(failureOf(yield* Effect.exit(accepted.read)).reason, "Closed")
        assert.strictEqual(failureOf(yield* Effect.exit(accepted.write(text("x")))).reason, "Closed")
        yield* accepted.close
        yield* accepted.close // idempotent
      }), { link: { latency: 0 } }))

  it.effect("dial to an address nobody listens on is refused at once", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const error = failureOf(yield* Effect.exit(Effect.scoped(a.dial(B, 1000))))
        assert.strictEqual(error.reason, "Refused")
        assert.strictEqual(failureOf(yield* Effect.exit(Effect.scoped(a.dial("nowhere", 1000)))).reason, "BadAddress")
      })))

  it.effect("dial to a crashed or partitioned node times out after timeoutMillis", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        yield* net.bind(B)
        yield* net.bind(C)
        yield* net.crash(B)
        yield* net.partition([A], [C])
        for (const to of [B, C]) {
          const start = yield* TestClock.testClockWith((c) => c.currentTimeMillis)
          const dialing = yield* Effect.forkChild(Effect.exit(Effect.scoped(a.dial(to, 500))))
          yield* TestClock.adjust(499)
          assert.isUndefined(dialing.pollUnsafe())
          yield* TestClock.adjust(1)
          const exit = yield* Fiber.join(dialing)
          assert.strictEqual(failureOf(exit).reason, "Timeout")
          assert.strictEqual((yield* TestClock.testClockWith((c) => c.currentTimeMillis)) - start, 500)
        }
        assert.strictEqual(Queue.sizeUnsafe((yield* net.bind(D)).streams), 0)
      })))

  it.effect("dial times out when the round trip exceeds the timeout", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const dialing = yield* Effect.forkChild(Effect.exit(Effect.scoped(a.dial(B, 100))))
        yield* TestClock.adjust(100)
        assert.strictEqual(failureOf(yield* Fiber.join(dialing)).reason, "Timeout")
        assert.strictEqual(Queue.sizeUnsafe(b.streams), 0)
      }), { link: { latency: 60 } }))

  it.effect("a paused node's kernel still completes the handshake; its app sees the stream later", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* net.pause(B, 50)
        const dialing = yield* Effect.forkChild(a.dial(B, 1000))
        yield* TestClock.adjust(2)
        const conn = yield* Fiber.join(dialing)
        yield* conn.write(text("early"))
        yield* TestClock.adjust(10)
        assert.strictEqual(Queue.sizeUnsafe(b.streams), 0)
        yield* TestClock.adjust(38) // t = 50
        const accepted = yield* Queue.take(b.streams)
        assert.strictEqual(untext(yield* accepted.read), "early")
      })))

  it.effect("a partition resets open streams across the cut on both ends, for good", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const c = yield* net.bind(C)
        const [ab, ba] = yield* connect(a, b)
        const [ac, ca] = yield* connect(a, c)
        yield* ab.write(text("unread")) // arrived, never read: a reset discards it
        yield* TestClock.adjust(1)
        const reading = yield* Effect.forkChild(Effect.exit(ab.read))
        yield* Effect.yieldNow
        yield* net.partition([A], [B])
        // both ends fail at once, the waiting reader included
        const waiting = failureOf(yield* Fiber.join(reading))
        assert.deepStrictEqual([waiting.reason, waiting.message], ["Closed", "connection reset"])
        assert.strictEqual(failureOf(yield* Effect.exit(ba.read)).message, "connection reset")
        assert.strictEqual(failureOf(yield* Effect.exit(ab.write(text("x")))).message, "connection reset")
        assert.strictEqual(failureOf(yield* Effect.exit(ba.write(text("x")))).message, "connection reset")
        yield* net.heal()
        assert.strictEqual(failureOf(yield* Effect.exit(ab.read)).reason, "Closed")
        yield* ab.close // idempotent after a reset
        // the stream that does not cross the cut is untouched
        yield* ac.write(text("fine"))
        yield* TestClock.adjust(1)
        assert.strictEqual(untext(yield* ca.read), "fine")
        assert.strictEqual((yield* net.stats(A)).streamsReset, 1)
        assert.strictEqual((yield* net.stats(B)).streamsReset, 1)
        assert.strictEqual((yield* net.stats(C)).streamsReset, 0)
      })))

  it.effect("a reader that stops reading: the chunk that finds its inbox full resets the connection, counted", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const [ab, ba] = yield* connect(a, b)
        for (let i = 0; i < 4; i++) yield* ab.write(bytes(i))
        yield* TestClock.adjust(1)
        // four chunks fill the window; nothing lost yet, and the reader still gets them in order
        assert.strictEqual((yield* net.stats(B)).queueOverflows, 0)
        assert.deepStrictEqual(Array.from(yield* ba.read), [0])
        yield* ab.write(bytes(4))
        yield* ab.write(bytes(5)) // one too many
        yield* TestClock.adjust(1)
        assert.strictEqual(failureOf(yield* Effect.exit(ba.read)).message, "connection reset")
        assert.strictEqual(failureOf(yield* Effect.exit(ab.write(bytes(6)))).message, "connection reset")
        assert.strictEqual((yield* net.stats(B)).queueOverflows, 1)
        assert.strictEqual((yield* net.stats(A)).streamsReset, 1)
        assert.strictEqual((yield* net.stats(B)).streamsReset, 1)
      }), { streamInboxCapacity: 4 }))

  it.effect("a partition during the handshake fails the dial; the other side never sees the stream", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const dialing = yield* Effect.forkChild(Effect.exit(Effect.scoped(a.dial(B, 1000))))
        yield* TestClock.adjust(5)
        yield* net.partition([A], [B])
        yield* TestClock.adjust(15) // the round trip ends at t = 20
        const error = failureOf(yield* Fiber.join(dialing))
        assert.deepStrictEqual([error.reason, error.message], ["Closed", "connection reset"])
        assert.strictEqual(Queue.sizeUnsafe(b.streams), 0)
        assert.strictEqual((yield* net.stats(A)).streamsOpened, 0)
      }), { link: { latency: 10 } }))

  it.effect("closing a node's transport closes its streams", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const scope = yield* Scope.make()
        const b = yield* net.bind(B).pipe(Scope.provide(scope))
        const dialing = yield* Effect.forkChild(a.dial(B, 1000))
        yield* TestClock.adjust(2)
        const conn = yield* Fiber.join(dialing)
        yield* Queue.take(b.streams)
        yield* Scope.close(scope, Exit.void)
        const reading = yield* Effect.forkChild(Effect.exit(conn.read))
        yield* TestClock.adjust(1)
        assert.strictEqual(failureOf(yield* Fiber.join(reading)).reason, "Closed")
      })))
})

describe("SimNetwork stream faults (streamLoss)", () => {
  it.effect("a lost dial times out after timeoutMillis; the link is one-way", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        yield* net.setLink(A, B, { streamLoss: 1 })
        const dialing = yield* Effect.forkChild(Effect.exit(Effect.scoped(a.dial(B, 300))))
        yield* TestClock.adjust(299)
        assert.isUndefined(dialing.pollUnsafe())
        yield* TestClock.adjust(1)
        assert.strictEqual(failureOf(yield* Fiber.join(dialing)).reason, "Timeout")
        assert.strictEqual(Queue.sizeUnsafe(b.streams), 0)
        assert.strictEqual((yield* net.stats(A)).dialsLost, 1)
        // B to A has no stream loss: its dial connects
        const [ba] = yield* connect(b, a)
        assert.strictEqual(ba.remote, A)
      })))

  it.effect("a lost chunk resets the connection when it would have arrived; earlier bytes still arrive", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const [ab, ba] = yield* connect(a, b) // t = 10
        yield* ab.write(text("kept"))
        yield* net.setLink(A, B, { streamLoss: 1 })
        yield* ab.write(text("lost"))
        yield* ab.write(text("after")) // never arrives: the connection is gone by then
        const reading = yield* Effect.forkChild(Effect.exit(ab.read))
        yield* TestClock.adjust(4)
        assert.isUndefined(reading.pollUnsafe())
        assert.isUndefined(yield* ab.write(text("still open"))) // the writer learns of it with the reader
        yield* TestClock.adjust(1) // t = 15: the lost chunk was due
        const error = failureOf(yield* Fiber.join(reading))
        assert.deepStrictEqual([error.reason, error.message], ["Closed", "connection reset"])
        // "kept" arrived at t = 15 too, before the reset: a reset discards unread bytes, as TCP's RST does
        assert.strictEqual(failureOf(yield* Effect.exit(ba.read)).message, "connection reset")
        assert.strictEqual(failureOf(yield* Effect.exit(ba.write(text("x")))).message, "connection reset")
        assert.strictEqual((yield* net.stats(A)).streamsReset, 1)
        assert.strictEqual((yield* net.stats(B)).streamsReset, 1)
        assert.strictEqual((yield* net.stats(B)).streamBytesReceived, 4)
      }), { link: { latency: 5 } }))

  it.effect("the reader sees bytes that arrived before a later lost chunk was due", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const [ab, ba] = yield* connect(a, b)
        yield* ab.write(text("first"))
        yield* TestClock.adjust(3)
        yield* net.setLink(A, B, { streamLoss: 1 })
        yield* ab.write(text("lost"))
        yield* TestClock.adjust(2) // "first" is due now, the lost chunk at +3
        assert.strictEqual(untext(yield* ba.read), "first")
        yield* TestClock.adjust(3)
        assert.strictEqual(failureOf(yield* Effect.exit(ba.read)).message, "connection reset")
      }), { link: { latency: 5 } }))

  it.effect("packet loss alone leaves streams reliable", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const [ab, ba] = yield* connect(a, b)
        for (let i = 0; i < 50; i++) yield* ab.write(bytes(i))
        yield* TestClock.adjust(1)
        for (let i = 0; i < 50; i++) assert.strictEqual((yield* ba.read)[0], i)
        assert.strictEqual((yield* net.totals()).streamsReset, 0)
      }), { link: { loss: 1 } }))

  /** 300 connections, each dialed with a 100 ms timeout and carrying one chunk: how each fared. */
  const faultRun = (seed: string) =>
    withNet((net) =>
      Effect.gen(function*() {
        const a = yield* net.bind(A)
        const b = yield* net.bind(B)
        const outcomes: Array<"lost" | "reset" | "ok"> = []
        for (let i = 0; i < 300; i++) {
          const dialing = yield* Effect.forkChild(Effect.exit(a.dial(B, 100)))
          yield* TestClock.adjust(2)
          if (dialing.pollUnsafe() === undefined) {
            yield* TestClock.adjust(98)
            assert.strictEqual(failureOf(yield* Fiber.join(dialing)).reason, "Timeout")
            outcomes.push("lost")
            continue
          }
          const exit = yield* Fiber.join(dialing)
          if (Exit.isFailure(exit)) return assert.fail("dial failed")
          const conn = exit.value
          const accepted = yield* Queue.take(b.streams)
          yield* conn.write(bytes(i & 0xff))
          yield* TestClock.adjust(1)
          const got = yield* Effect.exit(accepted.read)
          outcomes.push(Exit.isSuccess(got) ? "ok" : "reset")
          yield* conn.close
          yield* accepted.close
        }
        return { outcomes, stats: yield* net.stats(A) }
      }), { link: { streamLoss: 0.25 } }).pipe(Effect.scoped, Random.withSeed(seed))

  it.effect("fails about the configured fraction of dials and chunks, identically with the same seed", () =>
    Effect.gen(function*() {
      const first = yield* faultRun("faults")
      const count = (o: string) => first.outcomes.filter((x) => x === o).length
      const lostRate = count("lost") / 300
      const resetRate = count("reset") / (300 - count("lost"))
      assert.isTrue(lostRate > 0.18 && lostRate < 0.32, `dial loss rate ${lostRate}`)
      assert.isTrue(resetRate > 0.18 && resetRate < 0.32, `reset rate ${resetRate}`)
      assert.strictEqual(first.stats.dialsLost, count("lost"))
      assert.strictEqual(first.stats.streamsReset, count("reset"))
      assert.deepStrictEqual((yield* faultRun("faults")).outcomes, first.outcomes)
      assert.notDeepEqual((yield* faultRun("other")).outcomes, first.outcomes)
    }))

  it.effect("streamLoss out of range is a defect", () =>
    withNet((net) =>
      Effect.gen(function*() {
        const bad = yield* Effect.exit(net.setLink(A, B, { streamLoss: -0.1 }))
        assert.isTrue(Exit.isFailure(bad) && Cause.hasDies(bad.cause))
      })))
})
