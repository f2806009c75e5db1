/**
 * Real nodes on loopback UDP/TCP (`UdpTcpTransport`, compact codec, lan profile):
 *
 * 1. user-message throughput: a receiver node and one or two sender nodes, each
 *    in its own process, the senders calling `sendBestEffort` as fast as they can
 *    for a few seconds; the receiver counts what its `messages` stream delivers;
 * 2. convergence: 10 nodes in one process, joined to node 0, timed until every
 *    node lists all 10 alive.
 *
 *   ./node_modules/.bin/node bench/udp.ts [--seconds 3]
 */
import { type ChildProcess, spawn } from "node:child_process"
import { cpus } from "node:os"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import { CompactCodec } from "../src/codec/CompactCodec.ts"
import type { GossipConfigInput } from "../src/Config.ts"
import { GossipConfig } from "../src/Config.ts"
import { Membership } from "../src/Membership.ts"
import * as Msg from "../src/protocol/Messages.ts"
import { Codec } from "../src/codec/Codec.ts"
import { Transport } from "../src/transport/Transport.ts"
import { UdpTcpTransport } from "../src/transport/UdpTcpTransport.ts"
import { median, now, num, printHeader, secondsSince, table } from "./harness.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** One node on 127.0.0.1, port chosen by the OS; the transport's own service is kept for its counters. */
const nodeLayer = (name: string, overrides: Partial<GossipConfigInput> = {}) =>
  Membership.layer.pipe(
    Layer.provideMerge(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 })),
    Layer.provideMerge(CompactCodec.layer),
    Layer.provide(GossipConfig.layer({ name, ...overrides }))
  )

const say = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))

/** Resolves when a line arrives on stdin (the orchestrator's "stop"). */
const stdinLine = Effect.callback<void>((resume) => {
  const rl = createInterface({ input: process.stdin })
  rl.once("line", () => {
    rl.close()
    resume(Effect.void)
  })
  rl.once("close", () => resume(Effect.void))
})

// ---------------------------------------------------------------------------------------------
// Roles (child processes)

const receiver = Effect.gen(function*() {
  const m = yield* Membership
  const udp = yield* UdpTcpTransport
  let count = 0
  let first = 0
  let last = 0
  yield* m.messages.pipe(
    Stream.runForEachArray((chunk) =>
      Effect.sync(() => {
        const t = Date.now()
        if (count === 0) first = t
        count += chunk.length
        last = t
      })
    ),
    Effect.forkChild
  )
  const local = yield* m.localMember
  yield* say(`READY ${local.address}`)
  yield* stdinLine
  const transport = yield* udp.stats
  const node = yield* m.stats
  yield* say(`RESULT ${
    JSON.stringify({
      count,
      first,
      last,
      udpReceived: transport.packetsReceived,
      udpDropped: transport.packetsDropped,
      decodeErrors: node.decodeErrors
    })
  }`)
}).pipe(Effect.provide(nodeLayer("receiver")))

const sender = (name: string, seed: string, seconds: number, fibers: number, size: number, raw: boolean) =>
  Effect.gen(function*() {
    const m = yield* Membership
    yield* m.join([seed])
    while (!(yield* m.currentMembers).some((x) => x.name === "receiver" && x.state === "alive")) {
      yield* Effect.sleep(10)
    }
    const payload = new Uint8Array(size).fill(7)
    // raw: the same datagram `sendBestEffort` builds, handed straight to the transport
    const transport = yield* Transport
    const codec = yield* Codec
    const to = (yield* m.currentMembers).find((x) => x.name === "receiver")!.address
    const datagram = codec.encodePacket([codec.encodeMessage(Msg.user(payload))], { checksum: false })
    const send: Effect.Effect<void, unknown> = raw
      ? transport.sendPacket(to, datagram)
      : m.sendBestEffort("receiver", payload)
    let sent = 0
    let errors = 0
    const deadline = performance.now() + seconds * 1000
    const worker = Effect.gen(function*() {
      while (performance.now() < deadline) {
        const r = yield* Effect.result(send)
        if (r._tag === "Success") sent++
        else errors++
      }
    })
    yield* say("GO")
    const t0 = performance.now()
    yield* Effect.all(Array.from({ length: fibers }, () => worker), { concurrency: "unbounded", discard: true })
    const elapsed = (performance.now() - t0) / 1000
    yield* say(`RESULT ${JSON.stringify({ sent, errors, elapsed, start: Date.now() - elapsed * 1000 })}`)
    yield* stdinLine
  }).pipe(Effect.provide(nodeLayer(name)))

