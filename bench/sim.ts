/**
 * Whole clusters in one process: n nodes (full `Membership` stack, compact codec)
 * on `SimNetwork` in virtual time (`VirtualTime.ts`), seeded `Random`, sharing one
 * timer wheel, one member directory and one in-memory codec (receivers read the
 * messages senders encoded; `--copy-datagrams` decodes a copy each). Node i joins node-0 at t = i ms
 * (virtual); the run lasts 60 virtual seconds from t = 0. Then, once converged:
 * 10 quiet seconds, one metadata update and one crash, each timed at every node.
 * Each size runs in its own child process so that heap figures and timings do
 * not mix.
 *
 *   ./node_modules/.bin/node bench/sim.ts                 # 10, 100, 500, 1000 within ~60 s
 *   ./node_modules/.bin/node bench/sim.ts --sizes 10,100 --budget 30 --virtual 60
 *   ./node_modules/.bin/node bench/sim.ts --sizes 10000 --budget 1800
 *   ./node_modules/.bin/node bench/sim.ts --sizes 10000 --virtual 150 --until-converged --budget 1800
 *   ./node_modules/.bin/node bench/sim.ts --sizes 1000 --copy-datagrams   # each receiver decodes its own copy
 *
 * One size alone, with a CPU profile of the simulated seconds from `--profile-from` on:
 *
 *   ./node_modules/.bin/node bench/sim.ts --child 300 --virtual 40 --profile /tmp/sim.cpuprofile --profile-from 20
 *
 * or where its garbage comes from (sampled allocations, collected ones included):
 *
 *   ./node_modules/.bin/node bench/sim.ts --child 300 --virtual 40 --alloc-profile /tmp/sim.heapprofile --profile-from 20
 *
 * or what its heap holds at the end (a snapshot, for Chrome's memory tab):
 *
 *   ./node_modules/.bin/node --expose-gc bench/sim.ts --child 1000 --no-phases --heap-snapshot /tmp/sim.heapsnapshot
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { writeHeapSnapshot } from "node:v8"
import { Session } from "node:inspector/promises"
import { fileURLToPath } from "node:url"
import { Clock, Context, Effect, Exit, Layer, Random, Scope, Stream } from "effect"
import { Codec } from "../src/codec/Codec.ts"
import type { CodecShape } from "../src/codec/Codec.ts"
import { makeCompactCodec } from "../src/codec/CompactCodec.ts"
import { GossipConfig, resolveConfig } from "../src/Config.ts"
import { Membership } from "../src/Membership.ts"
import type { MembershipShape } from "../src/Membership.ts"
import type { MemberEvent } from "../src/MemberEvent.ts"
import { SharedDirectory } from "../src/runtime/SharedDirectory.ts"
import { Timers } from "../src/runtime/Timers.ts"
import { SimNetwork } from "../src/transport/SimNetwork.ts"
import { Transport } from "../src/transport/Transport.ts"
import { mb, now, num, printHeader, secondsSince, table } from "./harness.ts"
import { makeVirtualTime } from "./VirtualTime.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** What one child reports. */
interface Result {
  readonly n: number
  /** Virtual milliseconds actually simulated (less than asked when the wall-clock budget ran out). */
  readonly virtualMs: number
  readonly askedMs: number
  /** Wall seconds: starting the nodes, and the whole run (start + joins + simulated time). */
  readonly startSeconds: number
  readonly realSeconds: number
  /** Wall seconds at the end of each virtual second (index 0 = after the first one). */
  readonly timeline: ReadonlyArray<number>
  readonly packetsDelivered: number
  /** Messages received in delivered packets (a compound carries several), and how many were alives. */
  readonly messages: number
  readonly alives: number
  readonly packetsSent: number
  readonly packetsDropped: number
  readonly queueOverflows: number
  readonly streamsOpened: number
  readonly joinsOk: number
  readonly joinsFailed: number
  readonly suspicions: number
  readonly internalErrors: number
  readonly heapUsedMB: number
  readonly heapBeforeMB: number
  readonly rssMB: number
  /**
   * V8's heap as reserved, and the typed arrays outside it (member tables, broadcast queues,
   * datagrams in flight): `arrayBuffers`, since columns on shared buffers are not in `external`.
   */
  readonly heapTotalMB: number
  readonly typedArraysMB: number
  /**
   * Of the typed arrays, the member tables' and broadcast queues' columns at the end of the run
   * (before the phases), and the tables' bytes per entry held.
   */
  readonly tablesMB: number
  readonly queuesMB: number
  readonly tableBytesPerEntry: number
  readonly checked: number
  readonly converged: boolean
  /** Virtual second at which every checked node first saw all n alive (checked once a second). */
  readonly convergedAtMs: number | undefined
  readonly stoppedEarly: boolean
  /** Virtual ms from the last join until every checked node listed all n alive. */
  readonly convergedAfterJoinsMs: number | undefined
  readonly update: Spread | undefined
  readonly crash: Spread | undefined
  /** Datagrams and bytes per node per virtual second: over the whole run, and after convergence. */
  readonly traffic: { readonly whole: Rate; readonly steady: Rate | undefined }
}

