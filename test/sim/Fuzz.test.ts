/**
 * A live node fed thousands of mutated captures of real serf traffic: it counts
 * what it cannot decode, never fails internally, and its view of its own
 * cluster stays exactly as it was.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Random, Scope } from "effect"
import { TestClock } from "effect/testing"
import { MemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import { GossipConfig } from "../../src/Config.ts"
import { Membership } from "../../src/Membership.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { captureFiles, fromHex, prng } from "../codec/helpers.ts"
import { addressOf, settle } from "./cluster.ts"

const startMemberlistNode = (name: string, address: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Membership.layer.pipe(
        Layer.provide(SimNetwork.transport(address)),
        Layer.provide(MemberlistCodec.layer()),
        Layer.provide(GossipConfig.layer({ name }))
      ),
      scope
    )
    return { name, address, membership: context.mapUnsafe.get(Membership.key) as Membership["Service"] }
  })

/** Flips, truncates, duplicates or splices bytes of a captured datagram. */
const mutate = (bytes: Uint8Array, next: () => number): Uint8Array => {
  const out = Uint8Array.from(bytes)
  switch (Math.floor(next() * 4)) {
    case 0:
      for (let i = 0; i < 1 + Math.floor(next() * 4); i++) out[Math.floor(next() * out.length)] ^= 1 << Math.floor(next() * 8)
      return out
    case 1:
      return out.subarray(0, Math.floor(next() * out.length))
    case 2: {
      const at = Math.floor(next() * out.length)
      return Uint8Array.from([...out.subarray(0, at), ...out.subarray(at - 1 < 0 ? 0 : at - 1)])
    }
    default:
      out[Math.floor(next() * out.length)] = Math.floor(next() * 256)
      return out
  }
}

describe("a node under mutated serf traffic", () => {
  it.effect("counts decode errors, never fails internally, and keeps its cluster view intact", () =>
    Effect.gen(function*() {
      const network = yield* SimNetwork
      const nodes = []
      for (let i = 0; i < 3; i++) nodes.push(yield* startMemberlistNode(`node-${i}`, addressOf(i)))
      for (let i = 1; i < 3; i++) yield* settle(nodes[i]!.membership.join([nodes[0]!.address]))
      yield* TestClock.adjust("3 seconds")
      const target = nodes[0]!
      const view = (n: typeof target) =>
        Effect.map(n.membership.currentMembers, (ms) =>
          ms.filter((m) => m.name.startsWith("node-")).map((m) => `${m.name}:${m.state}:${m.incarnation}`))
      const before = yield* view(target)

      const captured = captureFiles()
        .filter((f) => f.encryption_key_base64 === null)
        .flatMap((f) => f.entries.filter((e) => e.transport === "udp" && typeof e.hex === "string"))
        .map((e) => fromHex(e.hex as string))
      assert.isAbove(captured.length, 100)
      const attacker = yield* network.bind("10.9.9.9:7946")
      const next = prng(2026)
      for (let i = 0; i < 3000; i++) {
        const packet = mutate(captured[i % captured.length]!, next)
        yield* Effect.ignore(attacker.sendPacket(target.address, packet))
        if (i % 100 === 99) yield* TestClock.adjust(10)
      }
      yield* TestClock.adjust("10 seconds")

      const stats = yield* target.membership.stats
      console.log(`[measured] 3000 mutated serf datagrams: ${stats.decodeErrors} decode errors, ${stats.internalErrors} internal errors`)
      assert.strictEqual(stats.internalErrors, 0)
      assert.isAbove(stats.decodeErrors, 100)
      assert.deepStrictEqual(yield* view(target), before)
      for (const n of nodes.slice(1)) {
        const seen = (yield* n.membership.currentMembers).find((m) => m.name === target.name)
        assert.strictEqual(seen?.state, "alive")
      }
    }).pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(21)))
})
