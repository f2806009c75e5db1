/**
 * Three Effect Cluster runners on loopback with `GossipRunnerHealth`: one
 * crashes without leaving, and its shards move to the survivors once gossip
 * declares it dead, within a bound derived from the `local` profile.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { presets } from "../../src/Config.ts"
import { suspicionTimeout } from "../../src/protocol/Suspicion.ts"
import {
  allShards,
  healthCheckShard,
  holders,
  increment,
  refreshAssignmentsInterval,
  runnerHealthCheckInterval,
  shardOf,
  startRunners,
  type TestRunner
} from "./runners.ts"

const local = presets.local
const members = 3

/**
 * Gossip's detection: a survivor probes the crashed member within one round
 * (one probe per other member), the other survivor confirms within another, and
 * the confirmed suspicion then ends at its minimum timeout.
 */
const detection = 2 * (members - 1) * local.probeInterval + suspicionTimeout(local.suspicionMult, members, local.probeInterval)
/** Then the health check sees it, every runner re-reads assignments, and the survivors acquire. */
const sharding = runnerHealthCheckInterval + refreshAssignmentsInterval
/** Spreading the verdict (gossip rounds of 100 ms), acquiring the shards, polling, a busy machine. */
const slack = 2_000
const bound = detection + sharding + slack

/** Polls `done` every 20 ms; the time it took from `start`, or a failure past `limit`. */
const waitFor = (what: string, start: number, limit: number, done: () => Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    while (!(yield* done())) {
      if ((yield* Clock.currentTimeMillis) - start > limit) return yield* Effect.die(new Error(`${what}: not within ${limit} ms`))
      yield* Effect.sleep("20 millis")
    }
    return (yield* Clock.currentTimeMillis) - start
  })

describe("GossipRunnerHealth with socket runners", () => {
  it.live(`a crashed runner's shards move to the survivors within ${bound} ms`, () =>
    Effect.gen(function*() {
      const runners = yield* startRunners("move")
      const [first] = runners as [TestRunner]
      const shards = allShards(first)
      const settled = yield* Clock.currentTimeMillis
      yield* waitFor("first assignment", settled, 15_000, () =>
        Effect.succeed(shards.every((s) => holders(runners, s).length === 1)))

      // Crash a runner that does not run the health checks (with memory storage,
      // nobody would take the checking singleton over from a crashed runner).
      const checker = holders(runners, healthCheckShard(first))[0]!
      const victim = runners.find((r) => r !== checker)!
      const survivors = runners.filter((r) => r !== victim)
      const lost = shards.filter((s) => victim.sharding.hasShardId(s))
      assert.isAbove(lost.length, 0)
      const counters = Array.from({ length: 40 }, (_, i) => `counter-${i}`)
        .filter((c) => lost.some((s) => s.toString() === shardOf(first, c).toString()))
      for (const c of counters) assert.strictEqual((yield* increment(checker, c)).runner, victim.name)

      const crashed = yield* Clock.currentTimeMillis
      yield* victim.crash
      let deadAt: number | undefined
      const movedAt = yield* waitFor("shards moved", crashed, bound, () =>
        Effect.gen(function*() {
          if (deadAt === undefined) {
            const view = yield* checker.membership.currentMembers
            if (view.find((m) => m.name === victim.name)?.state === "dead") deadAt = (yield* Clock.currentTimeMillis) - crashed
          }
          return lost.every((s) => holders(survivors, s).length === 1)
        }))
      console.log(`[measured] crash → declared dead ${deadAt} ms, → shards moved ${movedAt} ms (bound ${bound} ms)`)

      // The move follows gossip's verdict, not a suspicion, and follows it promptly.
      assert.isDefined(deadAt, "the checker saw the crashed member dead")
      assert.isAtLeast(movedAt, deadAt!)
      assert.isAtMost(movedAt - deadAt!, sharding + slack)
      // Its counters answer again, from a survivor, starting over.
      for (const c of counters) {
        const reply = yield* increment(survivors[0]!, c)
        assert.notStrictEqual(reply.runner, victim.name)
        assert.strictEqual(reply.count, 1)
      }
    }).pipe(Effect.scoped), 40_000)
})
