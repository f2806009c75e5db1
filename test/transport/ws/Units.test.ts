/**
 * The WebSocket transport's pure parts: frames, the outbound queue's drop
 * policy, stream credit, limits and addresses.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { Dns, Host } from "effect/net"
import { TransportError } from "../../../src/transport/Transport.ts"
import * as F from "../../../src/transport/ws/Frame.ts"
import { Defaults, resolveLimits } from "../../../src/transport/ws/Limits.ts"
import { MuxStream } from "../../../src/transport/ws/MuxStream.ts"
import { Outbound } from "../../../src/transport/ws/Outbound.ts"
import { parseTarget, resolveSeed } from "../../../src/transport/ws/WsAddress.ts"

const bytes = (...xs: Array<number>) => Uint8Array.from(xs)

describe("frames", () => {
  it("round-trip every kind", () => {
    assert.deepStrictEqual(F.decodeFrame(F.encodeHello(bytes(10, 0, 0, 1), 7946)), {
      _tag: "Hello",
      version: F.PROTOCOL_VERSION,
      addr: bytes(10, 0, 0, 1),
      port: 7946
    })
    const v6 = new Uint8Array(16).fill(0xfd, 0, 1)
    assert.deepStrictEqual((F.decodeFrame(F.encodeHello(v6, 1)) as { addr: Uint8Array }).addr, v6)
    assert.deepStrictEqual(F.decodeFrame(F.encodePacket(bytes(1, 2, 3))), { _tag: "Packet", bytes: bytes(1, 2, 3) })
    assert.deepStrictEqual(F.decodeFrame(F.encodeOpen(0xfffffffe)), { _tag: "Open", id: 0xfffffffe })
    assert.deepStrictEqual(F.decodeFrame(F.encodeData(7, bytes(9))), { _tag: "Data", id: 7, bytes: bytes(9) })
    assert.deepStrictEqual(F.decodeFrame(F.encodeCredit(7, 65_536)), { _tag: "Credit", id: 7, bytes: 65_536 })
    assert.deepStrictEqual(F.decodeFrame(F.encodeClose(7)), { _tag: "Close", id: 7 })
    assert.deepStrictEqual(F.decodeFrame(F.encodeReset(7)), { _tag: "Reset", id: 7 })
    assert.deepStrictEqual(F.decodeFrame(F.encodePing(3)), { _tag: "Ping", nonce: 3 })
    assert.deepStrictEqual(F.decodeFrame(F.encodePong(3)), { _tag: "Pong", nonce: 3 })
  })

  it("refuse garbage with a reason, never throwing", () => {
    const garbage = [
      bytes(),
      bytes(0x00),
      bytes(0x7f, 1, 2),
      bytes(F.FrameType.Hello, 1, 0),
      bytes(F.FrameType.Hello, 1, 0x1e, 0x6a, 5, 1, 2, 3, 4, 5),
      bytes(F.FrameType.Hello, 1, 0x1e, 0x6a, 4, 1, 2, 3),
      bytes(F.FrameType.Open, 0, 0),
      bytes(F.FrameType.Open, 0, 0, 0, 1, 9),
      bytes(F.FrameType.Credit, 0, 0, 0, 1, 0)
    ]
    for (const g of garbage) assert.strictEqual(F.decodeFrame(g)._tag, "FrameError", `${[...g]}`)
    for (let seed = 1; seed < 2000; seed++) {
      const random = Uint8Array.from({ length: seed % 40 }, (_, i) => (seed * 31 + i * 17) & 0xff)
      F.decodeFrame(random)
    }
  })
})

describe("outbound queue", () => {
  it("drops the oldest datagram when full, counting each; control frames are never dropped", () =>
    Effect.runSync(Effect.gen(function*() {
      let dropped = 0
      const q = new Outbound(3, () => dropped++)
      for (let i = 1; i <= 5; i++) q.pushPacket(bytes(i))
      q.pushControl(bytes(100))
      q.pushControl(bytes(101))
      assert.strictEqual(dropped, 2)
      const batch = yield* q.take
      assert.deepStrictEqual(batch.map((b) => b[0]), [100, 101, 3, 4, 5])
      q.pushPacket(bytes(6))
      assert.strictEqual(q.close(), 1)
      assert.isFalse(q.pushPacket(bytes(7)))
      assert.isFalse(q.pushControl(bytes(8)))
    })))

  it.effect("settled waits for every frame queued before it: written, dropped when full, or lost at close", () =>
    Effect.gen(function*() {
      const q = new Outbound(2, () => {})
      const isDone = (f: Fiber.Fiber<void>) => f.pollUnsafe() !== undefined
      yield* q.settled
      q.pushPacket(bytes(1))
      q.pushControl(bytes(2))
      // each waiter starts (and counts what is queued) before anything else happens
      const first = yield* Effect.forkChild(q.settled)
      yield* Effect.yieldNow
      const batch = yield* q.take
      q.pushPacket(bytes(3))
      const second = yield* Effect.forkChild(q.settled)
      yield* Effect.yieldNow
      assert.isFalse(isDone(first))
      // the writer wrote what it took: the frames queued before `first`, not `second`'s
      q.settle(batch.length)
      yield* Effect.yieldNow
      assert.isTrue(isDone(first))
      assert.isFalse(isDone(second))
      // 4 and 5 push 3 out of the full lane: it is settled, they are not
      q.pushPacket(bytes(4))
      q.pushPacket(bytes(5))
      yield* Effect.yieldNow
      assert.isTrue(isDone(second))
      const third = yield* Effect.forkChild(q.settled)
      yield* Effect.yieldNow
      assert.isFalse(isDone(third))
      assert.strictEqual(q.close(), 2)
      yield* Effect.yieldNow
      assert.isTrue(isDone(third))
    }))
})

describe("stream credit", () => {
  /** A stream whose frames land in `sent`. */
  const stream = (window: number) => {
    const sent: Array<F.Frame> = []
    const s = new MuxStream(1, "peer", {
      send: (frame) => {
        sent.push(F.decodeFrame(frame) as F.Frame)
        return true
      },
      release: () => {}
    }, window)
    return { s, sent }
  }
  const dataBytes = (sent: ReadonlyArray<F.Frame>) =>
    sent.reduce((n, f) => n + (f._tag === "Data" ? f.bytes.length : 0), 0)

  it.effect("a writer sends at most the window, then waits for credit", () =>
    Effect.gen(function*() {
      const { s, sent } = stream(32 * 1024)
      const writing = yield* Effect.forkChild(s.write(new Uint8Array(100 * 1024)))
      yield* Effect.yieldNow
      assert.strictEqual(dataBytes(sent), 32 * 1024)
      assert.isUndefined(writing.pollUnsafe())
      s.grant(40 * 1024)
      yield* Effect.yieldNow
      assert.strictEqual(dataBytes(sent), 72 * 1024)
      s.grant(64 * 1024)
      yield* Fiber.join(writing)
      assert.strictEqual(dataBytes(sent), 100 * 1024)
      assert.isTrue(sent.every((f) => f._tag !== "Data" || f.bytes.length <= 16 * 1024))
    }))

  it.effect("a reader grants credit once it has read half the window; a sender past its credit is refused", () =>
    Effect.gen(function*() {
      const { s, sent } = stream(32 * 1024)
      assert.isTrue(s.receive(new Uint8Array(16 * 1024)))
      assert.isTrue(s.receive(new Uint8Array(16 * 1024)))
      assert.isFalse(s.receive(new Uint8Array(1)))
      yield* s.read
      assert.deepStrictEqual(sent, [{ _tag: "Credit", id: 1, bytes: 16 * 1024 }])
      yield* s.read
      s.end(new TransportError({ reason: "Closed", address: "peer", message: "gone" }))
      const after = yield* Effect.exit(s.read)
      assert.isTrue(Exit.isFailure(after))
    }))

  it.effect("close tells the peer once; reads and writes then fail", () =>
    Effect.gen(function*() {
      const { s, sent } = stream(32 * 1024)
      yield* s.close
      yield* s.close
      assert.deepStrictEqual(sent, [{ _tag: "Close", id: 1 }])
      assert.strictEqual((yield* Effect.flip(s.read)).reason, "Closed")
      assert.strictEqual((yield* Effect.flip(s.write(bytes(1)))).reason, "Closed")
    }))
})

