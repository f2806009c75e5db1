/**
 * Typed metadata on the simulated network: announced, decoded in every table,
 * updated; undecodable metadata marked and counted, never dropped.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Random, Result, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Membership } from "../../src/Membership.ts"
import type { MemberMetadata, MemberMetadataShape } from "../../src/metadata/MemberMetadata.ts"
import * as MemberMetadataModule from "../../src/metadata/MemberMetadata.ts"
import { encodeTags } from "../../src/serf/Tags.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import type { SimNode } from "../sim/cluster.ts"
import { settle, startCluster } from "../sim/cluster.ts"

const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope>, seed = 1) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

const Role = Schema.Struct({ role: Schema.Literals(["web", "db"]), weight: Schema.Int })
const AppMeta = MemberMetadataModule.make("app", Role)

/** Builds the typed layer on `node`, in the test's scope. */
const typedOn = <A>(node: SimNode, spec: MemberMetadata<A>, initial: NoInfer<A>) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const context = yield* Layer.buildWithScope(
      spec.layer(initial).pipe(Layer.provide(Layer.succeed(Membership, node.membership))),
      scope
    )
    return Context.get(context, spec) as MemberMetadataShape<A>
  })

const view = <A>(meta: MemberMetadataShape<A>) =>
  Effect.map(meta.currentMembers, (ms) =>
    Object.fromEntries(ms.map((m) => [m.name, Result.isSuccess(m.metadata) ? m.metadata.success : `! ${m.metadata.failure._tag}`])))

describe("MemberMetadata", () => {
  it.effect("announced at start, decoded in every table, updated", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(3)
      const typed = []
      for (const [i, n] of nodes.entries()) typed.push(yield* settle(typedOn(n, AppMeta, { role: i === 0 ? "db" : "web", weight: i })))
      yield* TestClock.adjust("5 seconds")
      const expected: Record<string, unknown> = { "node-0": { role: "db", weight: 0 }, "node-1": { role: "web", weight: 1 }, "node-2": { role: "web", weight: 2 } }
      for (const t of typed) assert.deepStrictEqual(yield* view(t), expected)
      yield* settle(typed[1]!.update({ role: "db", weight: 10 }))
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual((yield* view(typed[0]!))["node-1"], { role: "db", weight: 10 })
      assert.deepStrictEqual(yield* typed[1]!.local, { role: "db", weight: 10 })
      assert.strictEqual(yield* typed[0]!.undecodable, 0)
    })))

  it.effect("a member whose metadata does not decode stays in the table, marked and counted", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(3)
      const [a, b, c] = nodes
      const typedA = yield* settle(typedOn(a!, AppMeta, { role: "web", weight: 1 }))
      yield* settle(typedOn(b!, AppMeta, { role: "db", weight: 2 }))
      yield* settle(c!.membership.updateMetadata(new TextEncoder().encode("{not json")))
      yield* TestClock.adjust("5 seconds")
      const table = yield* typedA.currentMembers
      assert.deepStrictEqual(table.map((m) => [m.name, m.state]), [["node-0", "alive"], ["node-1", "alive"], ["node-2", "alive"]])
      const bad = table.find((m) => m.name === "node-2")!
      assert.isTrue(Result.isFailure(bad.metadata))
      assert.deepInclude(Result.isFailure(bad.metadata) ? bad.metadata.failure : {}, { _tag: "UndecodableMetadata", member: "node-2" })
      assert.strictEqual(yield* typedA.undecodable, 1)
      // A valid update brings it back; the count stays as it was.
      yield* settle(c!.membership.updateMetadata(AppMeta.encode({ role: "web", weight: 3 }).pipe(Result.getOrThrow)))
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual((yield* view(typedA))["node-2"], { role: "web", weight: 3 })
      assert.strictEqual(yield* typedA.undecodable, 1)
    })))

  it.effect("values the schema refuses or that exceed the size limit are typed errors", () =>
    sim(Effect.gen(function*() {
      const [a] = yield* startCluster(1)
      const Note = MemberMetadataModule.make("note", Schema.Struct({ text: Schema.String, n: Schema.Int }))
      const typed = yield* typedOn(a!, Note, { text: "hi", n: 1 })
      const notInt = yield* Effect.flip(typed.update({ text: "x", n: 1.5 }))
      assert.deepInclude(notInt, { _tag: "MetadataEncodeError", metadata: "note" })
      const tooLarge = yield* Effect.flip(typed.update({ text: "x".repeat(600), n: 1 }))
      assert.deepInclude(tooLarge, { _tag: "MetadataTooLargeError", limit: 512 })
      assert.deepStrictEqual(yield* typed.local, { text: "hi", n: 1 })
      const badInitial = yield* Effect.flip(typedOn(a!, MemberMetadataModule.make("other", Role), { role: "cache" as "web", weight: 0 }))
      assert.strictEqual(badInitial._tag, "MetadataEncodeError")
    })))

  it.effect("msgpack metadata, and serf tags as a ready-made schema", () =>
    sim(Effect.gen(function*() {
      const [a, b] = yield* startCluster(2)
      const Packed = MemberMetadataModule.make("packed", Role, { format: "msgpack" })
      assert.deepStrictEqual(Result.getOrThrow(Packed.encode({ role: "db", weight: 1 })), Uint8Array.of(0x82, 0xa4, 0x72, 0x6f, 0x6c, 0x65, 0xa2, 0x64, 0x62, 0xa6, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x01))
      const tags = MemberMetadataModule.serfTags
      assert.deepStrictEqual(Result.getOrThrow(tags.encode({ role: "web", dc: "eu" })), encodeTags({ role: "web", dc: "eu" }))
      const typedA = yield* settle(typedOn(a!, tags, { role: "web" }))
      yield* settle(typedOn(b!, tags, { role: "db", dc: "eu" }))
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual(yield* view(typedA), { "node-0": { role: "web" }, "node-1": { role: "db", dc: "eu" } })
      assert.isTrue(Result.isFailure(tags.decodeBytes(Uint8Array.of(0xff, 0x81, 0xa1))))
      const Typed = MemberMetadataModule.make("typed-tags", Schema.Struct({ role: Schema.String }), { format: "serf-tags" })
      assert.deepStrictEqual(Result.getOrThrow(Typed.decodeBytes(encodeTags({ role: "web" }))), { role: "web" })
    })))
})
