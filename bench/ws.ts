/**
 * The WebSocket transport next to UDP/TCP on the same machine: ten real nodes
 * on loopback (`Gossip.webSocket` and `Gossip.layer`, memberlist wire format,
 * lan profile) in one process per transport, measuring
 *
 * 1. join: all ten started, nine joining node 0 at once, until every node lists ten alive;
 * 2. idle CPU and memory per node, over `--idle` seconds once converged (heap after GC);
 * 3. crash detection: node 9 closed without a leave, until the other nine list it dead;
 * 4. message throughput from one node to another for `--seconds`: 100-byte
 *    best-effort messages (datagrams) and 16 KiB reliable ones (a stream each).
 *
 *   ./node_modules/.bin/node bench/ws.ts [--idle 10] [--seconds 3]
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { Gossip, type GossipError } from "../src/Gossip.ts"
import { Membership } from "../src/Membership.ts"
import { heapAfterGc, mb, num, printHeader, secondsSince, now, table } from "./harness.ts"

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const N = 10

interface Result {
  readonly transport: string
  readonly joinSeconds: number
  readonly cpuPercentPerNode: number
  readonly heapPerNodeMiB: number
  readonly rssPerNodeMiB: number
  readonly detectSeconds: number
  readonly bestEffortPerSecond: number
  readonly reliablePerSecond: number
}

const layerFor = (transport: "udp" | "ws", name: string): Layer.Layer<Membership, GossipError> =>
  transport === "udp"
    ? Gossip.layer({ name, bind: "127.0.0.1:0" })
    : Gossip.webSocket({ name, bind: "127.0.0.1:0" })

/** Waits (polling every 20 ms, at most 60 s) until `check` holds; seconds taken. */
const until = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    const t0 = now()
    while (!(yield* check) && secondsSince(t0) < 60) yield* Effect.sleep(20)
    return secondsSince(t0)
  })

const role = (transport: "udp" | "ws") =>
  Effect.gen(function*() {
    const idle = arg("idle", 10)
    const seconds = arg("seconds", 3)
    const heap0 = heapAfterGc()
    const rss0 = process.memoryUsage().rss
    const nodes: Array<{ membership: Membership["Service"]; scope: Scope.Closeable; address: string }> = []
    for (let i = 0; i < N; i++) {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(layerFor(transport, `node-${i}`), scope)
      const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
      nodes.push({ membership, scope, address: (yield* membership.localMember).address })
    }
    const allSee = (pred: (ms: ReadonlyArray<{ name: string; state: string }>) => boolean, which = nodes) =>
      Effect.map(Effect.forEach(which, (n) => n.membership.currentMembers), (tables) => tables.every(pred))

    const t0 = now()
    yield* Effect.forEach(nodes.slice(1), (n) => n.membership.join([nodes[0]!.address]), { concurrency: "unbounded" })
    yield* until(allSee((ms) => ms.filter((m) => m.state === "alive").length === N))
    const joinSeconds = secondsSince(t0)

    yield* Effect.sleep(2000)
    const cpu0 = process.cpuUsage()
    yield* Effect.sleep(idle * 1000)
    const cpu = process.cpuUsage(cpu0)
    const cpuPercentPerNode = (cpu.user + cpu.system) / 1e6 / idle / N * 100
    const heapPerNodeMiB = (heapAfterGc() - heap0) / N / 2 ** 20
    const rssPerNodeMiB = (process.memoryUsage().rss - rss0) / N / 2 ** 20

    // throughput from node 1 to node 2
    const rate = (send: Effect.Effect<void, unknown>) =>
      Effect.gen(function*() {
        let delivered = 0
        const counter = yield* Effect.forkChild(
          nodes[2]!.membership.messages.pipe(Stream.runForEach(() => Effect.sync(() => void delivered++)))
        )
        yield* Effect.yieldNow
        const sender = yield* Effect.forkChild(Effect.forever(Effect.ignore(send)))
        yield* Effect.sleep(seconds * 1000)
        yield* Fiber.interrupt(sender)
        yield* Effect.sleep(200)
        yield* Fiber.interrupt(counter)
        return delivered / seconds
      })
    const bestEffortPerSecond = yield* rate(nodes[1]!.membership.sendBestEffort("node-2", new Uint8Array(100)))
    const reliablePerSecond = yield* rate(nodes[1]!.membership.sendReliable("node-2", new Uint8Array(16 * 1024)))

    const t1 = now()
    yield* Scope.close(nodes[N - 1]!.scope, Exit.void)
    yield* until(allSee((ms) => ms.some((m) => m.name === `node-${N - 1}` && m.state === "dead"), nodes.slice(0, N - 1)))
    const detectSeconds = secondsSince(t1)

    for (const n of nodes.slice(0, N - 1)) yield* Scope.close(n.scope, Exit.void)
    const result: Result = {
      transport,
      joinSeconds,
      cpuPercentPerNode,
      heapPerNodeMiB,
      rssPerNodeMiB,
      detectSeconds,
      bestEffortPerSecond,
      reliablePerSecond
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  })

const runRole = (transport: "udp" | "ws"): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--role", transport, ...process.argv.slice(2)], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("close", (code) => {
      const line = out.trim().split("\n").at(-1) ?? ""
      try {
        resolve(JSON.parse(line) as Result)
      } catch {
        reject(new Error(`${transport} run failed (exit ${code}): ${out}`))
      }
    })
  })

const roleArg = process.argv.indexOf("--role")
if (roleArg >= 0) {
  await Effect.runPromise(Effect.scoped(role(process.argv[roleArg + 1] as "udp" | "ws")))
  process.exit(0)
} else {
  printHeader("WebSocket transport next to UDP/TCP (10 nodes on loopback, lan profile)", [
    `each transport in its own process, one after the other; idle ${arg("idle", 10)} s, throughput ${arg("seconds", 3)} s per kind`
  ])
  const results: Array<Result> = []
  for (const transport of ["udp", "ws"] as const) {
    process.stderr.write(`${transport}…\n`)
    results.push(await runRole(transport))
  }
  console.log(table(
    ["transport", "join, s", "crash detected, s", "idle CPU / node", "heap / node, MiB", "RSS / node, MiB", "100 B best effort / s", "16 KiB reliable / s"],
    results.map((r) => [
      r.transport === "udp" ? "UDP/TCP" : "WebSocket",
      num(r.joinSeconds, 2),
      num(r.detectSeconds, 2),
      `${num(r.cpuPercentPerNode, 2)} %`,
      mb(r.heapPerNodeMiB * 2 ** 20),
      mb(r.rssPerNodeMiB * 2 ** 20),
      num(r.bestEffortPerSecond),
      num(r.reliablePerSecond)
    ])
  ))
}
