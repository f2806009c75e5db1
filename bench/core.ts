/**
 * The pure protocol core, `NodeCore`, on its own: what one inbound packet, one
 * timer tick and one push/pull cost, for member tables of 10, 1,000 and 10,000.
 * No Effect, no sockets: messages are handed to `handlePacket` already decoded,
 * and every operation includes the `drain()` the shell does after it. Messages
 * the core queues or sends are encoded with the compact codec.
 *
 *   ./node_modules/.bin/node bench/core.ts [--quick]
 */
import { makeCompactCodec } from "../src/codec/CompactCodec.ts"
import type { GossipConfigValues } from "../src/Config.ts"
import { presets } from "../src/Config.ts"
import { sameMajorVersion } from "../src/protocol/Application.ts"
import type { Alive, PushNodeState } from "../src/protocol/Messages.ts"
import * as Msg from "../src/protocol/Messages.ts"
import { BroadcastQueue } from "../src/protocol/Broadcasts.ts"
import { Directory } from "../src/protocol/Directory.ts"
import { NodeCore } from "../src/protocol/Node.ts"
import * as Timer from "../src/protocol/Timer.ts"
import { retransmitLimit } from "../src/protocol/Suspicion.ts"
import type { Sampled } from "./harness.ts"
import { heapAfterGc, now, ns, num, perSecond, printHeader, sample, secondsSince, spread, table } from "./harness.ts"

const quick = process.argv.includes("--quick")
const started = now()

// ---------------------------------------------------------------------------------------------
// Fixtures

/** mulberry32: a seeded uniform source, so every run builds the same tables. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const codec = makeCompactCodec()
const VSN = Uint8Array.of(1, 5, 2, 0, 0, 0)
const SELF = "self"
const PORT = 7946

const ipOf = (i: number) => Uint8Array.of(10, (i >>> 16) & 255, (i >>> 8) & 255, i & 255)
const nameOf = (i: number) => `node-${i}`
const addressOf = (i: number) => `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}:${PORT}`

const config = (): GossipConfigValues => ({
  ...presets.lan,
  name: SELF,
  meta: new Uint8Array(0),
  profile: "lan",
  application: undefined,
  compatible: sameMajorVersion
})

/** The parts of `NodeCore` a benchmark needs to reach to set a scene (plain JS properties at run time). */
interface Internals {
  readonly dissemination: { readonly broadcasts: BroadcastQueue }
  readonly directory: { idOf(name: string): number }
}
const internals = (core: NodeCore) => core as unknown as Internals

/** Fails loudly if the core's internals this benchmark relies on have been renamed. */
const checkInternals = (core: NodeCore): void => {
  const i = internals(core)
  if (!(i.dissemination?.broadcasts instanceof BroadcastQueue) || typeof i.directory?.idOf !== "function") {
    throw new Error("bench/core.ts: NodeCore no longer has `dissemination.broadcasts` and `directory`; update the benchmark")
  }
}

const aliveMsg = (i: number, incarnation: number): Alive => ({
  _tag: "Alive",
  incarnation,
  node: nameOf(i),
  addr: ipOf(i),
  port: PORT,
  meta: new Uint8Array(0),
  vsn: VSN
})

/**
 * One node's core holding `n` members (itself and `node-1 … node-(n-1)`), with
 * what the benchmark needs to address them and to keep track of incarnations.
 */
class Fixture {
  readonly core: NodeCore
  readonly n: number
  /** Each member's current incarnation (index = member number). */
  readonly inc: Array<number>
  /** Encoded alive of each member, to refill the broadcast queue. */
  readonly aliveBytes: Array<Uint8Array>
  time = 1_000_000
  private nextInc = 1

