import { assert, describe, it } from "@effect/vitest"
import { NodeDatagramSocket } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Queue, Schedule, Scope } from "effect"
import { Socket } from "effect/socket"
import { Dns, Host } from "effect/net"
import { networkInterfaces } from "node:os"
import { chooseAdvertise, defaultAdvertiseIp, isPrivateIpv4, isWildcard } from "../../src/transport/Advertise.ts"
import { resolveAddress, resolveAll } from "../../src/transport/Resolve.ts"
import { makeTargetCache } from "../../src/transport/TargetCache.ts"
import { dialError } from "../../src/transport/TcpStreams.ts"
import { type StreamConnection, Transport, TransportError, type TransportShape } from "../../src/transport/Transport.ts"
import { UdpTcpTransport, type UdpTcpTransportOptions } from "../../src/transport/UdpTcpTransport.ts"

const text = (s: string) => new TextEncoder().encode(s)
const str = (b: Uint8Array) => new TextDecoder().decode(b)

// Only names used by the hostname tests; everything else is an IP literal.
const testDns = Layer.orDie(Dns.layerStatic({
  hosts: { "loop.gossip.test": ["127.0.0.1"] }
}))

/** Binds a transport in `scope` (the test's own scope unless given). */
const start = (options: UdpTcpTransportOptions, scope?: Scope.Scope) =>
  Effect.gen(function*() {
    const s = scope ?? (yield* Effect.scope)
    const built = yield* UdpTcpTransport.make(options).pipe(Scope.provide(s), Effect.provide(testDns), Effect.orDie)
    return { t: built.transport as TransportShape, info: built.info, port: built.info.port }
  })

/** Binds and fails with the TransportError instead of dying. */
const tryStart = (options: UdpTcpTransportOptions) =>
  UdpTcpTransport.make(options).pipe(Effect.provide(testDns))

const guard = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.timeout(self, "10 seconds")

/** Reads until the peer closes; returns everything read. */
const readAll = (conn: StreamConnection) =>
  Effect.gen(function*() {
    let out = ""
    while (true) {
      const r = yield* Effect.result(conn.read)
      if (r._tag === "Failure") {
        assert.strictEqual(r.failure.reason, "Closed")
        return out
      }
      out += str(r.success)
    }
  })

const hasIpv6Loopback = Object.values(networkInterfaces()).some((infos) =>
  (infos ?? []).some((i) => i.family === "IPv6" && i.address === "::1")
)

