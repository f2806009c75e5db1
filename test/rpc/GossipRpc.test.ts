/**
 * effect/rpc between members on the simulated network, in virtual time
 * (`local` profile: tcpTimeout 1 s, so clients ping every 500 ms).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Random, Scope, Stream } from "effect"
import { RpcSerialization } from "effect/rpc"
import { TestClock } from "effect/testing"
import { DEFAULT_MAX_MESSAGE } from "../../src/rpc/Serialization.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { settle, startCluster, stopNode, viewsOf } from "../sim/cluster.ts"
import type { Seen } from "./fixtures.ts"
import { clientOn, NotFound, serveOn, statsOf, tableOf } from "./fixtures.ts"

const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope>, seed = 1) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

const now = Clock.currentTimeMillis

/** Advances virtual time 1 ms at a time until `pred` holds. */
const until = (pred: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    while (!(yield* pred)) yield* TestClock.adjust(1)
  })

describe("GossipRpc on SimNetwork", () => {
  it.effect("typed success, typed failure, a streamed response and a message larger than a channel frame", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      yield* serveOn(b!)
      const client = yield* settle(clientOn(a!, "node-1"))
      assert.strictEqual(yield* settle(client.Get({ key: "a" })), "node-1:a")
      const missing = yield* settle(Effect.flip(client.Get({ key: "zz" })))
      assert.instanceOf(missing, NotFound)
      assert.deepInclude(missing, { _tag: "NotFound", key: "zz" })
      const counted = yield* settle(Stream.runCollect(client.Count({ to: 40 })))
      assert.deepStrictEqual(counted, Array.from({ length: 40 }, (_, i) => i + 1))
      const bytes = new Uint8Array(200_000).map((_, i) => i * 7)
      assert.deepStrictEqual(yield* settle(client.Echo({ bytes })), bytes)
      assert.deepInclude(yield* statsOf(a!), { connectionsOpened: 1, connectionsLost: 0, callsLost: 0 })
      assert.strictEqual((yield* statsOf(b!)).connectionsServed, 1)
    })))

  it.effect("a message over the 4 MiB bound closes the connection, either way; later calls reconnect", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      yield* serveOn(b!)
      const client = yield* settle(clientOn(a!, "node-1"))
      const tooBig = DEFAULT_MAX_MESSAGE + 1
      // the server's parser refuses the request and closes
      const request = yield* settle(Effect.flip(client.Echo({ bytes: new Uint8Array(tooBig) })))
      assert.deepInclude(request, { _tag: "GossipRpcError", reason: "Closed", member: "node-1" })
      yield* TestClock.adjust(500)
      assert.strictEqual(yield* settle(client.Get({ key: "a" })), "node-1:a")
      // the client's parser refuses the response and reconnects
      const response = yield* settle(Effect.flip(client.Fill({ size: tooBig })))
      assert.deepInclude(response, { _tag: "GossipRpcError", reason: "Protocol", member: "node-1" })
      yield* TestClock.adjust(500)
      assert.strictEqual((yield* settle(client.Fill({ size: 1_000 }))).length, 1_000)
      assert.deepInclude(yield* statsOf(a!), { connectionsOpened: 3, connectionsLost: 2, callsLost: 2 })
    })))

  it.effect("a call cut short by Effect.timeout fails at its deadline and interrupts the handler", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      const seen: Seen = { interrupted: 0 }
      yield* serveOn(b!, undefined, seen)
      const client = yield* settle(clientOn(a!, "node-1"))
      const start = yield* now
      const timedOut = yield* settle(Effect.flip(client.Sleep({ millis: 5_000 }).pipe(Effect.timeout(300))))
      assert.strictEqual(timedOut._tag, "TimeoutError")
      assert.strictEqual((yield* now) - start, 300)
      yield* TestClock.adjust(50)
      assert.strictEqual(seen.interrupted, 1)
      // the connection stays up for the next call
      assert.strictEqual(yield* settle(client.Sleep({ millis: 10 })), "slept 10")
      assert.deepInclude(yield* statsOf(a!), { connectionsOpened: 1, callsLost: 0 })
    })))

  it.effect("a member that does not serve the group refuses the client; a second server on the channel is refused", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      const refused = yield* settle(Effect.flip(clientOn(a!, "node-1")))
      assert.deepInclude(refused, { _tag: "GossipRpcError", reason: "Refused", member: "node-1" })
      assert.include(refused.message, "no channel named")
      assert.strictEqual((yield* statsOf(a!)).callsDisconnected, 1)
      yield* serveOn(b!)
      const taken = yield* Effect.flip(serveOn(b!))
      assert.deepInclude(taken, { _tag: "ChannelError", reason: "InUse" })
    })))

  it.effect("an unknown member fails at once, client and call alike", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      yield* serveOn(b!)
      const start = yield* now
      const unknown = yield* Effect.flip(clientOn(a!, "nobody"))
      assert.deepInclude(unknown, { _tag: "GossipRpcError", reason: "UnknownMember", member: "nobody" })
      assert.strictEqual(yield* now, start)
      assert.strictEqual((yield* statsOf(a!)).callsUnavailable, 1)
    })))

  it.effect("a member that left fails at once: the call in flight, a later call, a new client", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      yield* serveOn(b!)
      const client = yield* settle(clientOn(a!, "node-1"))
      const inFlight = yield* Effect.forkChild(Effect.flip(client.Sleep({ millis: 10_000 })))
      yield* settle(b!.membership.leave)
      yield* until(Effect.map(viewsOf([a!], "node-1"), ([s]) => s === "left"))
      const start = yield* now
      yield* Effect.yieldNow
      assert.deepInclude(inFlight.pollUnsafe(), { _tag: "Success" })
      assert.deepInclude(yield* Fiber.join(inFlight), { _tag: "GossipRpcError", reason: "MemberGone" })
      const call = yield* Effect.flip(client.Get({ key: "a" }))
      assert.deepInclude(call, { _tag: "GossipRpcError", reason: "MemberGone", member: "node-1" })
      const fresh = yield* Effect.flip(clientOn(a!, "node-1"))
      assert.deepInclude(fresh, { _tag: "GossipRpcError", reason: "MemberGone" })
      assert.include(fresh.message, "left")
      assert.strictEqual(yield* now, start)
      assert.deepInclude(yield* statsOf(a!), { callsUnavailable: 2, callsLost: 1, connectionsLost: 1 })
    })))

  it.effect("a member that died fails at once once the table says dead", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(3, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      yield* serveOn(b!)
      const client = yield* settle(clientOn(a!, "node-1"))
      yield* stopNode(b!)
      yield* until(Effect.map(viewsOf([a!], "node-1"), ([s]) => s === "dead"))
      const start = yield* now
      const call = yield* Effect.flip(client.Get({ key: "a" }))
      assert.deepInclude(call, { _tag: "GossipRpcError", reason: "MemberGone", member: "node-1" })
      assert.include(call.message, "dead")
      const fresh = yield* Effect.flip(clientOn(a!, "node-1"))
      assert.deepInclude(fresh, { reason: "MemberGone" })
      assert.strictEqual(yield* now, start)
      assert.deepStrictEqual(yield* tableOf(a!), ["node-0=alive", "node-1=dead", "node-2=alive"])
      assert.strictEqual((yield* statsOf(a!)).callsUnavailable, 2)
    })))

  it.effect("bad input: a member gone mid-call fails the call within tcpTimeout; counted; member table unchanged", () =>
    sim(Effect.gen(function*() {
      const network = yield* SimNetwork
      const [a, b] = yield* startCluster(3, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      yield* serveOn(b!)
      const client = yield* settle(clientOn(a!, "node-1"))
      assert.strictEqual(yield* now, 2012)
      const before = yield* tableOf(a!)
      const call = yield* Effect.forkChild(Effect.flip(client.Sleep({ millis: 10_000 })))
      yield* TestClock.adjust(300)
      yield* network.crash(b!.address)
      const crashedAt = yield* now
      yield* until(Effect.sync(() => call.pollUnsafe() !== undefined))
      const error = yield* Fiber.join(call)
      // the client pings every 500 ms from 2012; the tick at 3012 finds nothing heard for over 500 ms
      assert.strictEqual(crashedAt, 2312)
      assert.strictEqual(yield* now, 3012)
      assert.isAtMost((yield* now) - crashedAt, 1_000)
      assert.deepInclude(error, { _tag: "GossipRpcError", reason: "Timeout", member: "node-1" })
      assert.deepInclude(yield* statsOf(a!), {
        callsLost: 1,
        connectionsLost: 1,
        callsUnavailable: 0,
        callsDisconnected: 0
      })
      assert.deepStrictEqual(yield* tableOf(a!), before)
      assert.deepStrictEqual(before, ["node-0=alive", "node-1=alive", "node-2=alive"])
    })))

  it.effect("a dropped connection is reopened for later calls once the member answers again", () =>
    sim(Effect.gen(function*() {
      const network = yield* SimNetwork
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      const serving = yield* Scope.make()
      yield* serveOn(b!).pipe(Scope.provide(serving))
      const client = yield* settle(clientOn(a!, "node-1"))
      assert.strictEqual(yield* settle(client.Get({ key: "a" })), "node-1:a")

      // the server stops serving: the connection closes and calls fail at once until it serves again
      yield* Scope.close(serving, Exit.void)
      yield* TestClock.adjust(10)
      const closed = yield* Effect.flip(client.Sleep({ millis: 1 }))
      assert.deepInclude(closed, { _tag: "GossipRpcError", reason: "Closed", member: "node-1" })
      yield* serveOn(b!)
      const reserved = yield* now
      yield* until(Effect.map(settle(Effect.result(client.Get({ key: "a" }))), (r) => r._tag === "Success"))
      assert.isAtMost((yield* now) - reserved, 1_000)

      // a crash drops it for good; once the node is back, a later call reconnects
      yield* network.crash(b!.address)
      const lost = yield* settle(Effect.flip(client.Sleep({ millis: 5_000 })))
      assert.strictEqual(lost.reason, "Timeout")
      yield* network.restore(b!.address)
      const restored = yield* now
      yield* until(Effect.map(settle(Effect.result(client.Get({ key: "a" }))), (r) => r._tag === "Success"))
      assert.isAtMost((yield* now) - restored, 1_000)
      const stats = yield* statsOf(a!)
      assert.strictEqual(stats.connectionsOpened, 3)
      assert.strictEqual(stats.connectionsLost, 2)
      assert.strictEqual(stats.callsLost, 1)
    })))

  it.effect("a server closes a connection whose client went silent (the client node crashed)", () =>
    sim(Effect.gen(function*() {
      const network = yield* SimNetwork
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      const seen: Seen = { interrupted: 0 }
      yield* serveOn(b!, { idleTimeout: "3 seconds" }, seen)
      const client = yield* settle(clientOn(a!, "node-1"))
      yield* Effect.forkChild(client.Sleep({ millis: 60_000 }))
      yield* TestClock.adjust(100)
      yield* network.crash(a!.address)
      const crashedAt = yield* now
      yield* until(Effect.sync(() => seen.interrupted === 1))
      // the last ping arrived just before the crash; the connection is closed 3 s after it
      assert.isAtMost((yield* now) - crashedAt, 3_000)
      assert.isAtLeast((yield* now) - crashedAt, 2_500)
    })))

  it.effect("an RpcSerialization provided on both ends replaces the default", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2, { profile: "local" })
      yield* TestClock.adjust("2 seconds")
      yield* serveOn(b!).pipe(Effect.provide(RpcSerialization.layerNdjson))
      const client = yield* settle(clientOn(a!, "node-1").pipe(Effect.provide(RpcSerialization.layerNdjson)))
      assert.strictEqual(yield* settle(client.Get({ key: "a" })), "node-1:a")
      assert.deepStrictEqual(yield* settle(Stream.runCollect(client.Count({ to: 3 }))), [1, 2, 3])
      const missing = yield* settle(Effect.flip(client.Get({ key: "b" })))
      assert.deepInclude(missing, { _tag: "NotFound", key: "b" })
    })))
})