  constructor(n: number, seed = 42, directory?: Directory) {
    this.n = n
    this.core = new NodeCore({
      config: config(),
      encode: (m) => codec.encodeMessage(m),
      compoundHeaderOverhead: codec.compoundHeaderOverhead,
      compoundPartOverhead: codec.compoundPartOverhead,
      packetOverhead: () => codec.packetOverhead,
      addr: Uint8Array.of(10, 255, 255, 254),
      port: PORT,
      random: seeded(seed),
      ...(directory === undefined ? {} : { directory, encoding: codec })
    }, 0)
    this.inc = new Array<number>(n).fill(0)
    this.aliveBytes = new Array<Uint8Array>(n)
    for (let i = 1; i < n; i++) {
      const a = aliveMsg(i, 1)
      this.core.handlePacket(addressOf(i), a, this.time)
      this.inc[i] = 1
      this.aliveBytes[i] = codec.encodeMessage(a)
    }
    this.core.drain()
    checkInternals(this.core)
    if (this.core.numNodes !== n) throw new Error(`fixture: expected ${n} members, got ${this.core.numNodes}`)
  }

  /** A fresh incarnation, higher than every one used so far. */
  incarnation(): number {
    return ++this.nextInc
  }

  tick(): number {
    return ++this.time
  }

  get queued(): number {
    return this.core.queuedBroadcasts
  }

  /** Empties the broadcast queue (a table that has been quiet for a while). */
  quiet(): this {
    internals(this.core).dissemination.broadcasts.clear()
    this.core.drain()
    return this
  }

  /** Fills the broadcast queue with one pending alive per member, as right after they all joined. */
  afterJoins(): this {
    const q = internals(this.core).dissemination.broadcasts
    const directory = internals(this.core).directory
    q.clear()
    for (let i = 1; i < this.n; i++) q.enqueue(this.aliveBytes[i]!, directory.idOf(nameOf(i)))
    this.core.drain()
    return this
  }

  /** Marks members `1…count` alive again at a new incarnation (untimed scene setting). */
  revive(count: number): void {
    for (let i = 1; i <= count; i++) {
      const inc = this.incarnation()
      this.core.handlePacket(addressOf(i), aliveMsg(i, inc), this.tick())
      this.inc[i] = inc
    }
    this.core.drain()
  }

  /** Marks members `1…count` suspect (untimed scene setting). */
  suspectAll(count: number): void {
    for (let i = 1; i <= count; i++) {
      this.core.handlePacket(addressOf(2), Msg.suspect(this.inc[i]!, nameOf(i), nameOf(i === 2 ? 3 : 2)), this.tick())
    }
    this.core.drain()
  }