describe("UdpTcpTransport", () => {
  it.live("two transports exchange packets both ways", () =>
    guard(Effect.gen(function*() {
      const a = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      const b = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      assert.notStrictEqual(a.port, 0)
      assert.deepStrictEqual([...a.t.advertise.addr], [127, 0, 0, 1])
      assert.strictEqual(a.t.advertise.port, a.port)

      yield* a.t.sendPacket(`127.0.0.1:${b.port}`, text("ping"))
      const atB = yield* Queue.take(b.t.packets)
      assert.strictEqual(str(atB.bytes), "ping")
      assert.strictEqual(atB.from, `127.0.0.1:${a.port}`)
      assert.isTrue(atB.at > 0)

      // reply to the address the packet came from; also through a host name
      yield* b.t.sendPacket(atB.from, text("ack"))
      yield* b.t.sendPacket(`loop.gossip.test:${a.port}`, text("ack2"))
      const atA = yield* Queue.take(a.t.packets)
      const atA2 = yield* Queue.take(a.t.packets)
      assert.deepStrictEqual([str(atA.bytes), str(atA2.bytes)], ["ack", "ack2"])
      assert.strictEqual(atA.from, `127.0.0.1:${b.port}`)
      assert.strictEqual((yield* a.info.stats).packetsReceived, 2)
    })))

  it.live("a stream carries one request and one response, both ways", () =>
    guard(Effect.gen(function*() {
      const a = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      const b = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })

      const exchange = (from: typeof a, to: typeof b, request: string, response: string) =>
        Effect.gen(function*() {
          // TCP on the same port number the packets use
          const client = yield* from.t.dial(`127.0.0.1:${to.port}`, 2_000)
          yield* client.write(text(request))
          const server = yield* Queue.take(to.t.streams)
          assert.strictEqual(server.remote.startsWith("127.0.0.1:"), true)
          assert.strictEqual(str(yield* server.read), request)
          yield* server.write(text(response))
          yield* server.close
          assert.strictEqual(yield* readAll(client), response)
          yield* client.close
          const afterClose = yield* Effect.flip(client.write(text("late")))
          assert.strictEqual(afterClose.reason, "Closed")
        }).pipe(Effect.scoped)

      yield* exchange(a, b, "push-pull from a", "state of b")
      yield* exchange(b, a, "push-pull from b", "state of a")
      assert.strictEqual((yield* b.info.stats).streamsAccepted, 1)
    })))

  it.live("dial to a port nobody listens on fails with Refused", () =>
    guard(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const gone = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 }, scope)
      yield* Scope.close(scope, Exit.void)
      const a = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      const err = yield* Effect.flip(Effect.scoped(a.t.dial(`127.0.0.1:${gone.port}`, 2_000)))
      assert.strictEqual(err.reason, "Refused")
      const bad = yield* Effect.flip(Effect.scoped(a.t.dial("not an address", 2_000)))
      assert.strictEqual(bad.reason, "BadAddress")
    })))

  it.live("binding a port in use (TCP or UDP) fails with Bind", () =>
    guard(Effect.gen(function*() {
      const a = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      const both = yield* Effect.flip(tryStart({ bindAddress: "127.0.0.1", bindPort: a.port }))
      assert.instanceOf(both, TransportError)
      assert.strictEqual(both.reason, "Bind")

      // only the UDP port taken: TCP binds, UDP fails, TCP is released again.
      // Another process may hold the same TCP port (an ephemeral outgoing
      // connection, say); then the case does not apply and another port is tried.
      const onlyUdp = yield* Effect.gen(function*() {
        for (let attempt = 0; attempt < 20; attempt++) {
          const udp = yield* NodeDatagramSocket.make({ bind: { address: "127.0.0.1", port: 0 } })
          const reader = yield* udp.reader
          const err = yield* Effect.flip(tryStart({ bindAddress: "127.0.0.1", bindPort: reader.address.port }))
          if (!err.message.startsWith("TCP")) return err
        }
        return assert.fail("20 UDP ports in a row had their TCP port taken")
      })
      assert.strictEqual(onlyUdp.reason, "Bind")
      assert.include(onlyUdp.message, "UDP")

      const notIp = yield* Effect.flip(tryStart({ bindAddress: "localhost", bindPort: 0 }))
      assert.strictEqual(notIp.reason, "BadAddress")
    })))

  it.live("closing the layer's scope closes every socket and frees the port", () =>
    guard(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const services = yield* Layer.buildWithScope(
        UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 }),
        scope
      )
      const a = Context.get(services, Transport)
      const port = Context.get(services, UdpTcpTransport).port
      const b = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      // an accepted stream the consumer never closes must not keep the socket open
      const client = yield* b.t.dial(`127.0.0.1:${port}`, 2_000)
      yield* client.write(text("stalled"))
      yield* Queue.take(a.streams)
      yield* Scope.close(scope, Exit.void)

      assert.strictEqual((yield* Effect.flip(client.read)).reason, "Closed")
      const late = yield* Effect.flip(a.sendPacket(`127.0.0.1:${b.port}`, text("late")))
      assert.strictEqual(late.reason, "Closed")
      assert.strictEqual((yield* Effect.flip(Effect.scoped(a.dial(`127.0.0.1:${b.port}`, 1_000)))).reason, "Closed")
      // UDP and TCP on the same port can be bound again at once
      const again = yield* Layer.build(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: port }))
      assert.strictEqual(Context.get(again, UdpTcpTransport).port, port)
    })))

  it.live("an oversized packet is rejected with TooLarge", () =>
    guard(Effect.gen(function*() {
      const a = yield* start({ bindAddress: "127.0.0.1", bindPort: 0, maxPacketSize: 1000 })
      assert.strictEqual(a.t.maxPacketSize, 1000)
      const err = yield* Effect.flip(a.t.sendPacket(`127.0.0.1:${a.port}`, new Uint8Array(1001)))
      assert.strictEqual(err.reason, "TooLarge")
      yield* a.t.sendPacket(`127.0.0.1:${a.port}`, new Uint8Array(1000))
      assert.strictEqual((yield* Queue.take(a.t.packets)).bytes.length, 1000)

      const d = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      assert.strictEqual(d.t.maxPacketSize, 65_507)
      yield* d.t.sendPacket(`127.0.0.1:${d.port}`, new Uint8Array(65_507))
      assert.strictEqual((yield* Queue.take(d.t.packets)).bytes.length, 65_507)
      const big = yield* Effect.flip(d.t.sendPacket(`127.0.0.1:${d.port}`, new Uint8Array(65_508)))
      assert.strictEqual(big.reason, "TooLarge")
    })))

  it.live("inbound packets beyond the queue capacity are dropped and counted", () =>
    guard(Effect.gen(function*() {
      const a = yield* start({ bindAddress: "127.0.0.1", bindPort: 0, inboundPacketCapacity: 4 })
      const b = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      // One datagram at a time, each sent once the previous one has been counted, so the
      // counts after each step are exact however the machine schedules the receive pump.
      for (let i = 0; i < 20; i++) {
        yield* b.t.sendPacket(`127.0.0.1:${a.port}`, text(`p${i}`))
        const stats = yield* a.info.stats.pipe(
          Effect.repeat({ schedule: Schedule.spaced("5 millis"), until: (s) => s.packetsReceived > i })
        )
        assert.strictEqual(stats.packetsReceived, i + 1)
        // nothing reads the queue: the first 4 are kept, every later one is dropped and counted
        assert.strictEqual(stats.packetsDropped, Math.max(0, i + 1 - 4), `after p${i}`)
      }
      const kept = yield* Queue.takeAll(a.t.packets)
      assert.deepStrictEqual(kept.map((p) => str(p.bytes)), ["p0", "p1", "p2", "p3"])
    })))

  it.live("inbound streams beyond the capacity are closed and counted", () =>
    guard(Effect.gen(function*() {
      const a = yield* start({ bindAddress: "127.0.0.1", bindPort: 0, inboundStreamCapacity: 1 })
      const b = yield* start({ bindAddress: "127.0.0.1", bindPort: 0 })
      const first = yield* b.t.dial(`127.0.0.1:${a.port}`, 2_000)
      const held = yield* Queue.take(a.t.streams)
      const second = yield* b.t.dial(`127.0.0.1:${a.port}`, 2_000)
      assert.strictEqual((yield* Effect.flip(second.read)).reason, "Closed")
      assert.strictEqual((yield* a.info.stats).streamsRejected, 1)
      // once the held stream is closed, a new one is served again
      yield* held.close
      yield* first.close
      yield* a.info.stats.pipe(Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (s) => s.streamsOpen === 0 }))
      const third = yield* b.t.dial(`127.0.0.1:${a.port}`, 2_000)
      yield* third.write(text("x"))
      const served = yield* Queue.take(a.t.streams)
      assert.strictEqual(str(yield* served.read), "x")
      yield* third.close
    })))

  it.live.skipIf(!hasIpv6Loopback)(
    hasIpv6Loopback ? "IPv6 loopback: packets and streams" : "IPv6 loopback (skipped: this machine has no ::1)",
    () =>
      guard(Effect.gen(function*() {
        const a = yield* start({ bindAddress: "::1", bindPort: 0 })
        const b = yield* start({ bindAddress: "::1", bindPort: 0 })
        assert.strictEqual(a.t.advertise.addr.length, 16)
        yield* a.t.sendPacket(`[::1]:${b.port}`, text("v6"))
        const got = yield* Queue.take(b.t.packets)
        assert.strictEqual(got.from, `[::1]:${a.port}`)
        const client = yield* b.t.dial(got.from, 2_000)
        yield* client.write(text("hello6"))
        const server = yield* Queue.take(a.t.streams)
        assert.strictEqual(server.remote.startsWith("[::1]:"), true)
        assert.strictEqual(str(yield* server.read), "hello6")
        yield* server.close
      }))
  )
})