describe("limits", () => {
  it("fill in defaults and refuse what cannot work", () => {
    assert.deepStrictEqual(resolveLimits(undefined), Defaults)
    assert.strictEqual((resolveLimits({ idleTimeout: 10 }) as typeof Defaults).idleTimeout, 10)
    assert.include(resolveLimits({ peerQueueSize: 0 }) as string, "peerQueueSize")
    assert.include(resolveLimits({ maxFrameSize: 1000 }) as string, "maxFrameSize")
  })
})

describe("addresses", () => {
  const endpoint = { secure: false, path: "/gossip" }
  it("a member's ip:port is reached with the cluster's scheme and path; URLs as given", () => {
    assert.deepInclude(parseTarget("10.0.0.1:7946", endpoint), { host: "10.0.0.1", port: 7946, path: "/gossip", secure: false })
    assert.deepInclude(parseTarget("10.0.0.1:7946", { secure: true, path: "/g?x=1" }), { secure: true, path: "/g?x=1" })
    assert.deepInclude(parseTarget("https://seed.example.com/a/b#10.0.0.9", endpoint), {
      secure: true,
      host: "seed.example.com",
      port: 443,
      path: "/a/b",
      ip: "10.0.0.9"
    })
    assert.deepInclude(parseTarget("http://[::1]:8080/g", endpoint), { secure: false, host: "::1", port: 8080 })
    assert.strictEqual((parseTarget("ws://seed/g#not-an-ip", endpoint) as { reason: string }).reason, "BadAddress")
    assert.strictEqual((parseTarget("a b c", endpoint) as { reason: string }).reason, "BadAddress")
  })

  const dns = Dns.layerStatic({
    hosts: { "seed.example.com": ["10.0.0.7", "10.0.0.8"], "n1.example.com": ["10.0.1.1"], "n2.example.com": ["10.0.2.2"] },
    records: {
      "_gossip._tcp.example.com": [
        Dns.makeRecordUnsafe("SRV", { priority: 10, weight: 5, port: 8443, target: Host.domainNameFromStringUnsafe("n1.example.com") }),
        Dns.makeRecordUnsafe("SRV", { priority: 5, weight: 5, port: 9443, target: Host.domainNameFromStringUnsafe("n2.example.com") })
      ]
    }
  })

  it.effect("seeds: URL forms, every address of a name pinned, srv+https from SRV records, UDP forms unchanged", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* resolveSeed("wss://seed.example.com/gossip"), [
        "wss://seed.example.com:443/gossip#10.0.0.7",
        "wss://seed.example.com:443/gossip#10.0.0.8"
      ])
      assert.deepStrictEqual(yield* resolveSeed("http://10.0.0.5:8080/g"), ["ws://10.0.0.5:8080/g"])
      assert.deepStrictEqual(yield* resolveSeed("https://10.0.0.5/g?c=1"), ["wss://10.0.0.5:443/g?c=1"])
      assert.deepStrictEqual(yield* resolveSeed("srv+https://_gossip._tcp.example.com/cluster"), [
        "wss://n2.example.com:9443/cluster#10.0.2.2",
        "wss://n1.example.com:8443/cluster#10.0.1.1"
      ])
      assert.deepStrictEqual(yield* resolveSeed("10.0.0.5:7000"), ["10.0.0.5:7000"])
      assert.deepStrictEqual(yield* resolveSeed("seed.example.com:7000"), ["10.0.0.7:7000", "10.0.0.8:7000"])
      assert.strictEqual((yield* Effect.flip(resolveSeed("srv+https://nope.example.com/x"))).reason, "Invalid")
      assert.strictEqual((yield* Effect.flip(resolveSeed("ws://missing.example.com/g"))).reason, "NotFound")
    }).pipe(Effect.provide(Layer.orDie(dns))))
})
