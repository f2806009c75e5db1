/**
 * Channels between members on the simulated network: echo, refusals, limits and
 * the frames' encoding by the node's codec.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Random, Scope } from "effect"
import { TestClock } from "effect/testing"
import { decodeHello, encodeHello } from "../../src/channel/Hello.ts"
import { MAX_CHANNEL_FRAME } from "../../src/channel/Channel.ts"
import { MemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import { GossipConfig } from "../../src/Config.ts"
import { Membership } from "../../src/Membership.ts"
import { Keyring } from "../../src/security/Keyring.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { addressOf, settle, startCluster } from "../sim/cluster.ts"

const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope>, seed = 1) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

const text = (s: string) => new TextEncoder().encode(s)
const utf8 = (b: Uint8Array) => new TextDecoder().decode(b)

describe("hello", () => {
  it("round-trips and rejects malformed ones", () => {
    const bytes = encodeHello({ channel: "rpc", name: "node-1" })!
    assert.deepStrictEqual(decodeHello(bytes), { channel: "rpc", name: "node-1" })
    assert.isUndefined(decodeHello(bytes.subarray(0, bytes.length - 1)))
    assert.isUndefined(decodeHello(Uint8Array.of(0xec, 0, 0)))
    assert.isUndefined(decodeHello(Uint8Array.of(0xec, 1, 0xff, 0)))
    assert.isUndefined(encodeHello({ channel: "x".repeat(256), name: "a" }))
  })
})

describe("channels", () => {
  it.effect("echo both ways, with peer names, large writes split into frames", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2)
      yield* TestClock.adjust("2 seconds")
      const peers: Array<string> = []
      yield* b!.membership.serveChannel("echo", (ch) =>
        Effect.gen(function*() {
          peers.push(ch.peer)
          while (true) yield* ch.write(yield* ch.read)
        }).pipe(Effect.ignore))
      const result = yield* settle(Effect.scoped(Effect.gen(function*() {
        const ch = yield* a!.membership.openChannel("node-1", "echo")
        yield* ch.write(text("hello"))
        const first = utf8(yield* ch.read)
        const big = new Uint8Array(MAX_CHANNEL_FRAME * 2 + 10).map((_, i) => i & 0xff)
        yield* ch.write(big)
        let got = 0
        while (got < big.length) got += (yield* ch.read).length
        return { first, got, peer: ch.peer }
      })))
      assert.deepStrictEqual(result, { first: "hello", got: MAX_CHANNEL_FRAME * 2 + 10, peer: "node-1" })
      assert.deepStrictEqual(peers, ["node-0"])
      const stats = yield* b!.membership.stats
      assert.strictEqual(stats.channelsAccepted, 1)
      assert.strictEqual(stats.channelsRefused, 0)
    })))

  it.effect("an unknown member, an unserved channel, a taken name and a full channel are typed errors", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2)
      yield* TestClock.adjust("2 seconds")
      const unknown = yield* Effect.flip(Effect.scoped(a!.membership.openChannel("nobody", "echo")))
      assert.deepInclude(unknown, { _tag: "ChannelError", reason: "UnknownMember" })
      const unserved = yield* settle(Effect.flip(Effect.scoped(a!.membership.openChannel("node-1", "echo"))))
      assert.deepInclude(unserved, { _tag: "ChannelError", reason: "Refused" })
      assert.include(unserved.message, "no channel named")

      yield* b!.membership.serveChannel("one", () => Effect.never, { maxConnections: 1 })
      const taken = yield* Effect.flip(b!.membership.serveChannel("one", () => Effect.void))
      assert.deepInclude(taken, { _tag: "ChannelError", reason: "InUse" })

      const holder = yield* Effect.forkChild(Effect.scoped(Effect.andThen(a!.membership.openChannel("node-1", "one"), Effect.never)))
      yield* TestClock.adjust(100)
      const busy = yield* settle(Effect.flip(Effect.scoped(a!.membership.openChannel("node-1", "one"))))
      assert.deepInclude(busy, { _tag: "ChannelError", reason: "Refused" })
      assert.include(busy.message, "limit of 1")
      yield* Fiber.interrupt(holder)
      const stats = yield* b!.membership.stats
      assert.strictEqual(stats.channelsAccepted, 1)
      assert.strictEqual(stats.channelsRefused, 2)
    })))

  it.effect("a served channel stops being served when its scope closes", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2)
      yield* TestClock.adjust("2 seconds")
      const scope = yield* Scope.make()
      yield* b!.membership.serveChannel("tmp", () => Effect.void).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      const refused = yield* settle(Effect.flip(Effect.scoped(a!.membership.openChannel("node-1", "tmp"))))
      assert.deepInclude(refused, { reason: "Refused" })
      assert.strictEqual(addressOf(1), b!.address)
    })))
})

describe("channels on the memberlist codec", () => {
  const KEY = new Uint8Array(32).map((_, i) => i)

  const memberlistNode = (name: string, i: number) =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const layer = Membership.layer.pipe(
        Layer.provide(SimNetwork.transport(addressOf(i))),
        Layer.provide(MemberlistCodec.layer({ keyring: Keyring.makeUnsafe([KEY]), label: "prod", compression: true })),
        Layer.provide(GossipConfig.layer({ name }))
      )
      const context = yield* Layer.buildWithScope(layer, scope)
      return Context.get(context, Membership)
    })

  it.effect("frames carry the label once, and are compressed and encrypted like push/pull", () =>
    sim(Effect.gen(function*() {
      const a = yield* memberlistNode("a", 0)
      const b = yield* memberlistNode("b", 1)
      yield* settle(a.join([addressOf(1)]))
      yield* b.serveChannel("echo", (ch) => Effect.forever(Effect.flatMap(ch.read, ch.write)).pipe(Effect.ignore))
      const echoed = yield* settle(Effect.scoped(Effect.gen(function*() {
        const ch = yield* a.openChannel("b", "echo")
        const out: Array<string> = []
        for (const word of ["one", "two", "three"]) {
          yield* ch.write(text(word))
          out.push(utf8(yield* ch.read))
        }
        return out
      })))
      assert.deepStrictEqual(echoed, ["one", "two", "three"])
      assert.strictEqual((yield* b.stats).streamErrors, 0)
    })))
})