describe("advertise address", () => {
  it("a wildcard bind advertises the first private IPv4, as memberlist does, or fails asking for one", () => {
    assert.isTrue(isWildcard("0.0.0.0"))
    assert.isTrue(isWildcard("::"))
    assert.isFalse(isWildcard("127.0.0.1"))
    const lo = { address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", mac: "", internal: true, cidr: null } as const
    const ip = (address: string) => ({ ...lo, address, internal: false }) as const
    const v6 = { ...lo, address: "fd00::2", family: "IPv6", internal: false, scopeid: 0 } as const
    assert.strictEqual(defaultAdvertiseIp({ lo: [lo], eth0: [v6, ip("10.1.2.3")] }), "10.1.2.3")
    assert.strictEqual(defaultAdvertiseIp({ eth0: [ip("8.8.8.8")], eth1: [ip("172.20.0.5")] }), "172.20.0.5")
    for (const priv of ["192.168.1.1", "172.16.0.1", "172.31.255.1", "100.64.0.1", "100.127.0.1"]) {
      assert.isTrue(isPrivateIpv4(priv), priv)
    }
    for (const pub of ["172.32.0.1", "192.0.2.2", "100.128.0.1", "8.8.8.8", "127.0.0.1"]) assert.isFalse(isPrivateIpv4(pub), pub)
    assert.isUndefined(defaultAdvertiseIp({ lo: [lo], eth0: [ip("192.0.2.2")] }))
    const none = chooseAdvertise({ bindAddress: "0.0.0.0", boundPort: 7946, interfaces: { lo: [lo], eth0: [ip("192.0.2.2")] } })
    assert.deepInclude(none, { _tag: "TransportError", reason: "BadAddress", address: "0.0.0.0" })
    assert.include((none as { message: string }).message, "advertise")
    const explicit = chooseAdvertise({ bindAddress: "0.0.0.0", boundPort: 7946, advertiseAddress: "192.0.2.2", interfaces: {} })
    assert.deepStrictEqual(explicit, { addr: Uint8Array.of(192, 0, 2, 2), port: 7946 })
  })

  it.live("advertiseAddress and advertisePort override the bound ones", () =>
    guard(Effect.gen(function*() {
      const a = yield* start({
        bindAddress: "127.0.0.1",
        bindPort: 0,
        advertiseAddress: "10.9.8.7",
        advertisePort: 17946
      })
      assert.deepStrictEqual([...a.t.advertise.addr], [10, 9, 8, 7])
      assert.strictEqual(a.t.advertise.port, 17946)
    })))
})

describe("dial errors", () => {
  it("connect timeout and refusal map to Timeout and Refused", () => {
    const timeout = new Socket.SocketError({
      reason: new Socket.SocketOpenError({ kind: "Timeout", cause: new Error("Connection timed out") })
    })
    assert.strictEqual(dialError("a:1")(timeout).reason, "Timeout")
    const refused = new Socket.SocketError({
      reason: new Socket.SocketOpenError({ kind: "Unknown", cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) })
    })
    assert.strictEqual(dialError("a:1")(refused).reason, "Refused")
  })
})