/** How an announcement reached the other members: virtual ms until 99.9% and 100% had it. */
interface Spread {
  readonly members: number
  readonly reached: number
  readonly p999Ms: number | undefined
  readonly allMs: number | undefined
  readonly firstMs: number | undefined
}

interface Rate {
  readonly packets: number
  readonly bytes: number
}

// ---------------------------------------------------------------------------------------------
// Child: one cluster

interface SimNode {
  readonly name: string
  readonly address: string
  readonly membership: MembershipShape
  readonly scope: Scope.Closeable
}

const addressOf = (i: number) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}:7946`

/**
 * `--copy-datagrams`: each receiver gets a copy of a datagram and decodes it, as over a real
 * network. By default receivers share the sender's array and read the messages it was built from
 * for all of them (`CompactCodec.layerInMemory`): the same messages, much less work.
 */
const copyDatagrams = process.argv.includes("--copy-datagrams")

/** `--seed N`: the seed of every run (default 1); convergence times vary with it by a few seconds. */
const seed = Number(arg("seed") ?? 1)

/** One compact codec for every node, counting the messages it hands over (two additions per packet). */
const decoded = { messages: 0, alives: 0 }
const countingCodec: CodecShape = (() => {
  const codec = makeCompactCodec({ inMemory: !copyDatagrams })
  return {
    ...codec,
    decodePacket: (bytes: Uint8Array) => {
      const out = codec.decodePacket(bytes)
      decoded.messages += out.messages.length
      for (const m of out.messages) if (m._tag === "Alive") decoded.alives++
      return out
    }
  }
})()

/**
 * One node: `Membership.layer` built on its own transport, configuration and the shared codec,
 * given as services. Composed with `Layer.provide`, each node kept the scopes, finalizers and
 * contexts of four layers for life: 13 scopes per node against 3, and 70 KB of heap per node
 * at 1,000 nodes against 58.
 */
const startNode = (name: string, address: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const network = yield* SimNetwork
    const transport = yield* Scope.provide(network.bind(address), scope)
    const config = yield* resolveConfig({ name })
    const context = yield* Layer.buildWithScope(Membership.layer, scope).pipe(
      Effect.provideService(Transport, transport),
      Effect.provideService(GossipConfig, config),
      Effect.provideService(Codec, countingCodec)
    )
    const node: SimNode = { name, address, membership: Context.get(context, Membership), scope }
    return node
  })

const heapMB = () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) {
    gc()
    gc()
  }
  return process.memoryUsage().heapUsed / 2 ** 20
}

/** `--no-phases` stops after the main run: no quiet window, update or crash. */
const phases = !process.argv.includes("--no-phases")

/**
 * `--until-converged`: the main run ends at the first whole virtual second at which the
 * cluster converged (`--virtual` is then the most it may take), and the phases follow.
 */
const untilConverged = process.argv.includes("--until-converged")

const rate = (packets: number, bytes: number, n: number, virtualMs: number): Rate => ({
  packets: packets / n / (virtualMs / 1000),
  bytes: bytes / n / (virtualMs / 1000)
})

/**
 * Runs `start`, then moves virtual time in `stepMs` steps until every watcher has published
 * an event that `match`es (or `maxMs` passed); each watcher's first such event is timed.
 */
const spread = (
  watchers: ReadonlyArray<SimNode>,
  match: (event: MemberEvent) => boolean,
  start: Effect.Effect<void>,
  advance: (ms: number) => Effect.Effect<void>,
  stepMs: number,
  maxMs: number
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const t0 = yield* Clock.currentTimeMillis
    const times: Array<number> = []
    for (const watcher of watchers) {
      const events = yield* Effect.provideService(watcher.membership.subscribeEvents, Scope.Scope, scope)
      yield* events.pipe(
        Stream.filter(match),
        Stream.take(1),
        Stream.runForEach(() => Effect.clockWith((c) => Effect.sync(() => times.push(c.currentTimeMillisUnsafe() - t0)))),
        Effect.forkIn(scope)
      )
    }
    yield* start
    for (let waited = 0; times.length < watchers.length && waited < maxMs; waited += stepMs) yield* advance(stepMs)
    yield* Scope.close(scope, Exit.void)
    times.sort((a, b) => a - b)
    const members = watchers.length
    const p999 = Math.ceil(members * 0.999)
    const result: Spread = {
      members,
      reached: times.length,
      p999Ms: times.length >= p999 ? times[p999 - 1] : undefined,
      allMs: times.length === members ? times[members - 1] : undefined,
      firstMs: times[0]
    }
    return result
  })

interface Profiling {
  readonly file: string
  readonly fromMs: number
  /** `cpu`: a CPU profile; `alloc`: sampled allocations, collected ones included (where garbage comes from). */
  readonly kind: "cpu" | "alloc"
}

const runCluster = (
  n: number,
  virtualMs: number,
  budgetSeconds: number,
  profiling: Profiling | undefined,
  advance: (ms: number) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const network = yield* SimNetwork
    const heapBeforeMB = heapMB()
    const t0 = now()
    const nodes: Array<SimNode> = []
    for (let i = 0; i < n; i++) nodes.push(yield* startNode(`node-${i}`, addressOf(i)))
    const startSeconds = secondsSince(t0)

    // node i joins node-0 at t = i ms
    const joins = yield* Scope.make()
    let joinsOk = 0
    let joinsFailed = 0
    for (let i = 1; i < n; i++) {
      yield* Effect.sleep(i).pipe(
        Effect.andThen(Effect.result(nodes[i]!.membership.join([nodes[0]!.address]))),
        Effect.map((r) => (r._tag === "Success" ? joinsOk++ : joinsFailed++)),
        Effect.forkIn(joins)
      )
    }

    // every node when small, else 25 spread over the cluster (node-0 and the last joiner included)
    const checked = n <= 100
      ? nodes
      : Array.from({ length: 25 }, (_, k) => nodes[Math.round((k * (n - 1)) / 24)]!)
    const allAlive = Effect.map(
      Effect.forEach(checked, (node) => node.membership.currentMembers),
      (tables) => tables.every((t) => t.reduce((c, m) => (m.state === "alive" ? c + 1 : c), 0) === n)
    )

    let t = 0
    let convergedAtMs: number | undefined
    let stoppedEarly = false
    const timeline: Array<number> = []
    const session = profiling === undefined ? undefined : new Session()
    let profilerOn = false
    const step = 500
    while (t < virtualMs) {
      if (session !== undefined && !profilerOn && t >= profiling!.fromMs) {
        profilerOn = true
        yield* Effect.promise(async () => {
          session.connect()
          if (profiling!.kind === "alloc") {
            await session.post("HeapProfiler.enable")
            await session.post("HeapProfiler.startSampling", {
              samplingInterval: 64 * 1024,
              includeObjectsCollectedByMajorGC: true,
              includeObjectsCollectedByMinorGC: true
            })
          } else {
            await session.post("Profiler.enable")
            await session.post("Profiler.start")
          }
        })
      }
      const dt = Math.min(step, virtualMs - t)
      yield* advance(dt)
      t += dt
      if (t % 1000 === 0) timeline.push(secondsSince(t0))
      if (t % 1000 === 0 && convergedAtMs === undefined && (yield* allAlive)) {
        convergedAtMs = t
        process.stderr.write(`  n=${n}: converged at ${t / 1000} virtual s, ${secondsSince(t0).toFixed(1)} real s\n`)
        if (untilConverged) break
      }
      if (t % 5000 === 0) {
        const m = process.memoryUsage()
        process.stderr.write(
          `  n=${n}: ${t / 1000} virtual s after ${secondsSince(t0).toFixed(1)} real s; RSS ${mb(m.rss)} MB ` +
            `(V8 heap ${mb(m.heapTotal)}, typed arrays ${mb(m.arrayBuffers)})\n`
        )
      }
      if (secondsSince(t0) > budgetSeconds && t < virtualMs) {
        stoppedEarly = true
        break
      }
    }
    const realSeconds = secondsSince(t0)
    if (session !== undefined && profilerOn) {
      yield* Effect.promise(async () => {
        const { profile } = profiling!.kind === "alloc"
          ? await session.post("HeapProfiler.stopSampling")
          : await session.post("Profiler.stop")
        writeFileSync(profiling!.file, JSON.stringify(profile))
        session.disconnect()
      })
    }
    const converged = yield* allAlive
    const totals = yield* network.totals()
    const whole = rate(totals.packetsSent, totals.bytesSent, n, t)
    // suspicions and errors of the run itself, before the crash adds its own
    let suspicions = 0
    let internalErrors = 0
    let tableBytes = 0
    let queueBytes = 0
    let entries = 0
    for (const node of nodes) {
      const s = yield* node.membership.stats
      suspicions += s.suspicionsRaised
      internalErrors += s.internalErrors
      tableBytes += s.tableBytes
      queueBytes += s.queueBytes
      entries += yield* node.membership.numMembers
    }

    // After convergence: 10 quiet virtual seconds, one metadata update, then one crash.
    let steady: Rate | undefined
    let update: Spread | undefined
    let crash: Spread | undefined
    if (converged && !stoppedEarly && phases) {
      const before = yield* network.totals()
      yield* advance(10_000)
      const after = yield* network.totals()
      steady = rate(after.packetsSent - before.packetsSent, after.bytesSent - before.bytesSent, n, 10_000)
      const updater = nodes[Math.floor(n / 2)]!
      update = yield* spread(
        nodes.filter((node) => node !== updater),
        (e) => e._tag === "MemberUpdated" && e.member.name === updater.name,
        Effect.asVoid(Effect.forkDetach(Effect.ignore(updater.membership.updateMetadata(new TextEncoder().encode("v=2"))))),
        advance,
        100,
        60_000
      )
      const victim = nodes[Math.floor(n / 3)]!
      crash = yield* spread(
        nodes.filter((node) => node !== victim),
        (e) => e._tag === "MemberFailed" && e.member.name === victim.name,
        network.crash(victim.address),
        advance,
        100,
        240_000
      )
    }
    const heapUsedMB = heapMB()
    const snapshotFile = arg("heap-snapshot")
    if (snapshotFile !== undefined) writeHeapSnapshot(snapshotFile)
    const usage = process.memoryUsage()
    const rssMB = usage.rss / 2 ** 20
    const result: Result = {
      n,
      virtualMs: t,
      askedMs: virtualMs,
      startSeconds,
      realSeconds,
      timeline,
      packetsDelivered: totals.packetsReceived,
      messages: decoded.messages,
      alives: decoded.alives,
      packetsSent: totals.packetsSent,
      packetsDropped: totals.packetsDropped,
      queueOverflows: totals.queueOverflows,
      streamsOpened: totals.streamsOpened,
      joinsOk,
      joinsFailed,
      suspicions,
      internalErrors,
      heapUsedMB,
      heapBeforeMB,
      rssMB,
      heapTotalMB: usage.heapTotal / 2 ** 20,
      typedArraysMB: usage.arrayBuffers / 2 ** 20,
      tablesMB: tableBytes / 2 ** 20,
      queuesMB: queueBytes / 2 ** 20,
      tableBytesPerEntry: tableBytes / entries,
      checked: checked.length,
      converged,
      convergedAtMs,
      stoppedEarly,
      convergedAfterJoinsMs: convergedAtMs === undefined ? undefined : convergedAtMs - (n - 1),
      update,
      crash,
      traffic: { whole, steady }
    }
    // stop the nodes before the network
    yield* Scope.close(joins, Exit.void)
    for (const node of nodes) yield* Scope.close(node.scope, Exit.void)
    return result
  })

const child = async (n: number, virtualMs: number, budgetSeconds: number, profiling: Profiling | undefined) => {
  const time = makeVirtualTime()
  const program = runCluster(n, virtualMs, budgetSeconds, profiling, time.advance).pipe(
    Effect.provide(SimNetwork.layer({ shareBytes: !copyDatagrams })),
    // one timer wheel and one member directory for every node of the simulated network
    Effect.provide(Layer.mergeAll(Timers.layer, SharedDirectory.layer)),
    time.provide,
    Random.withSeed(seed)
  )
  const result = await Effect.runPromise(program)
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
}

// ---------------------------------------------------------------------------------------------
// Parent: sizes in order, each in a child, within the wall-clock budget

/**
 * The young generation's size for a run of `n` nodes: V8's semi-spaces (it keeps two), in MB.
 * A larger one makes fewer scavenges and gives young objects more time to die before they
 * move to the old space; it also keeps more memory. About 3 KB per node, between 4 and 32 MB:
 * 4 at 1,000 nodes, whose RSS V8's default of 16 raises by some 40 MB, and 32 at 10,000 nodes,
 * which then run 8 % faster than with the default (side by side, in bench/README.md).
 */
const semiSpaceMB = (n: number): number => Math.min(32, Math.max(4, Math.round(n / 300)))

/** A V8 flag this process was given (children inherit it), with its value. */
const given = (flag: string): string | undefined =>
  process.execArgv.find((a) => a === flag || a.startsWith(`${flag}=`))

/**
 * The heap flags of a child running `n` nodes, each as given to this process or else ours.
 * Room for 10,000 nodes (Node's default old space stops near 4 GB); the goal caps RSS at 12 GB.
 * V8 lets the old space grow to about four times what survived the last full collection before
 * the next; 50 % keeps a 1,000-node run near 450 MB of RSS instead of 750, at no measurable cost
 * in time (both are in bench/README.md).
 */
const heapFlags = (n: number) => ({
  oldSpace: given("--max-old-space-size") ?? "--max-old-space-size=11264",
  growing: given("--heap-growing-percent") ?? "--heap-growing-percent=50",
  semiSpace: given("--max-semi-space-size") ?? `--max-semi-space-size=${semiSpaceMB(n)}`
})

/** The runs' semi-space flags for the header: one when they are all the same. */
const semiSpaces = (results: ReadonlyArray<Result>): string => {
  const flags = results.map((r) => heapFlags(r.n).semiSpace)
  return flags.every((flag) => flag === flags[0])
    ? flags[0] ?? heapFlags(0).semiSpace
    : results.map((r, i) => `${flags[i]} at ${num(r.n)}`).join(", ")
}

const runChild = (n: number, args: ReadonlyArray<string>): Promise<Result> =>
  new Promise((resolve, reject) => {
    const script = fileURLToPath(import.meta.url)
    // the given ones are in `execArgv` already
    const heap = Object.values(heapFlags(n)).filter((flag) => !process.execArgv.includes(flag))
    const proc = spawn(process.execPath, [...process.execArgv, ...heap, "--expose-gc", script, ...args], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    proc.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    proc.on("error", reject)
    proc.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "))
      if (code !== 0 || line === undefined) reject(new Error(`child ${args.join(" ")} exited with ${code}\n${out}`))
      else resolve(JSON.parse(line.slice(7)) as Result)
    })
  })

const parent = async () => {
  const sizes = (arg("sizes") ?? "10,100,500,1000").split(",").map(Number)
  const virtualMs = Number(arg("virtual") ?? 60) * 1000
  const budget = Number(arg("budget") ?? 60)
  const started = now()
  const results: Array<Result> = []
  const notes: Array<string> = []
  for (const n of sizes) {
    const remaining = budget - secondsSince(started) - 1
    const last = results.at(-1)
    const before = results.at(-2)
    if (last !== undefined) {
      // cost grows at least linearly with n; use the growth seen so far (exponent in [1, 2.5])
      // the join phase alone is quadratic (every node hears every alive ~retransmit-limit times)
      let exponent = 1.5
      if (before !== undefined && before.realSeconds > 0.5) {
        const perVirtual = (r: Result) => r.realSeconds / r.virtualMs
        exponent = Math.log(perVirtual(last) / perVirtual(before)) / Math.log(last.n / before.n)
        exponent = Math.min(2.5, Math.max(1.5, exponent))
      }
      const projected = (last.realSeconds / last.virtualMs) * virtualMs * (n / last.n) ** exponent
      if (last.stoppedEarly || projected > remaining) {
        notes.push(
          `stopped before n = ${num(n)}: ${
            last.stoppedEarly
              ? `n = ${num(last.n)} already used up the budget`
              : `projected ~${num(projected)} s (cost ∝ n^${exponent.toFixed(2)}) exceeds the ${
                num(Math.max(0, remaining))
              } s left of the ${budget} s budget`
          }`
        )
        break
      }
    }
    if (remaining < 2) {
      notes.push(`stopped before n = ${num(n)}: budget used up`)
      break
    }
    process.stderr.write(`cluster of ${n}…\n`)
    results.push(
      await runChild(n, [
        "--child",
        String(n),
        "--virtual",
        String(virtualMs / 1000),
        "--budget",
        String(Math.max(1, remaining - 2)),
        ...(phases ? [] : ["--no-phases"]),
        ...(untilConverged ? ["--until-converged"] : []),
        ...(copyDatagrams ? ["--copy-datagrams"] : []),
        "--seed",
        String(seed)
      ])
    )
  }

  printHeader("Simulated clusters (SimNetwork in virtual time)", [
    `setup: full Membership stack per node, compact codec, lan profile, SimNetwork defaults (1 ms latency, no loss),`,
    `       Random.withSeed(${seed}); node i joins node-0 at t = i ms; run ${
      untilConverged ? `until converged, at most ${virtualMs / 1000}` : virtualMs / 1000
    } virtual s from t = 0; each size in`,
    `       its own process (--expose-gc ${heapFlags(0).growing} ${semiSpaces(results)}),`,
    `       heap measured after a full GC at the end of the run;`,
    `       wall-clock budget ${budget} s. ${
      copyDatagrams
        ? "--copy-datagrams: each receiver decodes its own copy of every datagram."
        : "Receivers share the sender's datagram and read the messages it carries (--copy-datagrams: each decodes its own copy)."
    }`,
    `       converged = every checked node lists all n alive (all nodes up to 100, else 25 spread over the cluster);`,
    `       "converged by" = first whole virtual second at which that held. messages = received in delivered packets`,
    `       (compounds carry several). heap/node = (heap after − heap before the nodes started) / n. Virtual time comes`,
    `       from bench/VirtualTime.ts; one timer wheel and one member directory serve the whole network. After the run:`,
    `       10 quiet virtual s, then node n/2 updates its metadata, then node n/3 crashes; each is timed at every node.`
  ])
  const at = (r: Result, second: number) => (second <= 0 ? 0 : r.timeline[Math.min(second, r.timeline.length) - 1] ?? 0)
  const half = virtualMs / 2000
  console.log(table(
    [
      "nodes",
      "virtual s",
      "real s",
      "speed-up",
      "packets delivered",
      "packets/real s",
      "messages (alive)",
      "heap MB",
      "converged",
      "converged by"
    ],
    results.map((r) => [
      num(r.n),
      num(r.virtualMs / 1000, r.virtualMs % 1000 === 0 ? 0 : 1) + (r.stoppedEarly ? " (budget)" : ""),
      num(r.realSeconds, 1),
      `${num(r.virtualMs / 1000 / r.realSeconds, 1)}×`,
      num(r.packetsDelivered),
      num(r.packetsDelivered / r.realSeconds),
      `${num(r.messages)} (${num(r.alives)})`,
      num(r.heapUsedMB, 1),
      `${r.converged ? "yes" : "NO"} (${r.checked} checked)`,
      r.convergedAtMs === undefined ? "–" : `${num(r.convergedAtMs / 1000)} s`
    ])
  ))
  console.log("")
  console.log(table(
    [
      "nodes",
      "real s, first 10 virtual s",
      `steady (virtual ${half}–${virtualMs / 1000} s): speed-up`,
      "real ms per virtual s",
      "heap/node KB",
      "RSS MB (V8 heap reserved, typed arrays)",
      "of which tables / queues MB (table B per entry)",
      "push/pulls",
      "joins ok/failed",
      "suspicions",
      "dropped / overflows",
      "internal errors",
      "start nodes s"
    ],
    results.map((r) => {
      const steady = r.timeline.length >= virtualMs / 1000 ? half / (at(r, virtualMs / 1000) - at(r, half)) : NaN
      return [
        num(r.n),
        num(at(r, 10), 1),
        Number.isFinite(steady) ? `${num(steady, 1)}×` : "–",
        Number.isFinite(steady) ? num(1000 / steady) : "–",
        num(((r.heapUsedMB - r.heapBeforeMB) * 1024) / r.n, 0),
        `${mb(r.rssMB * 2 ** 20)} (${mb(r.heapTotalMB * 2 ** 20)}, ${mb(r.typedArraysMB * 2 ** 20)})`,
        `${mb(r.tablesMB * 2 ** 20)} / ${mb(r.queuesMB * 2 ** 20)} (${num(r.tableBytesPerEntry, 1)})`,
        num(r.streamsOpened),
        `${num(r.joinsOk)}/${num(r.joinsFailed)}`,
        num(r.suspicions),
        `${num(r.packetsDropped)} / ${num(r.queueOverflows)}`,
        num(r.internalErrors),
        num(r.startSeconds, 2)
      ]
    })
  ))
  console.log("")
  const ms = (v: number | undefined) => (v === undefined ? "–" : `${num(v / 1000, v < 10_000 ? 2 : 1)} s`)
  const reach = (sp: Spread | undefined, v: number | undefined) =>
    sp === undefined ? "–" : v === undefined ? `not reached (${num(sp.reached)}/${num(sp.members)})` : ms(v)
  console.log(table(
    [
      "nodes",
      "converged after the last join",
      "metadata update: 99.9% / 100% of members",
      "crash: first / every member sees it failed",
      "datagrams per node per s: whole run / quiet 10 s",
      "bytes per node per s: whole run / quiet 10 s"
    ],
    results.map((r) => [
      num(r.n),
      ms(r.convergedAfterJoinsMs),
      `${reach(r.update, r.update?.p999Ms)} / ${reach(r.update, r.update?.allMs)}`,
      `${reach(r.crash, r.crash?.firstMs)} / ${reach(r.crash, r.crash?.allMs)}`,
      `${num(r.traffic.whole.packets, 1)} / ${r.traffic.steady === undefined ? "–" : num(r.traffic.steady.packets, 1)}`,
      `${num(r.traffic.whole.bytes)} / ${r.traffic.steady === undefined ? "–" : num(r.traffic.steady.bytes)}`
    ])
  ))
  console.log("")
  for (const note of notes) console.log(note)
  console.log(`wall time: ${num(secondsSince(started), 1)} s`)
}

const childN = arg("child")
if (childN !== undefined) {
  const cpu = arg("profile")
  const alloc = arg("alloc-profile")
  const file = cpu ?? alloc
  await child(
    Number(childN),
    Number(arg("virtual") ?? 60) * 1000,
    Number(arg("budget") ?? 600),
    file === undefined
      ? undefined
      : { file, fromMs: Number(arg("profile-from") ?? 0) * 1000, kind: cpu === undefined ? "alloc" : "cpu" }
  )
} else {
  await parent()
}
