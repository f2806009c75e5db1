/**
 * The fault matrix: 50 nodes on SimNetwork in virtual time, one fault per test,
 * each checked against the same invariants (see `matrix.ts` for how they are
 * measured):
 *
 * - down: no live node is seen down (absent, dead or left, or at an address it
 *   no longer has) by a live node for longer than a stated bound after the fault;
 * - tables: no name listed twice, no address a name never ran at, no incarnation
 *   going back for an observer while it keeps the entry at one address, and every
 *   node lists itself alive at its own address;
 * - convergence: every live node lists exactly the live names alive, each at its
 *   address, within a stated bound after the fault, and still does 10 s later;
 * - joins: nodes join once when formed and a restarted process joins once on its
 *   seeds, as a fresh process does; nothing else ever calls `join`.
 *
 * Every node runs the LAN profile with `deadNodeReclaimTime` (see MATRIX). Each
 * test prints what it measured (`[measured] …`) next to its bounds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Random } from "effect"
import { TestClock } from "effect/testing"
import { presets } from "../../src/Config.ts"
import { pushPullScale, suspicionTimeout } from "../../src/protocol/Suspicion.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { addressOf } from "./cluster.ts"
import type { Findings, Matrix, Proc } from "./matrix.ts"
import * as M from "./matrix.ts"

const N = 50
/**
 * LAN, plus: a dead member's name may move to a new address 5 s after it was
 * declared dead. memberlist's default (0) never lets it move while the dead entry
 * is kept, only after it is reaped (gossipToTheDeadTime, then the next probe-round
 * wrap). 5 s is ten times what a falsely declared member takes to refute (< 0.5 s
 * measured here), so a live member keeps its name against a conflicting claimant.
 */
const MATRIX = { deadNodeReclaimTime: "5 seconds" } as const
const lan = presets.lan
const GOSSIP = lan.gossipInterval
/** One probe round: every member probed once, one per probe interval. */
const ROUND = N * lan.probeInterval
const SUSPICION_MIN = suspicionTimeout(lan.suspicionMult, N, lan.probeInterval)
/** A suspicion nobody confirms runs this long. */
const SUSPICION_MAX = lan.suspicionMaxTimeoutMult * SUSPICION_MIN
const PUSH_PULL = pushPullScale(lan.pushPullInterval, N)
/** How long a cluster must stay converged after it first is. */
const HOLD = 10_000

const cpuMillis = (u: NodeJS.CpuUsage) => Math.round((u.user + u.system) / 1000)
const report = (line: string) => Effect.sync(() => console.log(`[measured] ${line}`))

/**
 * Forms the cluster, runs `fault` (which returns when the fault ended), waits for
 * convergence (dies past `limit`), holds, and checks the invariants every
 * scenario shares.
 */
const scenario = (
  label: string,
  fault: (m: Matrix, procs: ReadonlyArray<Proc>) => Effect.Effect<number, unknown, SimNetwork>,
  bounds: { readonly converge: number; readonly downAfterFault: number; readonly joins: number }
) =>
  Effect.gen(function*() {
    const wall = performance.now()
    const cpu = process.cpuUsage()
    const m = yield* M.makeMatrix(MATRIX)
    const procs = yield* M.formCluster(m, N)
    const t0 = yield* Clock.currentTimeMillis
    const faultEnd = yield* fault(m, procs)
    yield* M.timeUntil(M.convergedNow(m), bounds.converge + HOLD)
    yield* TestClock.adjust(HOLD)
    const end = yield* Clock.currentTimeMillis
    const f = M.analyse(m, t0, end, faultEnd)
    const conflicts = yield* totalConflicts(m)
    const d = f.longestDown
    yield* report(
      `${label}: converged ${f.convergedAt - faultEnd} ms after the fault (bound ${bounds.converge}); ` +
        `longest a live node was seen down ${d.ms} ms (${d.observer} saw ${d.subject} from t=${d.from}), ` +
        `the last such view ended ${f.downAfterFault} ms after the fault (bound ${bounds.downAfterFault}); ` +
        `${f.downs.length} such views; ` +
        `${count(m, "MemberSuspected", t0)} suspicion and ${count(m, "MemberFailed", t0)} death events; ` +
        `conflicts ${conflicts}; joins ${m.joins.length}; ` +
        `wall ${Math.round(performance.now() - wall)} ms, cpu ${cpuMillis(process.cpuUsage(cpu))} ms`
    )
    // tables: checked on every table each process published
    assert.deepStrictEqual(m.violations.slice(0, 5), [])
    // convergence: every pair right at the end, and right since `convergedAt`
    assert.deepStrictEqual(f.unconverged.slice(0, 5), [])
    assert.isAtMost(f.convergedAt - faultEnd, bounds.converge)
    assert.isAtMost(f.downAfterFault, bounds.downAfterFault)
    // joins: only the ones the scenario made, each answered
    assert.strictEqual(m.joins.length, bounds.joins)
    assert.isTrue(m.joins.every((j) => j.ok === true))
    return { m, f }
  })