describe("target cache", () => {
  it.effect("a dual-stack (IPv6) socket reaches IPv4 peers through IPv4-mapped addresses", () =>
    Effect.gen(function*() {
      const dns = yield* Dns.Dns
      const v6 = makeTargetCache(dns, { udpFamily: "ipv6" })
      const t = v6.literal("10.0.0.1:7946")
      assert.isTrue(t !== undefined && !(t instanceof TransportError))
      if (t === undefined || t instanceof TransportError) return
      assert.strictEqual(t.udp._tag, "InetAddressV6")
      assert.strictEqual(t.host, "10.0.0.1")
      assert.strictEqual(v6.literal("10.0.0.1:7946"), t) // parsed once
      const v4 = makeTargetCache(dns, { udpFamily: "ipv4" })
      const mapped = v4.literal("[::ffff:10.0.0.1]:7946")
      assert.isTrue(mapped !== undefined && !(mapped instanceof TransportError) && mapped.udp._tag === "InetAddressV4")
      const v6Only = v4.literal("[fd00::1]:7946")
      assert.isTrue(v6Only instanceof TransportError && v6Only.reason === "Unreachable")
      assert.strictEqual(v4.literal("loop.gossip.test:1"), undefined)
      const named = yield* v4.resolve("loop.gossip.test:1")
      assert.strictEqual(named.host, "127.0.0.1")
    }).pipe(Effect.provide(testDns)))
})

