/**
 * `GossipRunnerHealth` on a simulated cluster in virtual time: what `isAlive`
 * answers about a runner while its gossip node lives, is suspected, is declared
 * dead, is reaped, and comes back.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Random } from "effect"
import type { RunnerHealth } from "effect/cluster/RunnerHealth"
import { RunnerAddress } from "effect/cluster/RunnerAddress"
import { TestClock } from "effect/testing"
import { GossipRunnerHealth } from "../../src/cluster/GossipRunnerHealth.ts"
import { RunnerMetadata } from "../../src/cluster/RunnerMetadata.ts"
import { presets } from "../../src/Config.ts"
import { Membership } from "../../src/Membership.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { addressOf, converged, settle, type SimNode, startNode, viewsOf } from "../sim/cluster.ts"

const profile = "local"
const runnerOf = (i: number) => RunnerAddress.make({ host: "10.9.0.1", port: 30_000 + i })

const startRunnerNode = (i: number, name = `node-${i}`, runnerIndex = i) =>
  startNode(name, addressOf(i), { profile, meta: RunnerMetadata.encode(runnerOf(runnerIndex)) })

/** Advances virtual time in 50 ms steps until `done`; the time it took, failing past `limit`. */
const timeUntil = (done: Effect.Effect<boolean>, limit: number) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    while (!(yield* done)) {
      if ((yield* Clock.currentTimeMillis) - start > limit) return yield* Effect.die(new Error(`not within ${limit} ms`))
      yield* TestClock.adjust(50)
    }
    return (yield* Clock.currentTimeMillis) - start
  })

const stateIn = (observer: SimNode, name: string) => Effect.map(viewsOf([observer], name), ([state]) => state)

/** `isAlive` after letting the health layer's fiber take in the latest table. */
const isAlive = (health: RunnerHealth["Service"], i: number) =>
  Effect.andThen(Effect.yieldNow, health.isAlive(runnerOf(i)))

describe("GossipRunnerHealth", () => {
  it.effect("follows a runner's member: alive, suspect, dead, reaped, back", () =>
    Effect.gen(function*() {
      const network = yield* SimNetwork
      const nodes = [yield* startRunnerNode(0), yield* startRunnerNode(1), yield* startRunnerNode(2)]
      for (const node of nodes.slice(1)) yield* settle(node.membership.join([nodes[0]!.address]))
      yield* timeUntil(converged(nodes, ["node-0", "node-1", "node-2"]), 10_000)

      const [observer, , victim] = nodes as [SimNode, SimNode, SimNode]
      const health = yield* GossipRunnerHealth.make(RunnerMetadata.runnerOf).pipe(
        Effect.provideService(Membership, observer.membership)
      )
      for (const i of [0, 1, 2]) assert.isTrue(yield* isAlive(health, i), `runner ${i} alive`)
      assert.isTrue(yield* isAlive(health, 7), "a runner no member has announced yet is healthy")

      yield* network.crash(victim.address)
      yield* timeUntil(Effect.map(stateIn(observer, "node-2"), (s) => s === "suspect"), 10_000)
      assert.isTrue(yield* isAlive(health, 2), "a suspect runner is still healthy")

      const dead = yield* timeUntil(Effect.map(stateIn(observer, "node-2"), (s) => s === "dead"), 30_000)
      assert.isFalse(yield* isAlive(health, 2), "a dead runner is not")
      // The suspicion's maximum (no confirmation) bounds it; the other survivor's confirmation
      // usually brings it down to the minimum, 3 s for three members.
      const local = presets[profile]
      const suspicionMax = local.suspicionMaxTimeoutMult * local.suspicionMult * local.probeInterval
      assert.isAtMost(dead, suspicionMax)

      yield* timeUntil(Effect.map(stateIn(observer, "node-2"), (s) => s === undefined), local.gossipToTheDeadTime + 5_000)
      assert.isFalse(yield* isAlive(health, 2), "reaped from the table, it stays down")
      for (const i of [0, 1]) assert.isTrue(yield* isAlive(health, i))

      // A new process for the same runner address, with a gossip node of its own.
      const again = yield* startRunnerNode(3, "node-2-again", 2)
      yield* settle(again.membership.join([observer.address]))
      yield* timeUntil(Effect.map(stateIn(observer, "node-2-again"), (s) => s === "alive"), 10_000)
      assert.isTrue(yield* isAlive(health, 2), "the runner is back")
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(5)))

  it.effect("a graceful leave takes the runner down at once", () =>
    Effect.gen(function*() {
      const nodes = [yield* startRunnerNode(0), yield* startRunnerNode(1)]
      yield* settle(nodes[1]!.membership.join([nodes[0]!.address]))
      yield* timeUntil(converged(nodes, ["node-0", "node-1"]), 10_000)
      const health = yield* GossipRunnerHealth.make(RunnerMetadata.runnerOf).pipe(
        Effect.provideService(Membership, nodes[0]!.membership)
      )
      assert.isTrue(yield* isAlive(health, 1))
      yield* settle(nodes[1]!.membership.leave)
      yield* timeUntil(Effect.map(stateIn(nodes[0]!, "node-1"), (s) => s === "left"), 5_000)
      assert.isFalse(yield* isAlive(health, 1))
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(6)))
})