/** `stats.conflicts` summed over the live processes. */
const totalConflicts = (m: Matrix) =>
  Effect.map(
    Effect.forEach(M.liveProcs(m), (p) => p.node.membership.stats),
    (all) => all.reduce((n, s) => n + s.conflicts, 0)
  )

/** Downs whose observer and subject both satisfy `keep`. */
const longest = (f: Findings, keep: (name: string) => boolean) =>
  f.downs
    .filter((d) => keep(d.subject) && keep(d.observer.split("#")[0]!))
    .reduce((x, d) => Math.max(x, d.to - d.from), 0)

/**
 * How observers came to list a name at a new address: straight from a dead entry at
 * the old one (reclaimed) or after forgetting it (reaped, then learned afresh).
 */
const moves = (m: Matrix) => {
  const address = (view: string) => view.split("@")[1]
  let reclaimed = 0
  let reaped = 0
  for (const p of m.procs) {
    for (const { points } of p.views.values()) {
      for (let i = 1; i < points.length; i++) {
        const [before, after] = [points[i - 1]!.value, points[i]!.value]
        if (!after.startsWith("alive@")) continue
        if (before !== "") {
          if (address(before) !== address(after)) reclaimed++
        } else if (points.slice(0, i - 1).some((x) => address(x.value) !== address(after))) {
          reaped++
        }
      }
    }
  }
  return { reclaimed, reaped }
}

/** Events of a kind since `from`, over every process. */
const count = (m: Matrix, tag: string, from: number) =>
  m.procs.reduce((n, p) => n + p.node.events.filter((e) => e.at >= from && e.event._tag === tag).length, 0)

/** Events of a kind about `name`, over every process. */
const eventsAbout = (m: Matrix, tag: string, name: string) =>
  m.procs.flatMap((p) => p.node.events.filter((e) => e.event._tag === tag && e.event.member.name === name))