  /** The remote side of a push/pull: the same `n` members as this fixture, all alive. */
  pushState(): Array<PushNodeState> {
    const out: Array<PushNodeState> = []
    for (let i = 1; i < this.n; i++) {
      out.push({ name: nameOf(i), addr: ipOf(i), port: PORT, meta: new Uint8Array(0), incarnation: this.inc[i]!, state: 0, vsn: VSN })
    }
    return out
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const sizes = quick ? [10, 1_000] : [10, 1_000, 10_000]
const budget = quick ? { minMillis: 60, maxMillis: 500 } : { minMillis: 200, maxMillis: 1_500 }

interface Row {
  readonly group: string
  readonly op: string
  readonly n: number
  readonly result: Sampled
  /** Extra per-operation unit (e.g. per member of a push/pull). */
  readonly per?: { readonly count: number; readonly unit: string }
  readonly note?: string
}
const rows: Array<Row> = []

const record = (row: Row) => {
  rows.push(row)
  const r = row.result
  process.stderr.write(`  ${row.op} @${row.n}: ${ns(r.median)} ns/op (${r.samples} samples)\n`)
}

const buildTimes = new Map<number, number>()
const build = (n: number, seed = 42): Fixture => {
  const t0 = now()
  const f = new Fixture(n, seed)
  if (!buildTimes.has(n)) buildTimes.set(n, (now() - t0) / 1e6)
  return f
}

const pools = new Map<string, Array<Fixture>>()
/** `k` tables of `n` members, built once and shared by operations that leave them usable. */
const sharedPool = (n: number, k: number): Array<Fixture> => {
  const key = `${n}/${k}`
  let pool = pools.get(key)
  if (pool === undefined) {
    pool = Array.from({ length: k }, (_, i) => build(n, 42 + i))
    pools.set(key, pool)
  }
  return pool
}
const shared = (n: number): Fixture => sharedPool(n, 1)[0]!

/**
 * How many tables a sample spreads over: operations that use up state (a member
 * can join or be suspected once) run `per` times on each of `k` tables, so that
 * small tables still give samples of about a thousand operations.
 */
const spreadOver = (n: number, per: number): { k: number; per: number; batch: number } => {
  const p = Math.max(1, per)
  const k = n >= 1_000 ? 1 : Math.min(200, Math.ceil(1_000 / p))
  return { k, per: p, batch: k * p }
}

const from = addressOf(1)

for (const n of sizes) {
  const limit = retransmitLimit(presets.lan.retransmitMult, n)
  // an ack of ~25 bytes leaves room for about 40 queued alives of ~30 bytes (+2 each)
  const pingsToDrain = ((n - 1) * limit) / 40
  process.stderr.write(`members: ${n}\n`)

  // ---- ping → ack ------------------------------------------------------------------------
  {
    const f = shared(n).quiet()
    const ping = Msg.ping(7, SELF, ipOf(1), nameOf(1), PORT)
    record({
      group: "packet",
      op: "ping → ack (nothing to piggyback)",
      n,
      result: sample({
        ...budget,
        setup: () => f,
        batch: 10_000,
        op: (s) => {
          s.core.handlePacket(from, ping, s.tick())
          s.core.drain()
        }
      })
    })
  }
  {
    // Right after the table filled, every member's alive is still queued; each ack carries as
    // many as fit. A sample sends a tenth of the pings it would take to drain the queue.
    const { k, batch } = spreadOver(n, Math.min(200, Math.floor(pingsToDrain / 10)))
    const pool = sharedPool(n, k)
    const ping = Msg.ping(7, SELF, ipOf(1), nameOf(1), PORT)
    record({
      group: "packet",
      op: `ping → ack + piggyback (${num(n - 1)} broadcasts queued)`,
      n,
      result: sample({
        ...budget,
        setup: () => pool.map((f) => f.afterJoins()),
        batch,
        op: (s, i) => {
          const f = s[i % k]!
          f.core.handlePacket(from, ping, f.tick())
          f.core.drain()
        }
      })
    })
    for (const f of pool) f.quiet()
  }

  // ---- probe tick and ack ----------------------------------------------------------------
  {
    const f = shared(n).quiet()
    const core = f.core
    const finishProbe = () => {
      const seqNo = core.probeSeqNo
      if (seqNo !== undefined) {
        core.handlePacket(from, Msg.ack(seqNo, null), f.tick())
        core.drain()
      }
    }
    record({
      group: "packet",
      op: "ack (answers the running probe)",
      n,
      result: sample({
        ...budget,
        setup: () => f,
        batch: 2_000,
        prepare: (s) => {
          finishProbe()
          s.core.timer(Timer.probeTick, s.tick())
          s.core.drain()
        },
        op: (s) => {
          s.core.handlePacket(from, Msg.ack(s.core.probeSeqNo!, null), s.tick())
          s.core.drain()
        }
      })
    })
    record({
      group: "timer",
      op: "probe tick (picks a target, ping + piggyback)",
      n,
      result: sample({
        ...budget,
        setup: () => f,
        batch: 2_000,
        prepare: () => finishProbe(),
        op: (s) => {
          s.core.timer(Timer.probeTick, s.tick())
          s.core.drain()
        }
      })
    })
    record({
      group: "timer",
      op: "probe timeout (3 indirect pings + TCP ping)",
      n,
      result: sample({
        ...budget,
        setup: () => f,
        batch: 2_000,
        prepare: (s) => {
          finishProbe()
          s.core.timer(Timer.probeTick, s.tick())
          s.core.drain()
        },
        op: (s) => {
          s.core.timer(s.core.armedTimer("ProbeTimeout")!, s.tick())
          s.core.drain()
        }
      })
    })
    finishProbe()
  }

  // ---- alive -----------------------------------------------------------------------------
  const big = n >= 10_000 ? { warmup: 1, samples: 5 } : {}
  {
    // each table grows by up to 1,000 members (a table of 10 by 10)
    const { k, batch } = spreadOver(n, Math.min(n, 1_000))
    record({
      group: "packet",
      op: "alive, new member (joins the table)",
      n,
      result: sample({
        ...budget,
        ...big,
        setup: () => Array.from({ length: k }, (_, j) => build(n, 7 + j).quiet()),
        batch,
        op: (s, i) => {
          const f = s[i % k]!
          const m = n + Math.floor(i / k)
          f.core.handlePacket(addressOf(m), aliveMsg(m, 1), f.tick())
          f.core.drain()
        }
      })
    })
  }
  {
    const f = shared(n).quiet()
    const msgs: Array<Alive> = []
    for (let i = 1; i < n; i++) msgs.push(aliveMsg(i, f.inc[i]!))
    record({
      group: "packet",
      op: "alive, duplicate (known incarnation)",
      n,
      result: sample({
        ...budget,
        setup: () => f,
        batch: 10_000,
        op: (s, i) => {
          s.core.handlePacket(from, msgs[i % msgs.length]!, s.tick())
          s.core.drain()
        }
      })
    })
  }
  {
    const { k, batch } = spreadOver(n, Math.min(n - 1, 1_000))
    const pool = sharedPool(n, k)
    record({
      group: "packet",
      op: "alive, newer incarnation of a member",
      n,
      result: sample({
        ...budget,
        setup: () => pool.map((f) => f.quiet()),
        batch,
        op: (s, i) => {
          const f = s[i % k]!
          const m = Math.floor(i / k) + 1
          const inc = f.incarnation()
          f.core.handlePacket(from, aliveMsg(m, inc), f.tick())
          f.inc[m] = inc
          f.core.drain()
        }
      })
    })
    for (const f of pool) f.quiet()
  }

  // ---- suspect and dead ------------------------------------------------------------------
  {
    const { k, per, batch } = spreadOver(n, Math.min(n - 1, 1_000))
    record({
      group: "packet",
      op: "suspect (alive → suspect, starts a suspicion)",
      n,
      result: sample({
        ...budget,
        ...big,
        setup: () => Array.from({ length: k }, (_, j) => build(n, 11 + j).quiet()),
        batch,
        op: (s, i) => {
          const f = s[i % k]!
          const m = Math.floor(i / k) + 1
          f.core.handlePacket(from, Msg.suspect(f.inc[m]!, nameOf(m), nameOf(m === 2 ? 3 : 2)), f.tick())
          f.core.drain()
        }
      })
    })
    record({
      group: "packet",
      op: "dead (suspect → dead)",
      n,
      result: sample({
        ...budget,
        ...big,
        setup: () =>
          Array.from({ length: k }, (_, j) => {
            const f = build(n, 13 + j)
            f.suspectAll(per)
            return f.quiet()
          }),
        batch,
        op: (s, i) => {
          const f = s[i % k]!
          const m = Math.floor(i / k) + 1
          f.core.handlePacket(from, Msg.dead(f.inc[m]!, nameOf(m), nameOf(m === 2 ? 3 : 2)), f.tick())
          f.core.drain()
        }
      })
    })
  }

  // ---- gossip and push/pull ticks --------------------------------------------------------
  {
    const f = shared(n).quiet()
    record({
      group: "timer",
      op: "gossip tick (nothing queued)",
      n,
      result: sample({
        ...budget,
        setup: () => f,
        batch: 10_000,
        op: (s) => {
          s.core.timer(Timer.gossipTick, s.tick())
          s.core.drain()
        }
      })
    })
    // three packets per tick
    const { k, batch } = spreadOver(n, Math.min(100, Math.floor(pingsToDrain / 3 / 10)))
    const pool = sharedPool(n, k)
    record({
      group: "timer",
      op: `gossip tick (${num(n - 1)} broadcasts queued: 3 packets)`,
      n,
      result: sample({
        ...budget,
        setup: () => pool.map((p) => p.afterJoins()),
        batch,
        op: (s, i) => {
          const p = s[i % k]!
          p.core.timer(Timer.gossipTick, p.tick())
          p.core.drain()
        }
      })
    })
    for (const p of pool) p.quiet()
    record({
      group: "timer",
      op: "push/pull tick (picks a peer)",
      n,
      result: sample({
        ...budget,
        setup: () => f,
        batch: 10_000,
        op: (s) => {
          s.core.timer(Timer.pushPullTick, s.tick())
          s.core.drain()
        }
      })
    })
  }

  // ---- what the shell reads after every change -------------------------------------------
  {
    const f = shared(n)
    record({
      group: "shell",
      op: "members() (sorted snapshot, taken after each change)",
      n,
      result: sample({
        ...budget,
        setup: () => f,
        batch: n >= 10_000 ? 5 : n >= 1_000 ? 50 : 5_000,
        op: (s) => {
          s.core.members()
        }
      })
    })
  }
}

// ---- push/pull ----------------------------------------------------------------------------
for (const n of quick ? [1_000] : [1_000, 10_000]) {
  const f = shared(n).quiet()
  const remote = f.pushState()
  record({
    group: "push/pull",
    op: "localState (our side of a push/pull)",
    n,
    per: { count: n, unit: "member" },
    result: sample({ ...budget, setup: () => f, batch: n >= 10_000 ? 5 : 50, op: (s) => void s.core.localState(false) })
  })
  record({
    group: "push/pull",
    op: "mergeRemoteState, all known (periodic anti-entropy)",
    n,
    per: { count: n - 1, unit: "member" },
    result: sample({
      ...budget,
      setup: () => f,
      batch: n >= 10_000 ? 5 : 50,
      op: (s) => {
        const bad = s.core.mergeRemoteState(remote, s.tick())
        if (bad !== undefined) throw new Error(bad.message)
        s.core.drain()
      }
    })
  })
  record({
    group: "push/pull",
    op: "mergeRemoteState, all new (a joining node)",
    n,
    per: { count: n - 1, unit: "member" },
    result: sample({
      ...budget,
      warmup: 2,
      samples: n >= 10_000 ? 5 : 9,
      setup: () => build(1),
      batch: 1,
      op: (s) => {
        const bad = s.core.mergeRemoteState(remote, s.tick())
        if (bad !== undefined) throw new Error(bad.message)
        s.core.drain()
      }
    })
  })
}

// ---- datagrams through the codec and the core ------------------------------------------------
// What the shell does per datagram outside Effect: decode, handle each message, drain, encode the
// reply. A gossip datagram full of alives the node already knows is the common case after a join.
const wireRows: Array<[string, number, Sampled, number]> = []
for (const n of quick ? [1_000] : [1_000, 10_000]) {
  const f = shared(n).quiet()
  const pingBytes = codec.encodePacket([codec.encodeMessage(Msg.ping(9, SELF, ipOf(1), nameOf(1), PORT))], { checksum: false })
  wireRows.push([
    "ping datagram → ack datagram (decode, handle, drain, encode)",
    n,
    sample({
      ...budget,
      setup: () => f,
      batch: 5_000,
      op: (s) => {
        const { messages } = codec.decodePacket(pingBytes)
        for (const m of messages) s.core.handlePacket(from, m, s.tick())
        for (const o of s.core.drain()) if (o._tag === "SendPacket") codec.encodePacket(o.parts, { checksum: o.checksum })
      }
    }),
    1
  ])
  const parts: Array<Uint8Array> = []
  for (let i = 1; i <= 40; i++) parts.push(codec.encodeMessage(aliveMsg(i, f.inc[i]!)))
  const gossipBytes = codec.encodePacket(parts, { checksum: false })
  wireRows.push([
    `gossip datagram of 40 known alives, ${gossipBytes.length} B (decode + handle each)`,
    n,
    sample({
      ...budget,
      setup: () => f,
      batch: 1_000,
      op: (s) => {
        const { messages } = codec.decodePacket(gossipBytes)
        for (const m of messages) s.core.handlePacket(from, m, s.tick())
        s.core.drain()
      }
    }),
    40
  ])
  wireRows.push([
    "the same 40 alives, already decoded (handle each)",
    n,
    (() => {
      const decoded = codec.decodePacket(gossipBytes).messages
      return sample({
        ...budget,
        setup: () => f,
        batch: 1_000,
        op: (s) => {
          for (const m of decoded) s.core.handlePacket(from, m, s.tick())
          s.core.drain()
        }
      })
    })(),
    40
  ])
}
for (const [op, n, r] of wireRows) process.stderr.write(`  ${op} @${n}: ${ns(r.median)} ns\n`)

// ---- memory per member ------------------------------------------------------------------------
const heapNow = heapAfterGc
const memory = (() => {
  const n = 10_000
  const packets: Array<Uint8Array> = []
  for (let i = 1; i < n; i++) packets.push(codec.encodeMessage(aliveMsg(i, 1)))
  const learn = (f: Fixture) => {
    for (let i = 0; i < packets.length; i++) {
      for (const m of codec.decodePacket(packets[i]!).messages) f.core.handlePacket(addressOf(i + 1), m, f.tick())
    }
    f.core.drain()
  }
  // one node with a directory of its own (a node in its own process) ...
  const h0 = heapNow()
  const own = new Fixture(1, 42)
  learn(own)
  const h1 = heapNow()
  own.quiet()
  const h2 = heapNow()
  // ... and nodes of a simulated network sharing one: the first interns every name and
  // announcement, a second pays for its own table only
  const directory = new Directory({ shareEncoded: true })
  const first = new Fixture(1, 43, directory)
  learn(first)
  first.quiet()
  const h3 = heapNow()
  const second = new Fixture(1, 44, directory)
  learn(second)
  second.quiet()
  const h4 = heapNow()
  const columns = second.core.footprint.table / second.core.numNodes
  const keep: Array<unknown> = []
  const probe = (make: () => unknown) => {
    keep.length = 0
    const a = heapNow()
    for (let i = 0; i < 10_000; i++) keep.push(make())
    return (heapNow() - a) / 10_000
  }
  const u8small = probe(() => new Uint8Array(6))
  keep.length = 0
  return {
    n,
    owned: (h2 - h0) / (n - 1),
    queued: (h1 - h2) / (n - 1),
    shared: (h4 - h3) / (n - 1),
    columns,
    u8small,
    core: [own.core, first.core, second.core]
  }
})()

// ---- the broadcast queue on its own ---------------------------------------------------------
// Every outgoing packet asks the queue for piggyback (`take`), and every accepted state change
// replaces the member's queued message (`enqueue` with a key). Transmit limit set out of reach,
// so the queue keeps exactly `q` entries while it is measured.
const queueRows: Array<[number, Sampled, Sampled]> = []
for (const q of quick ? [10, 1_000] : [10, 100, 1_000, 10_000]) {
  const bytes: Array<Uint8Array> = []
  for (let i = 0; i < q; i++) bytes.push(codec.encodeMessage(aliveMsg(i + 1, 1)))
  const fill = () => {
    const queue = new BroadcastQueue()
    for (let i = 0; i < q; i++) queue.enqueue(bytes[i]!, i + 1)
    return queue
  }
  const take = sample({
    ...budget,
    setup: fill,
    batch: 200,
    op: (queue) => void queue.take(2, 1_380, 1e9, 254)
  })
  const replace = sample({
    ...budget,
    setup: fill,
    batch: 1_000,
    op: (queue, i) => queue.enqueue(bytes[(i * 7919) % q]!, ((i * 7919) % q) + 1)
  })
  queueRows.push([q, take, replace])
  process.stderr.write(`  queue ${q}: take ${ns(take.median)} ns, replace ${ns(replace.median)} ns\n`)
}

// ---------------------------------------------------------------------------------------------
// Report

printHeader("NodeCore: per-packet and per-tick cost", [
  `method: median of ≥ 7 timed samples after warm-up; each sample runs a batch of operations on a prepared table,`,
  `        each operation followed by drain(); where state must be set up per operation (ack, probe tick, probe`,
  `        timeout) operations are timed one by one and the timer's own cost is subtracted. Messages encoded with`,
  `        the compact codec. "spread" is the fastest–slowest sample.${quick ? " (--quick: shortened run)" : ""}`
])

const groups: Array<[string, string]> = [
  ["packet", "Inbound packets (`handlePacket` + `drain`)"],
  ["timer", "Timer ticks (`timer` + `drain`)"],
  ["shell", "Read by the shell"]
]
for (const [group, title] of groups) {
  const mine = rows.filter((r) => r.group === group)
  const ops = [...new Set(mine.map((r) => r.op.replace(/\d[\d,]* broadcasts/, "N−1 broadcasts")))]
  console.log(`## ${title}\n`)
  const headers = ["operation", ...sizes.flatMap((n) => [`${num(n)} members: ns/op`, "ops/s"])]
  const body = ops.map((op) => [
    op,
    ...sizes.flatMap((n) => {
      const r = mine.find((x) => x.n === n && x.op.replace(/\d[\d,]* broadcasts/, "N−1 broadcasts") === op)
      return r === undefined ? ["–", "–"] : [ns(r.result.median), perSecond(r.result.median)]
    })
  ])
  console.log(table(headers, body))
  console.log("")
}

console.log("## Spread (fastest–slowest sample, ns/op)\n")
console.log(table(
  ["operation", ...sizes.map((n) => `${num(n)} members`)],
  [...new Set(rows.filter((r) => r.group !== "push/pull").map((r) => r.op.replace(/\d[\d,]* broadcasts/, "N−1 broadcasts")))].map((
    op
  ) => [
    op,
    ...sizes.map((n) => {
      const r = rows.find((x) => x.n === n && x.op.replace(/\d[\d,]* broadcasts/, "N−1 broadcasts") === op)
      return r === undefined ? "–" : spread(r.result)
    })
  ])
))
console.log("")

console.log("## Push/pull (`localState`, `mergeRemoteState` + `drain`)\n")
console.log(table(
  ["operation", "members", "µs per push/pull", "ns per member", "push/pulls/s", "spread (µs)"],
  rows.filter((r) => r.group === "push/pull").map((r) => [
    r.op,
    num(r.n),
    num(r.result.median / 1e3, 1),
    ns(r.result.median / (r.per?.count ?? 1)),
    perSecond(r.result.median),
    `${num(r.result.min / 1e3, 1)}–${num(r.result.max / 1e3, 1)}`
  ])
))
console.log("")

console.log("## Broadcast queue with q entries (`BroadcastQueue.take` for one packet, keyed `enqueue` replacing an entry)\n")
console.log(table(
  ["queued", "take: ns/op", "take: ops/s", "replace: ns/op", "replace: ops/s"],
  queueRows.map(([q, take, replace]) => [num(q), ns(take.median), perSecond(take.median), ns(replace.median), perSecond(replace.median)])
))
console.log("")

console.log("## Datagrams through codec and core (compact codec, no Effect)\n")
console.log(table(
  ["operation", "members", "ns/datagram", "datagrams/s", "ns/message"],
  wireRows.map(([op, n, r, msgs]) => [op, num(n), ns(r.median), perSecond(r.median), ns(r.median / msgs)])
))
console.log("")

console.log(`## Memory per member (${num(memory.n)}-member tables built from decoded alive packets, heap after full GC)\n`)
console.log(table(
  ["what", "bytes per member"],
  [
    ["a node with a directory of its own: table, names, addresses, metadata, versions", num(memory.owned)],
    ["a second node's table over the same directory (what each more node of a simulated network costs)", num(memory.shared)],
    ["of which the table's columns and indexes (`MemberTable.footprint`)", num(memory.columns, 1)],
    ["an alive broadcast while queued (encoded bytes + queue columns)", num(memory.queued)],
    ["for scale: a 6-byte `Uint8Array` with its own buffer", num(memory.u8small)]
  ]
))
console.log("")

console.log(
  `table build (n alive packets into a fresh core, first build): ${
    [...buildTimes].filter(([n]) => n > 1).map(([n, ms]) => `${num(n)} members ${num(ms, 1)} ms`).join(", ")
  }`
)
console.log(`wall time: ${num(secondsSince(started), 1)} s`)
