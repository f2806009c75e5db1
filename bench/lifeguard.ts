/**
 * Lifeguard measured as its paper measures it: a cluster in which a few members
 * suffer episodes of slow message processing, run with Lifeguard on and off over
 * several seeds (the scenario is test/sim/slowMembers.ts; test/sim/Lifeguard.test.ts
 * asserts on the same figures). Prints one row per seed and mode, and the totals.
 *
 *   ./node_modules/.bin/node bench/lifeguard.ts                 # seeds 1..5
 *   ./node_modules/.bin/node bench/lifeguard.ts --seeds 1,2,3,4,5,6,7,8,9,10
 *   ./node_modules/.bin/node bench/lifeguard.ts --members 40 --slow 4 --duration 300
 *   ./node_modules/.bin/node bench/lifeguard.ts --components     # each part of Lifeguard alone, too
 */
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { defaultSetup, slowMembersRun } from "../test/sim/slowMembers.ts"
import type { LifeguardMode, SlowMembersResult, SlowMembersSetup } from "../test/sim/slowMembers.ts"
import { num, printHeader, table } from "./harness.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const seeds = (arg("seeds") ?? "1,2,3,4,5").split(",").map(Number)
const modes: ReadonlyArray<LifeguardMode> = process.argv.includes("--components")
  ? ["off", "awareness only", "suspicion only", "on"]
  : ["off", "on"]

const s: SlowMembersSetup = {
  ...defaultSetup,
  members: Number(arg("members") ?? defaultSetup.members),
  slow: Number(arg("slow") ?? defaultSetup.slow),
  duration: 1000 * Number(arg("duration") ?? defaultSetup.duration / 1000)
}

const run = (seed: number, lifeguard: LifeguardMode) =>
  Effect.runPromise(
    slowMembersRun(seed, lifeguard, s).pipe(Effect.provide(TestClock.layer({ warningDelay: "600 seconds" })))
  )

printHeader("Lifeguard: false failures caused by slow members", [
  `setup: ${s.members} members (full Membership stack, compact codec, lan profile), the last ${s.slow} slow; each slow member`,
  `       alternates ${s.gap[0] / 1000}–${s.gap[1] / 1000} s healthy and ${s.pause[0] / 1000}–${s.pause[1] / 1000} s paused (inbound held, then handed over),`,
  `       for ${s.duration / 1000} virtual s; then a healthy member crashes. "off" is awareness: false, dynamicSuspicion: false.`,
  `       false failures: times a slow member itself declared a healthy member failed; by healthy: times a healthy`,
  `       member saw another healthy member failed. crash: virtual s until the first, and every, live member saw it dead.`
])

const results: Array<SlowMembersResult & { wall: number }> = []
for (const seed of seeds) {
  for (const lifeguard of modes) {
    const t0 = performance.now()
    const r = await run(seed, lifeguard)
    results.push({ ...r, wall: (performance.now() - t0) / 1000 })
    process.stderr.write(`seed ${seed} lifeguard ${lifeguard}: ${JSON.stringify(r)}\n`)
  }
}

const row = (r: SlowMembersResult & { wall: number }) => [
  String(r.seed),
  r.lifeguard,
  num(r.episodes),
  num(r.pausedMs / 1000, 1),
  num(r.falseFailures),
  num(r.healthyHit),
  num(r.falseSuspicions),
  num(r.byHealthy),
  num(r.detectFirst / 1000, 1),
  num(r.detectAll / 1000, 1),
  num(r.wall, 1)
]
console.log(table(
  [
    "seed",
    "Lifeguard",
    "episodes",
    "paused s",
    "false failures",
    "healthy hit",
    "false suspicions",
    "by healthy",
    "crash: first s",
    "crash: all s",
    "wall s"
  ],
  results.map(row)
))

// totals per mode, against classic SWIM
const total = (mode: LifeguardMode, f: (r: SlowMembersResult) => number) =>
  results.filter((r) => r.lifeguard === mode).reduce((a, r) => a + f(r), 0)
const fewer = (mode: LifeguardMode, f: (r: SlowMembersResult) => number) => {
  const off = total("off", f)
  return off === 0 ? "–" : `${num(100 * (1 - total(mode, f) / off), 0)}%`
}
const failures = (r: SlowMembersResult) => r.falseFailures
const suspicions = (r: SlowMembersResult) => r.falseSuspicions
console.log(`\nTotals over ${seeds.length} seeds (fewer: against Lifeguard off)\n`)
console.log(table(
  ["Lifeguard", "false failures", "fewer", "false suspicions", "fewer", "by healthy", "crash: all s, mean"],
  modes.map((mode) => [
    mode,
    num(total(mode, failures)),
    fewer(mode, failures),
    num(total(mode, suspicions)),
    fewer(mode, suspicions),
    num(total(mode, (r) => r.byHealthy)),
    num(total(mode, (r) => r.detectAll) / seeds.length / 1000, 1)
  ])
))
