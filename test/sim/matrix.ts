/**
 * A recorder for fault scenarios on SimNetwork: node processes (start, stop,
 * crash, restore, restart), every member table each process publishes, checked
 * on arrival for corruption, and an exact, millisecond analysis afterwards of who
 * saw whom wrongly and when the cluster converged.
 */
import { Clock, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { GossipConfigInput } from "../../src/Config.ts"
import type { Member } from "../../src/Member.ts"
import type { SimNetworkShape } from "../../src/transport/SimNetwork.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { addressOf, settle, type SimNode, startNode, stopNode } from "./cluster.ts"

/** A value that changes at instants: the value of the last point at or before a time. */
class Steps<T> {
  readonly points: Array<{ at: number; value: T }> = []
  readonly initial: T
  constructor(initial: T) {
    this.initial = initial
  }
  set(at: number, value: T): void {
    const last = this.points.at(-1)
    if (last !== undefined && last.at === at) last.value = value
    else if ((last === undefined ? this.initial : last.value) !== value) this.points.push({ at, value })
  }
  get current(): T {
    return this.points.at(-1)?.value ?? this.initial
  }
  /** A reader for non-decreasing times. */
  cursor(): (at: number) => T {
    let i = -1
    return (at) => {
      while (i + 1 < this.points.length && this.points[i + 1]!.at <= at) i++
      return i < 0 ? this.initial : this.points[i]!.value
    }
  }
}

/** One node process: a fresh start of a name at an address, until it is stopped. */
export interface Proc {
  readonly id: number
  readonly name: string
  readonly address: string
  readonly node: SimNode
  /** Running and reachable (not stopped, not crashed). */
  readonly live: Steps<boolean>
  /** How this process's table shows each other name: `state@address`, or "" when absent. */
  readonly views: Map<string, Steps<string>>
  /**
   * The last incarnation this process listed for each name, and at which address: it
   * must not go back while the entry stays at that address (a move or a reap starts afresh).
   */
  readonly incarnations: Map<string, { address: string; incarnation: number }>
  running: boolean
  crashed: boolean
}

export interface Matrix {
  readonly network: SimNetworkShape
  readonly config: Partial<GossipConfigInput>
  readonly procs: Array<Proc>
  /** The process the cluster should know under each name (its id), over time. */
  readonly owners: Map<string, Steps<number>>
  /** Every address each name was ever bound at. */
  readonly addresses: Map<string, Set<string>>
  readonly violations: Array<string>
  /** Every call of `join`, the initial ones included. */
  readonly joins: Array<{ at: number; name: string; ok: boolean | undefined }>
}

/** A recorder on the SimNetwork in context; every process still running is stopped with the scope. */
export const makeMatrix = (config: Partial<GossipConfigInput>) =>
  Effect.gen(function*() {
    const m: Matrix = {
      network: yield* SimNetwork,
      config,
      procs: [],
      owners: new Map(),
      addresses: new Map(),
      violations: [],
      joins: []
    }
    yield* Effect.addFinalizer(() => Effect.forEach(m.procs.filter((p) => p.running), (p) => stopNode(p.node)))
    return m
  })

const now = Clock.currentTimeMillis

const violation = (m: Matrix, at: number, text: string) => {
  if (m.violations.length < 1000) m.violations.push(`t=${at} ${text}`)
}

/** Checks one published table and records what it shows. */
const observe = (m: Matrix, p: Proc, table: ReadonlyArray<Member>, at: number) => {
  const seen = new Set<string>()
  for (const e of table) {
    const who = `${p.name}#${p.id}`
    if (seen.has(e.name)) violation(m, at, `${who} lists ${e.name} twice`)
    seen.add(e.name)
    if (m.addresses.get(e.name)?.has(e.address) !== true) {
      violation(m, at, `${who} lists ${e.name} at ${e.address}, where it never ran`)
    }
    const last = p.incarnations.get(e.name)
    if (last !== undefined && last.address === e.address && e.incarnation < last.incarnation) {
      violation(m, at, `${who}: incarnation of ${e.name} went back from ${last.incarnation} to ${e.incarnation}`)
    }
    p.incarnations.set(e.name, { address: e.address, incarnation: e.incarnation })
    if (e.name === p.name) {
      if (e.state !== "alive" || e.address !== p.address) {
        violation(m, at, `${who} lists itself ${e.state}@${e.address}`)
      }
      continue
    }
    let view = p.views.get(e.name)
    if (view === undefined) p.views.set(e.name, view = new Steps(""))
    view.set(at, `${e.state}@${e.address}`)
  }
  for (const [name, view] of p.views) {
    if (!seen.has(name)) {
      view.set(at, "")
      p.incarnations.delete(name)
    }
  }
  if (!seen.has(p.name)) violation(m, at, `${p.name}#${p.id} does not list itself`)
}

/**
 * Starts a process of `name` at `address` with a fresh state (incarnation 1, empty
 * table). Unless `owner` is false, the cluster should know the name by this process.
 */
export const launch = (m: Matrix, name: string, address: string, owner = true) =>
  Effect.gen(function*() {
    let set = m.addresses.get(name)
    if (set === undefined) m.addresses.set(name, set = new Set())
    set.add(address)
    const node = yield* startNode(name, address, m.config)
    const at = yield* now
    const p: Proc = {
      id: m.procs.length,
      name,
      address,
      node,
      live: new Steps(false),
      views: new Map(),
      incarnations: new Map(),
      running: true,
      crashed: false
    }
    p.live.set(at, true)
    m.procs.push(p)
    if (owner) {
      let o = m.owners.get(name)
      if (o === undefined) m.owners.set(name, o = new Steps(-1))
      o.set(at, p.id)
    }
    // every table the node publishes, stamped with the Clock time it was published
    const record = (table: ReadonlyArray<Member>) =>
      Effect.clockWith((c) => Effect.sync(() => observe(m, p, table, c.currentTimeMillisUnsafe())))
    yield* node.membership.members.pipe(Stream.runForEach(record), Effect.forkIn(node.scope))
    yield* Effect.yieldNow
    return p
  })

/**
 * The only way a test joins: counted, so that a scenario can show it never
 * re-joined by hand. Runs in the background; the outcome is recorded.
 */
export const join = (m: Matrix, p: Proc, seeds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const record: Matrix["joins"][number] = { at: yield* now, name: p.name, ok: undefined }
    m.joins.push(record)
    return yield* p.node.membership.join(seeds).pipe(
      Effect.matchEffect({
        onFailure: () => Effect.sync(() => (record.ok = false)),
        onSuccess: () => Effect.sync(() => (record.ok = true))
      }),
      Effect.forkIn(p.node.scope)
    )
  })

