/**
 * How soon `gossip agent` is of use after exec, and what it costs to keep running:
 *
 * - ack: exec → the first memberlist ack to a ping this benchmark sends over UDP on
 *   loopback (one every 2 ms, each with its own sequence number), i.e. when the agent
 *   answers probes;
 * - ctl: exec → `GET /v1/members` on its control endpoint answers (when gossipbench
 *   counts a node as ready);
 * - CPU: the agent's user+system time when it first acked (10 ms ticks);
 * - RSS, anonymous RSS and PSS 3 s after exec (an agent alone, idle);
 * - `--version`: exec → exit, next to bare `node -e 0`.
 *
 * The agent runs as gossipbench starts it (`node dist/cli.js agent --log-format json
 * --ctl …`), from `npm run build`'s output; runs of the variants are interleaved so
 * that load on the machine hits them alike. Needs Linux (/proc).
 *
 *   ./node_modules/.bin/node bench/startup.ts [--runs 10]
 */
import { spawn, spawnSync } from "node:child_process"
import { createSocket } from "node:dgram"
import { existsSync, readFileSync } from "node:fs"
import { get } from "node:http"
import { fileURLToPath } from "node:url"
import { makeMemberlistCodec } from "../src/codec/MemberlistCodec.ts"
import * as Msg from "../src/protocol/Messages.ts"
import { median, num, printHeader, table } from "./harness.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const runs = Number(arg("runs") ?? 10)
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url))
const TICK_MS = 1000 / 100 // /proc/PID/stat counts CPU in clock ticks (USER_HZ = 100 on Linux)
const SETTLE_MS = 3000
const GIVE_UP_MS = 10_000

interface Variant {
  readonly name: string
  readonly env: Readonly<Record<string, string>>
}
/** The compile cache is warm after the first run; the cold variant shows a first start. */
const variants: ReadonlyArray<Variant> = [
  { name: "gossip agent", env: {} },
  { name: "gossip agent, no compile cache", env: { NODE_DISABLE_COMPILE_CACHE: "1" } }
]

interface Run {
  readonly ackMs: number
  readonly ctlMs: number
  readonly cpuAtAckMs: number
  readonly rssMiB: number
  readonly anonMiB: number
  readonly pssMiB: number
}

const codec = makeMemberlistCodec()

/** A free port for UDP and TCP alike on 127.0.0.1 (the agent binds both). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const socket = createSocket("udp4")
    socket.once("error", reject)
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })

const cpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS
}

const statusKiB = (pid: number, key: string): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${key}:`))
  return Number(line?.replace(/\D+/g, "") ?? NaN)
}

const pssKiB = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").split("\n").find((l) => l.startsWith("Pss:"))
  return Number(line?.replace(/\D+/g, "") ?? NaN)
}

const httpOk = (url: string): Promise<boolean> =>
  new Promise((resolve) => {
    const request = get(url, (response) => {
      response.resume()
      resolve(response.statusCode === 200)
    })
    request.setTimeout(200, () => request.destroy())
    request.once("error", () => resolve(false))
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts one agent, pings it until it acks, polls its endpoint until it answers, then stops it. */
const measure = async (variant: Variant): Promise<Run> => {
  const port = await freePort()
  const ctlPort = await freePort()
  const socket = createSocket("udp4")
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve))
  const args = [
    cli, "agent", "--name", "startup", "--bind", `127.0.0.1:${port}`, "--ctl", `127.0.0.1:${ctlPort}`,
    "--profile", "lan", "--log-format", "json"
  ]
  const t0 = performance.now()
  const child = spawn(process.execPath, args, { stdio: "ignore", env: { ...process.env, ...variant.env } })
  const pid = child.pid!
  let exited = false
  child.once("exit", () => (exited = true))

  let ackMs = NaN
  let cpuAtAckMs = NaN
  let seqNo = 0
  const acked = new Promise<void>((resolve) => {
    socket.on("message", (bytes) => {
      const { messages } = codec.decodePacket(bytes)
      if (Number.isNaN(ackMs) && messages.some((m) => m._tag === "Ack")) {
        ackMs = performance.now() - t0
        cpuAtAckMs = cpuMs(pid)
        resolve()
      }
    })
  })
  const pinger = setInterval(() => {
    const ping = codec.encodeMessage(Msg.ping(++seqNo, "startup", null, "bench", 0))
    socket.send(codec.encodePacket([ping], { checksum: false }), port, "127.0.0.1", () => {})
  }, 2)

  let ctlMs = NaN
  const ready = (async () => {
    while (!exited && performance.now() - t0 < GIVE_UP_MS) {
      if (await httpOk(`http://127.0.0.1:${ctlPort}/v1/members`)) {
        ctlMs = performance.now() - t0
        return
      }
      await sleep(2)
    }
  })()

  await Promise.race([Promise.all([acked, ready]), sleep(GIVE_UP_MS)])
  clearInterval(pinger)
  socket.close()
  if (exited) throw new Error(`the agent exited early (port ${port})`)
  await sleep(Math.max(0, SETTLE_MS - (performance.now() - t0)))
  const rssMiB = statusKiB(pid, "VmRSS") / 1024
  const anonMiB = statusKiB(pid, "RssAnon") / 1024
  const pssMiB = pssKiB(pid) / 1024
  const gone = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGTERM")
  await Promise.race([gone, sleep(5000)])
  if (!exited) child.kill("SIGKILL")
  return { ackMs, ctlMs, cpuAtAckMs, rssMiB, anonMiB, pssMiB }
}