describe("resolveAddress", () => {
  const zone = Dns.layerStatic({
    hosts: {
      "seed.gossip.test": ["10.0.0.1", "10.0.0.2", "fd00::1"],
      "node1.gossip.test": ["10.0.1.1"],
      "node2.gossip.test": ["10.0.1.2"]
    },
    records: {
      "_gossip._tcp.gossip.test": [
        Dns.makeRecordUnsafe("SRV", {
          target: Host.domainNameFromStringUnsafe("node1.gossip.test"),
          port: 7001,
          priority: 10,
          weight: 1
        }),
        Dns.makeRecordUnsafe("SRV", {
          target: Host.domainNameFromStringUnsafe("node2.gossip.test"),
          port: 7002,
          priority: 5,
          weight: 1
        })
      ]
    }
  })
  const run = <A, E>(self: Effect.Effect<A, E, Dns.Dns>) => self.pipe(Effect.provide(Layer.orDie(zone)))
  const ok = (input: string, expected: ReadonlyArray<string>) =>
    run(resolveAddress(input)).pipe(Effect.map((got) => assert.deepStrictEqual(got, expected, input)))
  const bad = (input: string, reason: string) =>
    run(Effect.flip(resolveAddress(input))).pipe(Effect.map((e) => assert.strictEqual(e.reason, reason, input)))

  it.effect("IP literals, with and without port, need no lookup", () =>
    Effect.gen(function*() {
      yield* ok("10.0.0.9:7000", ["10.0.0.9:7000"])
      yield* ok("10.0.0.9", ["10.0.0.9:7946"])
      yield* ok("[fd00::9]:7000", ["[fd00::9]:7000"])
      yield* ok("fd00::9", ["[fd00::9]:7946"])
      yield* ok("[fd00:0:0::9]", ["[fd00::9]:7946"])
      yield* ok("::ffff:10.0.0.9", ["10.0.0.9:7946"])
    }))

  it.effect("host names resolve to every A/AAAA address", () =>
    Effect.gen(function*() {
      yield* ok("seed.gossip.test:7000", ["10.0.0.1:7000", "10.0.0.2:7000", "[fd00::1]:7000"])
      yield* ok("node1.gossip.test", ["10.0.1.1:7946"])
    }))

  it.effect("srv+ names resolve every SRV target, lowest priority first", () =>
    ok("srv+_gossip._tcp.gossip.test", ["10.0.1.2:7002", "10.0.1.1:7001"]))

  it.effect("URLs reduce to host:port without a lookup", () =>
    Effect.gen(function*() {
      yield* ok("https://seed.example.com/gossip", ["seed.example.com:443"])
      yield* ok("http://seed.example.com", ["seed.example.com:80"])
      yield* ok("http://[::1]:8080/x", ["[::1]:8080"])
      yield* ok("wss://10.0.0.1:9000", ["10.0.0.1:9000"])
    }))

  it.effect("bad input and unknown names are typed errors", () =>
    Effect.gen(function*() {
      yield* bad("", "Invalid")
      yield* bad("10.0.0.1:99999", "Invalid")
      yield* bad("host:port", "Invalid")
      yield* bad("fd00::1:7000:x", "Invalid")
      yield* bad("[10.0.0.1]:7000", "Invalid")
      yield* bad("srv+gossip.test", "Invalid")
      yield* bad("missing.gossip.test", "NotFound")
      yield* bad("srv+_none._tcp.gossip.test", "NotFound")
    }))

  it.effect("resolveAll keeps order and drops duplicates", () =>
    run(resolveAll(["10.0.0.1:7000", "seed.gossip.test:7000", "10.0.0.9"])).pipe(
      Effect.map((got) => assert.deepStrictEqual(got, ["10.0.0.1:7000", "10.0.0.2:7000", "[fd00::1]:7000", "10.0.0.9:7946"]))
    ))
})
