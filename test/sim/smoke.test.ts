import { assert, describe, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { TestClock } from "effect/testing"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { converged, startCluster } from "./cluster.ts"

describe("smoke", () => {
  it.effect("5 nodes converge", () =>
    Effect.gen(function*() {
      const nodes = yield* startCluster(5)
      yield* TestClock.adjust("10 seconds")
      const tables = yield* Effect.forEach(nodes, (n) => n.membership.currentMembers)
      console.log(tables.map((t) => t.map((m) => `${m.name}:${m.state}`).join(",")))
      assert.isTrue(yield* converged(nodes, nodes.map((n) => n.name)))
      console.log(yield* nodes[0]!.membership.stats)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(1)))
})