// ---------------------------------------------------------------------------------------------
// Convergence (in this process)

const converge = (n: number, profile: "lan" | "local", concurrent: boolean) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const t0 = now()
    const nodes = yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) =>
        Effect.map(
          Layer.buildWithScope(nodeLayer(`node-${i}`, { profile }), scope),
          (ctx) => Context.get(ctx, Membership)
        )
    )
    const seed = (yield* nodes[0]!.localMember).address
    const bound = secondsSince(t0)
    const t1 = now()
    yield* Effect.forEach(nodes.slice(1), (m) => m.join([seed]), {
      concurrency: concurrent ? "unbounded" : 1,
      discard: true
    })
    const joined = secondsSince(t1)
    const allAlive = Effect.map(
      Effect.forEach(nodes, (m) => m.currentMembers),
      (tables) => tables.every((t) => t.filter((x) => x.state === "alive").length === n)
    )
    while (!(yield* allAlive)) {
      yield* Effect.sleep(2)
      if (secondsSince(t1) > 15) break
    }
    const total = secondsSince(t1)
    const ok = yield* allAlive
    yield* Scope.close(scope, Exit.void)
    return { bound, joined, total, after: total - joined, ok }
  })

// ---------------------------------------------------------------------------------------------
// Orchestrator

interface Proc {
  readonly proc: ChildProcess
  /** Next line starting with `prefix` (the rest of it). */
  readonly next: (prefix: string) => Promise<string>
  readonly send: (line: string) => void
  readonly exited: Promise<number | null>
}

const start = (args: ReadonlyArray<string>): Proc => {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const lines: Array<string> = []
  const waiting: Array<() => void> = []
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    lines.push(line)
    for (const w of waiting.splice(0)) w()
  })
  const exited = new Promise<number | null>((resolve) => proc.on("close", resolve))
  const next = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const i = lines.findIndex((l) => l.startsWith(prefix))
        if (i >= 0) {
          const [line] = lines.splice(i, 1)
          resolve(line!.slice(prefix.length).trim())
          return true
        }
        return false
      }
      if (look()) return
      const timer = setTimeout(() => reject(new Error(`no "${prefix}" from child ${args.join(" ")}`)), 60_000)
      const retry = () => {
        if (look()) clearTimeout(timer)
        else waiting.push(retry)
      }
      waiting.push(retry)
      void exited.then(() => {
        if (!look()) {
          clearTimeout(timer)
          reject(new Error(`child ${args.join(" ")} exited before "${prefix}"`))
        }
      })
    })
  return { proc, next, send: (line) => proc.stdin!.write(`${line}\n`), exited }
}

interface Throughput {
  readonly label: string
  readonly senders: number
  readonly fibers: number
  readonly sent: number
  readonly sendSeconds: number
  readonly errors: number
  readonly received: number
  readonly receiveSeconds: number
  readonly udpDropped: number
}

const throughput = async (label: string, senders: number, fibers: number, seconds: number, raw: boolean) => {
  const size = 100
  const rx = start(["--role", "receiver"])
  const seed = await rx.next("READY")
  const txs = Array.from(
    { length: senders },
    (_, i) =>
      start([
        "--role",
        "sender",
        "--name",
        `sender-${i}`,
        "--seed",
        seed,
        "--seconds",
        String(seconds),
        "--fibers",
        String(fibers),
        "--size",
        String(size),
        ...(raw ? ["--raw"] : [])
      ])
  )
  const results = await Promise.all(txs.map((tx) => tx.next("RESULT").then((s) => JSON.parse(s))))
  // let the receiver drain what is still queued
  await new Promise((r) => setTimeout(r, 500))
  rx.send("stop")
  const r = JSON.parse(await rx.next("RESULT"))
  for (const tx of txs) tx.send("stop")
  await Promise.all([rx.exited, ...txs.map((tx) => tx.exited)])
  const sent = results.reduce((a, x) => a + x.sent, 0)
  const row: Throughput = {
    label,
    senders,
    fibers,
    sent,
    sendSeconds: Math.max(...results.map((x) => x.elapsed)),
    errors: results.reduce((a, x) => a + x.errors, 0),
    received: r.count,
    receiveSeconds: Math.max(0.001, (r.last - Math.min(...results.map((x) => x.start))) / 1000),
    udpDropped: r.udpDropped
  }
  process.stderr.write(`  ${label}: sent ${sent}, received ${r.count}\n`)
  return row
}