describe("fault matrix (50 nodes)", () => {
  it.effect("a 50/50 partition held for 2 minutes heals through reconnection", () =>
    Effect.gen(function*() {
      // Both sides declare the other dead and reap it; after healing, every node's
      // next reconnect tick (failed ≥ live, so every tick tries) push/pulls with a
      // member of the other side; gossip and further ticks spread the rest.
      const bound = lan.reconnectInterval + 10_000
      yield* scenario("partition 25/25 for 2 min", (m, procs) =>
        Effect.gen(function*() {
          yield* m.network.partition(procs.slice(0, 25).map((p) => p.address), procs.slice(25).map((p) => p.address))
          yield* TestClock.adjust("2 minutes")
          yield* m.network.heal()
          return yield* Clock.currentTimeMillis
        }), { converge: bound, downAfterFault: bound, joins: N - 1 })
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(101)), 300_000)

  /** Restarts every node in turn: killed, `downtime` later a fresh process, then `gap` before the next. */
  const rollingRestart = (m: Matrix, procs: ReadonlyArray<Proc>, newAddress: boolean) =>
    Effect.gen(function*() {
      for (let i = 0; i < N; i++) {
        // seeds: two other members where they run now, as a DNS name would list them
        const seeds = [1, 2].map((k) => M.owner(m, `node-${(i + k) % N}`).address)
        yield* M.restart(m, procs[i]!, newAddress ? addressOf(N + i) : procs[i]!.address, 1000, seeds)
        yield* TestClock.adjust(2000)
      }
      return yield* Clock.currentTimeMillis
    })

  it.effect("a rolling restart of every node at the same address", () =>
    Effect.gen(function*() {
      // 1 s down is less than the shortest suspicion timeout (6.8 s): nobody declares
      // the node dead, and the fresh process refutes its old incarnation when its
      // join brings it. The only down views are the fresh process's own, until its
      // join's push/pull returns (a few ms).
      const { m, f } = yield* scenario("rolling restart, same address", (m, procs) => rollingRestart(m, procs, false), {
        converge: 5 * GOSSIP,
        downAfterFault: 0,
        joins: 2 * N - 1
      })
      // a push/pull round trip on 1 ms links, with room to spare
      assert.isAtMost(f.longestDown.ms, 50)
      // suspected while down, refuted on return: nobody ever declared dead
      for (let i = 0; i < N; i++) assert.lengthOf(eventsAbout(m, "MemberFailed", `node-${i}`), 0)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(102)), 300_000)

  it.effect("a rolling restart of every node at a new address", () =>
    Effect.gen(function*() {
      // The cluster refuses the new address (a conflict) until the old one is dead and
      // 5 s more have passed. The new process refutes the suspicion of its old address
      // at once, too early to be accepted, and the later death carries the old
      // incarnation, which it need not refute: the name moves with its next push/pull
      // (at most PUSH_PULL), then by gossip. Until then it hears no gossip, so it can
      // miss another node's restart and must bury that one's old address itself: its
      // own probe within two probe rounds (the order is reshuffled each round), a
      // suspicion nobody confirms (the maximum), then a push/pull for the new address.
      // That push/pull's partner may not know the new address either (node-12#62 here
      // pulled the old, dead one at 179.7 and 209.7 s and the new one at 269.7 s), so a
      // single view may take one interval more; the cluster as a whole converges sooner.
      const bound = 2 * ROUND + SUSPICION_MAX + PUSH_PULL
      const longestBound = bound + PUSH_PULL
      const { m, f } = yield* scenario("rolling restart, new address", (m, procs) => rollingRestart(m, procs, true), {
        converge: bound,
        downAfterFault: bound,
        joins: 2 * N - 1
      })
      assert.isAtMost(f.longestDown.ms, longestBound)
      const moved = moves(m)
      const lens = f.downs.map((d) => d.to - d.from).sort((a, b) => a - b)
      const pct = (q: number) => lens[Math.floor(q * (lens.length - 1))]
      yield* report(
        `rolling restart, new address: names moved ${JSON.stringify(moved)}; ` +
          `down views p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, p99 ${pct(0.99)} ms`
      )
      // deadNodeReclaimTime at work: most observers move a name straight from the dead entry
      assert.isAbove(moved.reclaimed, moved.reaped)
      // every name moved: the old entries are gone from every live table
      for (const p of M.liveProcs(m)) {
        const table = yield* p.node.membership.currentMembers
        assert.isTrue(table.every((e) => e.address === M.owner(m, e.name).address))
      }
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(103)), 300_000)

  it.effect("a flapping node (crashed and restored every 7 s for 2 minutes)", () =>
    Effect.gen(function*() {
      const flapper = "node-7"
      // After the last restore the flapper learns it was declared dead (gossip to the
      // dead, acks, at the latest its own push/pull) and refutes; a few gossip rounds spread it.
      const bound = PUSH_PULL + 10 * GOSSIP
      const { f } = yield* scenario("flapping node", (m, procs) =>
        Effect.gen(function*() {
          for (let i = 0; i < 9; i++) {
            yield* M.crash(m, procs[7]!)
            yield* TestClock.adjust(7000)
            yield* M.restore(m, procs[7]!)
            if (i < 8) yield* TestClock.adjust(7000)
          }
          return yield* Clock.currentTimeMillis
        }), { converge: bound, downAfterFault: bound, joins: N - 1 })
      // The flapper's suspicions time out while it is cut off (nobody hears them to
      // refute), and its "dead" verdicts then reach the cluster: a healthy node is
      // briefly dead everywhere until it hears and refutes, one hop plus an epidemic
      // of log3(50) ≈ 4 gossip rounds: bound 10 rounds.
      const healthy = longest(f, (name) => name !== flapper)
      yield* report(`flapping node: longest a healthy node was seen down by a healthy one: ${healthy} ms`)
      assert.isAtMost(healthy, 10 * GOSSIP)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(104)), 300_000)

  it.effect("asymmetric loss: node-2k → node-2k+1 lost (the reverse fine) for ten pairs, 2 minutes", () =>
    Effect.gen(function*() {
      const pairs = Array.from({ length: 10 }, (_, k) => [2 * k, 2 * k + 1] as const)
      // Neither side needs the lost direction: a probe whose ping or ack is lost
      // succeeds through the helpers' indirect pings (and the TCP fallback), and gossip
      // takes other routes, so nobody is seen down, or even suspected, at any time.
      const { m, f } = yield* scenario("asymmetric loss", (m, procs) =>
        Effect.gen(function*() {
          const cut = (loss: number) =>
            Effect.forEach(pairs, ([a, b]) => m.network.setLink(procs[a]!.address, procs[b]!.address, { loss }))
          yield* cut(1)
          yield* TestClock.adjust("2 minutes")
          yield* cut(0)
          return yield* Clock.currentTimeMillis
        }), { converge: 0, downAfterFault: 0, joins: N - 1 })
      assert.lengthOf(f.downs, 0)
      const suspected = pairs.flat().flatMap((i) => eventsAbout(m, "MemberSuspected", `node-${i}`))
      yield* report(`asymmetric loss: ${suspected.length} suspicions of the 20 nodes with a lost direction`)
      assert.lengthOf(suspected, 0)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(105)), 300_000)

  it.effect("a name conflict: a second process claims a member's name from another address", () =>
    Effect.gen(function*() {
      const name = "node-9"
      const impostorAddress = addressOf(2 * N)
      let impostor: Proc | undefined
      let ownerAddress = ""
      // Phase 1, memberlist's semantics: members that know node-9 refuse an alive for
      // it from another address (counted in `conflicts`), and so does the impostor
      // for what it hears of node-9 at the first address. The cluster keeps the first
      // node; the impostor sees everyone, nobody sees it.
      const { m } = yield* scenario("name conflict", (m, procs) =>
        Effect.gen(function*() {
          ownerAddress = procs[9]!.address
          impostor = yield* M.launch(m, name, impostorAddress, false)
          yield* M.join(m, impostor, [procs[0]!.address])
          // long enough for the impostor's first periodic push/pull (within pushPullInterval)
          yield* TestClock.adjust("1 minute")
          return yield* Clock.currentTimeMillis
        }), { converge: 0, downAfterFault: 0, joins: N })
      for (const p of m.procs.filter((p) => p.name !== name)) {
        const addresses = new Set(p.views.get(name)?.points.map((x) => x.value.split("@")[1]))
        assert.deepStrictEqual([...addresses], [ownerAddress])
      }
      assert.isAbove(yield* totalConflicts(m), 0)

      // Phase 2: the first node dies. The impostor refutes the suspicion of node-9 at
      // once (refused: the first is still suspect) and need not refute the death (an
      // older incarnation), so the name moves with the impostor's next push/pull after
      // the death and 5 s: a suspicion, the reclaim time and one push/pull interval.
      const first = M.owner(m, name)
      const start = yield* Clock.currentTimeMillis
      yield* M.kill(m, first)
      yield* M.adopt(m, impostor!)
      const bound = SUSPICION_MAX + 5_000 + PUSH_PULL
      const took = yield* M.timeUntil(M.convergedNow(m), bound)
      yield* TestClock.adjust(HOLD)
      const f = M.analyse(m, start, yield* Clock.currentTimeMillis, start)
      yield* report(
        `name conflict: ${yield* totalConflicts(m)} conflicts counted; after the first holder died ` +
          `the name moved to the impostor for all in ${f.convergedAt - start} ms (bound ${bound})`
      )
      assert.deepStrictEqual(m.violations.slice(0, 5), [])
      assert.deepStrictEqual(f.unconverged.slice(0, 5), [])
      assert.isAtMost(f.convergedAt - start, bound)
      assert.isAtMost(took, bound)
      assert.strictEqual(m.joins.length, N)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(106)), 300_000)

  it.effect("30% packet loss on every link for 5 minutes", () =>
    Effect.gen(function*() {
      // Loss costs probes (a direct probe fails half the time, all three indirect
      // ones 44%). Streams model TCP, which retransmits what the link loses, so they stay
      // reliable here and the TCP fallback rescues probes (lost dials and reset streams
      // are the loss scenarios' subject, in Scenarios.test.ts). Bounds that hold without
      // that rescue too: a suspicion raised just before the loss ends still runs its
      // course (at most the maximum) and a false death is refuted in a few gossip rounds.
      const bound = SUSPICION_MAX + 10 * GOSSIP
      const { f } = yield* scenario("30% loss for 5 min", (m) =>
        Effect.gen(function*() {
          yield* m.network.setDefaultLink({ loss: 0.3 })
          yield* TestClock.adjust("5 minutes")
          yield* m.network.setDefaultLink({ loss: 0 })
          return yield* Clock.currentTimeMillis
        }), { converge: bound, downAfterFault: bound, joins: N - 1 })
      // During the loss, a member falsely declared dead is corrected by its refutation,
      // by gossip or at the latest by the next push/pull that brings it.
      assert.isAtMost(f.longestDown.ms, PUSH_PULL + 10 * GOSSIP)
    }).pipe(Effect.provide(SimNetwork.layer()), Random.withSeed(107)), 300_000)
})
