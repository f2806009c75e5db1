/**
 * Application version checks: the header in front of the metadata, the default
 * compatibility rule, and refusals on both sides of a join and through gossip.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Random, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { resolveConfig } from "../src/Config.ts"
import type { MemberRefused } from "../src/MemberEvent.ts"
import type { Application } from "../src/protocol/Application.ts"
import { encodeApplication, joinMeta, sameMajorVersion, splitMeta } from "../src/protocol/Application.ts"
import { SimNetwork } from "../src/transport/SimNetwork.ts"
import { addressOf, settle, startNode } from "./sim/cluster.ts"
import type { SimNode } from "./sim/cluster.ts"

const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope>, seed = 1) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

const text = (s: string) => new TextEncoder().encode(s)
const names = (node: SimNode) => Effect.map(node.membership.currentMembers, (ms) => ms.map((m) => m.name).sort())
const refusalsOf = (node: SimNode) =>
  Effect.gen(function*() {
    const got: Array<MemberRefused> = []
    yield* Effect.forkScoped(Stream.runForEach(node.membership.refusals, (r) => Effect.sync(() => got.push(r))))
    yield* Effect.yieldNow
    return got
  })

describe("application header", () => {
  it("sits in front of the metadata and splits off again", () => {
    const header = encodeApplication({ name: "orders", version: "1.4.2" })!
    const wire = joinMeta(header, text("role=web"))
    assert.deepStrictEqual(splitMeta(wire), { application: { name: "orders", version: "1.4.2" }, meta: text("role=web") })
    assert.deepStrictEqual(splitMeta(text("plain")), { application: undefined, meta: text("plain") })
    assert.deepStrictEqual(splitMeta(Uint8Array.of(0xe1, 9, 1)).meta, Uint8Array.of(0xe1, 9, 1), "a malformed header is metadata")
    assert.isUndefined(encodeApplication({ name: "x".repeat(256), version: "1" }))
  })

  it("the default rule: same name and semver major; in 0.x the minor too", () => {
    const v = (version: string, name = "orders") => ({ name, version })
    assert.isTrue(sameMajorVersion(v("1.4.2"), v("1.9.0")))
    assert.isTrue(sameMajorVersion(v("v2.0.0"), v("2.1.0-rc.1")))
    assert.isFalse(sameMajorVersion(v("1.4.2"), v("2.0.0")))
    assert.isTrue(sameMajorVersion(v("0.4.1"), v("0.4.7")))
    assert.isFalse(sameMajorVersion(v("0.4.1"), v("0.5.0")))
    assert.isFalse(sameMajorVersion(v("1.0.0"), v("1.0.0", "billing")))
    assert.isFalse(sameMajorVersion(v("1.0.0"), undefined))
    assert.isTrue(sameMajorVersion(v("blue"), v("blue")))
    assert.isFalse(sameMajorVersion(v("blue"), v("green")))
  })
})

describe("version checks", () => {
  it.effect("compatible versions join; members show their application and bare metadata", () =>
    sim(Effect.gen(function*() {
      const a = yield* startNode("a", addressOf(0), { application: { name: "orders", version: "1.2.0" }, meta: text("a") })
      const b = yield* startNode("b", addressOf(1), { application: { name: "orders", version: "1.9.3" }, meta: text("b") })
      assert.strictEqual(yield* settle(b.membership.join([a.address])), 1)
      yield* TestClock.adjust("2 seconds")
      const seen = (yield* a.membership.currentMembers).find((m) => m.name === "b")!
      assert.deepStrictEqual(seen.application, { name: "orders", version: "1.9.3" })
      assert.deepStrictEqual(seen.meta, text("b"))
      yield* settle(b.membership.updateMetadata(text("b2")))
      yield* TestClock.adjust("2 seconds")
      const updated = (yield* a.membership.currentMembers).find((m) => m.name === "b")!
      assert.deepStrictEqual([updated.meta, updated.application?.version], [text("b2"), "1.9.3"])
      const tooLarge = yield* Effect.flip(b.membership.updateMetadata(new Uint8Array(512)))
      assert.deepInclude(tooLarge, { _tag: "MetadataTooLargeError", size: 512, limit: 512 - 3 - 6 - 5 })
    })))

  it.effect("an incompatible joiner is refused with a typed error on both sides and enters no table", () =>
    sim(Effect.gen(function*() {
      const seed = yield* startNode("seed", addressOf(0), { application: { name: "orders", version: "1.4.0" } })
      const joiner = yield* startNode("joiner", addressOf(1), { application: { name: "orders", version: "2.0.0" } })
      const atSeed = yield* refusalsOf(seed)
      const error = yield* Effect.flip(settle(joiner.membership.join([seed.address])))
      assert.deepInclude(error, {
        _tag: "IncompatibleMemberError",
        member: "seed",
        remote: { name: "orders", version: "1.4.0" },
        local: { name: "orders", version: "2.0.0" }
      })
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(atSeed.map((r) => [r.name, r.application?.version]), [["joiner", "2.0.0"]])
      assert.deepStrictEqual(yield* names(seed), ["seed"])
      assert.deepStrictEqual(yield* names(joiner), ["joiner"])
      assert.strictEqual((yield* seed.membership.stats).incompatible, 1)
      assert.strictEqual((yield* joiner.membership.stats).incompatible, 1)
    })))

  it.effect("an incompatible member heard of through gossip never enters the table", () =>
    sim(Effect.gen(function*() {
      // The bridge declares no application and accepts both; `a` and `c` accept members that
      // declare none, but not each other.
      const orPlain = { compatible: (local: Application, remote: Application | undefined) => remote === undefined || sameMajorVersion(local, remote) }
      const bridge = yield* startNode("bridge", addressOf(0))
      const a = yield* startNode("a", addressOf(1), { application: { name: "orders", version: "1.0.0" }, ...orPlain })
      const c = yield* startNode("c", addressOf(2), { application: { name: "billing", version: "1.0.0" }, ...orPlain })
      const atA = yield* refusalsOf(a)
      yield* settle(a.membership.join([bridge.address]))
      yield* settle(c.membership.join([bridge.address]))
      yield* TestClock.adjust("60 seconds")
      assert.deepStrictEqual(yield* names(bridge), ["a", "bridge", "c"])
      assert.deepStrictEqual(yield* names(a), ["a", "bridge"])
      assert.deepStrictEqual(yield* names(c), ["bridge", "c"])
      assert.isAbove((yield* a.membership.stats).incompatible, 0)
      assert.deepStrictEqual(atA.map((r) => r.name), ["c"], "one refusal event per member and incarnation")
    })))

  it.effect("a custom rule decides; a member without an application is refused by default", () =>
    sim(Effect.gen(function*() {
      const plain = yield* startNode("plain", addressOf(0))
      const strict = yield* startNode("strict", addressOf(1), { application: { name: "orders", version: "1.0.0" } })
      const lenient = yield* startNode("lenient", addressOf(2), {
        application: { name: "orders", version: "3.0.0" },
        compatible: (_local, remote) => remote === undefined || remote.name === "orders"
      })
      assert.strictEqual((yield* Effect.flip(settle(strict.membership.join([plain.address]))))._tag, "IncompatibleMemberError")
      assert.strictEqual(yield* settle(lenient.membership.join([plain.address])), 1)
      yield* TestClock.adjust("3 seconds")
      // `plain` declares no application, so it took `strict` in; `lenient` accepts any "orders".
      assert.deepStrictEqual(yield* names(plain), ["lenient", "plain", "strict"])
      assert.deepStrictEqual(yield* names(lenient), ["lenient", "plain", "strict"])
      assert.deepStrictEqual(yield* names(strict), ["strict"])
    })))
})

describe("node names", () => {
  it.effect("a node started without a name gets a generated unique one", () =>
    Effect.gen(function*() {
      const one = yield* resolveConfig({})
      const two = yield* resolveConfig({})
      assert.match(one.name, /^node-[0-9a-f]{12}$/)
      assert.notStrictEqual(one.name, two.name)
    }))

  it.effect("an unusable application is a configuration error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolveConfig({ name: "x", application: { name: "", version: "1" } }))
      assert.deepInclude(error, { _tag: "GossipConfigError", field: "application.name" })
    }))
})