const orchestrate = async () => {
  const seconds = Number(arg("seconds") ?? 3)
  const started = now()
  process.stderr.write("throughput…\n")
  const runs: Array<Throughput> = []
  runs.push(await throughput("sendBestEffort, 1 fiber", 1, 1, seconds, false))
  runs.push(await throughput("sendBestEffort, 16 fibers", 1, 16, seconds, false))
  runs.push(await throughput("sendBestEffort, 2 senders × 16 fibers", 2, 16, seconds, false))
  runs.push(await throughput("Transport.sendPacket (same datagram), 16 fibers", 1, 16, seconds, true))

  process.stderr.write("convergence…\n")
  const trials = 3
  const convStart = now()
  const convBudget = Number(arg("convergence-budget") ?? 30)
  let skipped = 0
  const conv: Array<[string, Array<{ bound: number; joined: number; total: number; after: number; ok: boolean }>]> = []
  for (const profile of ["lan", "local"] as const) {
    for (const concurrent of [false, true]) {
      const xs = []
      for (let t = 0; t < trials; t++) {
        if (xs.length > 0 && secondsSince(convStart) > convBudget) {
          skipped += trials - t
          break
        }
        xs.push(await Effect.runPromise(converge(10, profile, concurrent)))
      }
      conv.push([`${profile}, ${concurrent ? "9 joins at once" : "joins one after another"}`, xs])
      process.stderr.write(`  ${profile} ${concurrent}: ${xs.map((x) => x.total.toFixed(3)).join(", ")} s\n`)
    }
  }

  printHeader("Loopback UDP/TCP nodes", [
    `setup: UdpTcpTransport on 127.0.0.1 (port 0), compact codec; user messages of 100 B. Throughput: every node in its`,
    `       own process, senders loop on the call for ${seconds} s (n fibers each); "received/s" counts what the receiver's`,
    `       \`messages\` stream delivered, from the senders' start to the last message. UDP may drop: "lost" includes the`,
    `       kernel's socket-buffer drops, which the node cannot see; "dropped inside" counts its own full queues.`,
    `       With two senders, three busy processes share this machine's ${cpus().length} cores.`
  ])
  console.log("## User messages (`sendBestEffort`), best effort over UDP\n")
  console.log(table(
    ["sender side", "sent", "sent/s", "received", "received/s", "lost", "dropped inside the receiving node", "send errors"],
    runs.map((r) => [
      r.label,
      num(r.sent),
      num(r.sent / r.sendSeconds),
      num(r.received),
      num(r.received / r.receiveSeconds),
      `${num(r.sent === 0 ? 0 : (100 * (r.sent - r.received)) / r.sent, 1)} %`,
      num(r.udpDropped),
      num(r.errors)
    ])
  ))
  console.log("")
  console.log(`## Convergence of 10 nodes in one process (median of up to ${trials} trials; every node lists 10 alive)\n`)
  console.log(table(
    ["profile, joins", "bind 10 nodes ms", "joins done ms", "converged after last join ms", "total from first join ms", "trials (total ms)"],
    conv.map(([label, xs]) => [
      label,
      num(median(xs.map((x) => x.bound)) * 1000),
      num(median(xs.map((x) => x.joined)) * 1000),
      num(median(xs.map((x) => x.after)) * 1000),
      num(median(xs.map((x) => x.total)) * 1000),
      xs.map((x) => `${num(x.total * 1000)}${x.ok ? "" : " (not converged)"}`).join(", ")
    ])
  ))
  console.log("")
  if (skipped > 0) console.log(`${skipped} convergence trials skipped: the ${convBudget} s budget for this part was used up`)
  console.log(`wall time: ${num(secondsSince(started), 1)} s`)
}

// ---------------------------------------------------------------------------------------------

const role = arg("role")
if (role === "receiver") {
  await Effect.runPromise(receiver)
  // stdin (the orchestrator's pipe) would keep the process alive
  process.exit(0)
} else if (role === "sender") {
  await Effect.runPromise(
    sender(
      arg("name") ?? "sender",
      arg("seed")!,
      Number(arg("seconds") ?? 3),
      Number(arg("fibers") ?? 1),
      Number(arg("size") ?? 100),
      process.argv.includes("--raw")
    )
  )
  process.exit(0)
} else {
  await orchestrate()
}
