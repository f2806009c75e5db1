/**
 * Lifeguard's experiment (Dadgar, Phillips, Currey, 2018) on SimNetwork: a few
 * members suffer episodes of slow message processing (their inbound traffic is
 * held, then handed over), and we count the healthy members that the slow ones
 * declare failed. After the episodes, one healthy member crashes for real and
 * we time its detection. Shared by test/sim/Lifeguard.test.ts and bench/lifeguard.ts.
 */
import { Clock, Effect, Random } from "effect"
import { TestClock } from "effect/testing"
import type { MemberEvent } from "../../src/MemberEvent.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { converged, type SimNode, startCluster, viewsOf } from "./cluster.ts"

/** The shape of one run; the same for Lifeguard on and off. */
export interface SlowMembersSetup {
  readonly members: number
  /** The last `slow` members are the slow ones. */
  readonly slow: number
  /** Virtual ms during which episodes start. */
  readonly duration: number
  /** Each slow member alternates a healthy gap and a pause, both drawn uniformly from these ranges (ms). */
  readonly gap: readonly [min: number, max: number]
  readonly pause: readonly [min: number, max: number]
}

export const defaultSetup: SlowMembersSetup = {
  members: 20,
  slow: 3,
  duration: 90_000,
  gap: [5_000, 20_000],
  pause: [2_000, 12_000]
}

/** Lifeguard on or off, or one of its two parts alone: local health awareness, dynamic suspicion timeouts. */
export type LifeguardMode = "on" | "off" | "awareness only" | "suspicion only"

const configOf = (mode: LifeguardMode) => ({
  awareness: mode === "on" || mode === "awareness only",
  dynamicSuspicion: mode === "on" || mode === "suspicion only"
})

/** What one run measured. */
export interface SlowMembersResult {
  readonly seed: number
  readonly lifeguard: LifeguardMode
  /** Episodes and the time slow members spent paused in all. */
  readonly episodes: number
  readonly pausedMs: number
  /** Times a slow member itself declared a healthy member failed (the paper's false positives). */
  readonly falseFailures: number
  /** Distinct healthy members that some slow member declared failed. */
  readonly healthyHit: number
  /** Suspicions of healthy members that slow members raised themselves. */
  readonly falseSuspicions: number
  /**
   * Times a healthy member saw another healthy member failed: a slow member's verdict that
   * arrived before the refutation, or a refutation that gossip never brought.
   */
  readonly byHealthy: number
  /** Virtual ms from a real crash to its first MemberFailed anywhere, and until every live member saw it dead. */
  readonly detectFirst: number
  readonly detectAll: number
}

/** Episode starts and lengths per slow member, from their own seed so that on and off runs share them. */
const episodesFor = (setup: SlowMembersSetup, seed: number) =>
  Effect.gen(function*() {
    const plan: Array<{ readonly at: number; readonly member: number; readonly millis: number }> = []
    for (let s = 0; s < setup.slow; s++) {
      let t = yield* Random.nextIntBetween(0, setup.gap[1])
      while (t < setup.duration) {
        const millis = yield* Random.nextIntBetween(setup.pause[0], setup.pause[1])
        plan.push({ at: t, member: setup.members - setup.slow + s, millis })
        t += millis + (yield* Random.nextIntBetween(setup.gap[0], setup.gap[1]))
      }
    }
    return plan.sort((a, b) => a.at - b.at)
  }).pipe(Random.withSeed(`episodes-${seed}`))

/** One run: form the cluster, play the episodes, let it calm down, crash a healthy member and time its detection. */
export const slowMembersRun = (seed: number, lifeguard: LifeguardMode, setup: SlowMembersSetup = defaultSetup) =>
  Effect.gen(function*() {
    const network = yield* SimNetwork
    const nodes = yield* startCluster(setup.members, configOf(lifeguard))
    const all = nodes.map((n) => n.name)
    yield* untilTrue(converged(nodes, all), 60_000)
    const slow = nodes.slice(setup.members - setup.slow)
    const healthy = nodes.slice(0, setup.members - setup.slow)
    const healthyNames = new Set(healthy.map((n) => n.name))

    const plan = yield* episodesFor(setup, seed)
    const start = yield* Clock.currentTimeMillis
    for (const episode of plan) {
      const now = yield* Clock.currentTimeMillis
      yield* TestClock.adjust(start + episode.at - now)
      yield* network.pause(nodes[episode.member]!.address, episode.millis)
    }
    // the last pause ends, then refutations and gossip settle
    yield* TestClock.adjust(start + setup.duration + setup.pause[1] + 15_000 - (yield* Clock.currentTimeMillis))
    const episodesEnd = yield* Clock.currentTimeMillis

    // what each slow member concluded about healthy members by itself, during the episodes
    const own = (n: SimNode, tag: MemberEvent["_tag"]) =>
      n.events.filter(({ at, event }) =>
        at < episodesEnd && event._tag === tag && "from" in event && event.from === n.name &&
        healthyNames.has(event.member.name)
      ).map(({ event }) => event.member.name)
    const falseFailures = slow.flatMap((n) => own(n, "MemberFailed"))
    const byHealthy = healthy.flatMap((n) =>
      n.events.filter(({ at, event }) =>
        at < episodesEnd && event._tag === "MemberFailed" && healthyNames.has(event.member.name)
      )
    ).length

    // a real crash of a healthy member, once everyone agrees again
    yield* untilTrue(converged(nodes, all), 120_000)
    const victim = healthy[healthy.length - 1]!
    const live = nodes.filter((n) => n !== victim)
    const crashedAt = yield* Clock.currentTimeMillis
    yield* network.crash(victim.address)
    const detectAll = yield* untilTrue(
      Effect.map(viewsOf(live, victim.name), (views) => views.every((v) => v === "dead")),
      180_000
    )
    const firsts = live.flatMap((n) =>
      n.events.filter(({ at, event }) =>
        at >= crashedAt && event._tag === "MemberFailed" && event.member.name === victim.name
      )
    )
    return {
      seed,
      lifeguard,
      episodes: plan.length,
      pausedMs: plan.reduce((sum, e) => sum + e.millis, 0),
      falseFailures: falseFailures.length,
      healthyHit: new Set(falseFailures).size,
      falseSuspicions: slow.flatMap((n) => own(n, "MemberSuspected")).length,
      byHealthy,
      detectFirst: Math.min(...firsts.map((e) => e.at)) - crashedAt,
      detectAll
    } satisfies SlowMembersResult
  }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(seed))

/** Advances virtual time in 100 ms steps until `done`; returns how long it took. Dies past `limit`. */
const untilTrue = (done: Effect.Effect<boolean>, limit: number) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    while (!(yield* done)) {
      if ((yield* Clock.currentTimeMillis) - start > limit) {
        return yield* Effect.die(new Error(`not reached within ${limit} ms`))
      }
      yield* TestClock.adjust(100)
    }
    return (yield* Clock.currentTimeMillis) - start
  })