/** The process ends without leaving (killed): its address stops answering at once. */
export const kill = (m: Matrix, p: Proc) =>
  Effect.gen(function*() {
    p.running = false
    p.live.set(yield* now, false)
    yield* stopNode(p.node)
  })

/** Network cut at the node (SimNetwork `crash`); the process keeps running. */
export const crash = (m: Matrix, p: Proc) =>
  Effect.gen(function*() {
    p.crashed = true
    p.live.set(yield* now, false)
    yield* m.network.crash(p.address)
  })

export const restore = (m: Matrix, p: Proc) =>
  Effect.gen(function*() {
    p.crashed = false
    p.live.set(yield* now, p.running)
    yield* m.network.restore(p.address)
  })

/** From now on the cluster should know `p.name` by `p` (a claimant becomes the owner). */
export const adopt = (m: Matrix, p: Proc) => Effect.map(now, (at) => m.owners.get(p.name)!.set(at, p.id))

/** The process of `name` the cluster should know now. */
export const owner = (m: Matrix, name: string): Proc => m.procs[m.owners.get(name)!.current]!

export const liveProcs = (m: Matrix) => m.procs.filter((p) => p.running && !p.crashed)

/**
 * A restart as an orchestrator does it: the process is killed, and `downtime` ms
 * later a fresh one (same name, `address`) starts and joins once on `seeds`.
 */
export const restart = (m: Matrix, p: Proc, address: string, downtime: number, seeds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* kill(m, p)
    yield* TestClock.adjust(downtime)
    const fresh = yield* launch(m, p.name, address)
    yield* join(m, fresh, seeds)
    return fresh
  })

/** True when every live process lists exactly the live names as alive, each at its owner's address. */
export const convergedNow = (m: Matrix) =>
  Effect.gen(function*() {
    const live = liveProcs(m)
    const expected = new Map<string, string>()
    for (const [name] of m.owners) {
      const o = owner(m, name)
      if (o.running && !o.crashed) expected.set(name, o.address)
    }
    for (const p of live) {
      const alive = (yield* p.node.membership.currentMembers).filter((e) => e.state === "alive")
      if (alive.length !== expected.size) return false
      for (const e of alive) {
        const want = e.name === p.name ? p.address : expected.get(e.name)
        if (want !== e.address) return false
      }
    }
    return true
  })

/** Advances time in `step` slices until `done` holds; the time it took (dies past `limit`). */
export const timeUntil = (done: Effect.Effect<boolean>, limit: number, step = 1000) =>
  Effect.gen(function*() {
    const start = yield* now
    while (!(yield* done)) {
      if ((yield* now) - start > limit) return yield* Effect.die(new Error(`not reached within ${limit} ms`))
      yield* TestClock.adjust(step)
    }
    return (yield* now) - start
  })