/** `measure`, again when the agent exited at once: its port was taken between the check and the bind. */
const measureRetrying = async (variant: Variant): Promise<Run> => {
  for (let attempt = 1;; attempt++) {
    try {
      return await measure(variant)
    } catch (error) {
      if (attempt >= 3) throw error
      process.stderr.write(`startup: ${error instanceof Error ? error.message : String(error)}; again\n`)
    }
  }
}

/** Wall milliseconds of `node args…` from exec to exit. */
const wallMs = (args: ReadonlyArray<string>): number => {
  const t0 = performance.now()
  const result = spawnSync(process.execPath, args, { stdio: "ignore" })
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited with ${result.status}`)
  return performance.now() - t0
}

if (!existsSync(cli)) {
  console.error("no dist/cli.js: run `npm run build` first")
  process.exit(1)
}

printHeader("Agent start-up: exec → answers probes", [
  `${runs} runs per variant, interleaved; \`node dist/cli.js agent --log-format json --ctl …\` on 127.0.0.1, lan profile`
])

// the first run fills the compile cache; it is not counted
await measureRetrying(variants[0]!)
const results = new Map<string, Array<Run>>(variants.map((v) => [v.name, []]))
for (let r = 0; r < runs; r++) {
  for (const v of variants) results.get(v.name)!.push(await measureRetrying(v))
  process.stderr.write(`startup: run ${r + 1}/${runs}\n`)
}

const ms = (xs: ReadonlyArray<number>) => `${num(median(xs))} / ${num(Math.max(...xs))}`
const mib = (xs: ReadonlyArray<number>) => num(median(xs), 1)
console.log(table(
  ["variant", "ack ms med / max", "ctl ms med / max", "CPU at ack ms", "RSS MiB", "anon MiB", "PSS MiB"],
  variants.map((v) => {
    const rs = results.get(v.name)!
    return [
      v.name,
      ms(rs.map((r) => r.ackMs)),
      ms(rs.map((r) => r.ctlMs)),
      num(median(rs.map((r) => r.cpuAtAckMs))),
      mib(rs.map((r) => r.rssMiB)),
      mib(rs.map((r) => r.anonMiB)),
      mib(rs.map((r) => r.pssMiB))
    ]
  })
))
console.log("")

const version: Array<number> = []
const bare: Array<number> = []
for (let r = 0; r < runs; r++) {
  version.push(wallMs([cli, "--version"]))
  bare.push(wallMs(["-e", "0"]))
}
console.log(table(["command", "exec → exit ms med / max"], [
  ["node dist/cli.js --version", ms(version)],
  ["node -e 0", ms(bare)]
]))