/** `n` processes `node-0…` at `addressOf(i)`, each joined once to node-0, converged. */
export const formCluster = (m: Matrix, n: number) =>
  Effect.gen(function*() {
    const procs: Array<Proc> = []
    for (let i = 0; i < n; i++) procs.push(yield* launch(m, `node-${i}`, addressOf(i)))
    const joins = yield* Effect.forEach(procs.slice(1), (p) => join(m, p, [procs[0]!.address]))
    yield* settle(Fiber.awaitAll(joins))
    yield* timeUntil(convergedNow(m), 30_000, 100)
    return procs
  })

/** What the analysis found over a window of time. */
export interface Findings {
  /** The longest of `downs` (a zero-length one at 0 when there are none). */
  readonly longestDown: Down & { readonly ms: number }
  /** How long after `faultEnd` the last of `downs` ended (0: none outlived the fault). */
  readonly downAfterFault: number
  /** When the last live process's view last became right, after `faultEnd` (the cluster converged). */
  readonly convergedAt: number
  /** Pairs not converged at the end of the window. */
  readonly unconverged: ReadonlyArray<string>
  /** Every wrong-down stretch. */
  readonly downs: ReadonlyArray<Down>
}

/** A stretch during which a live process did not see a live name alive or suspect at its address. */
export interface Down {
  readonly observer: string
  readonly subject: string
  readonly from: number
  readonly to: number
}

/**
 * Sweeps every (observer process, subject name) pair over `[from, to]`. A view is
 * wrong-down while the observer is live, the subject's owner is live, and the
 * observer's table does not show the subject alive or suspect at the owner's
 * address. A pair is converged while the observer is not live, or shows a live
 * subject alive at its address and a dead one not alive or suspect.
 */
export const analyse = (m: Matrix, from: number, to: number, faultEnd: number): Findings => {
  let lastWrong = faultEnd
  let convergedAt = faultEnd
  const unconverged: Array<string> = []
  const downs: Array<Down> = []
  for (const o of m.procs) {
    for (const [name, owners] of m.owners) {
      if (name === o.name) continue
      const view = o.views.get(name) ?? new Steps("")
      const ownerProcs = new Set([...owners.points.map((x) => x.value)].filter((id) => id >= 0))
      const times = new Set<number>([from])
      const add = (s: Steps<unknown>) => {
        for (const x of s.points) if (x.at > from && x.at <= to) times.add(x.at)
      }
      add(o.live)
      add(view)
      add(owners)
      for (const id of ownerProcs) add(m.procs[id]!.live)
      const sorted = [...times].sort((a, b) => a - b)
      const oLive = o.live.cursor()
      const viewAt = view.cursor()
      const ownerAt = owners.cursor()
      const procLive = new Map([...ownerProcs].map((id) => [id, m.procs[id]!.live.cursor()]))
      let downSince: number | undefined
      let okSince: number | undefined
      for (let i = 0; i <= sorted.length; i++) {
        const t = i < sorted.length ? sorted[i]! : to
        const oIsLive = oLive(t)
        const id = ownerAt(t)
        const truth = id >= 0 && procLive.get(id)!(t) ? m.procs[id]!.address : undefined
        const v = viewAt(t)
        const at = v.indexOf("@")
        const state = at < 0 ? undefined : v.slice(0, at)
        const address = at < 0 ? undefined : v.slice(at + 1)
        const up = state === "alive" || state === "suspect"
        const wrong = oIsLive && truth !== undefined && !(up && address === truth)
        const ok = !oIsLive || (truth !== undefined ? state === "alive" && address === truth : !up)
        const end = i === sorted.length
        if (downSince !== undefined && (!wrong || end)) {
          downs.push({ observer: `${o.name}#${o.id}`, subject: name, from: downSince, to: t })
          if (t > lastWrong) lastWrong = t
          downSince = undefined
        }
        if (!end && wrong && downSince === undefined) downSince = t
        if (!end) {
          if (ok && okSince === undefined) okSince = t
          if (!ok) okSince = undefined
        } else if (okSince === undefined) {
          unconverged.push(`${o.name}#${o.id} sees ${name} as "${v}" (truth ${truth ?? "down"})`)
        } else if (okSince > convergedAt) {
          convergedAt = okSince
        }
      }
    }
  }
  let longestDown: Findings["longestDown"] = { observer: "-", subject: "-", from: 0, to: 0, ms: 0 }
  for (const d of downs) if (d.to - d.from > longestDown.ms) longestDown = { ...d, ms: d.to - d.from }
  return { longestDown, downAfterFault: lastWrong - faultEnd, convergedAt, unconverged, downs }
}
