/**
 * `gossip agent --transport ws` as child processes on loopback, run from the
 * sources: wss with a certificate, AES encryption, a member joining through
 * a TCP proxy, a SIGKILL detected, a leave seen. Every process is killed
 * when the test ends.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { freePort, tcpProxy, waitFor } from "./net.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))
const KEY = Buffer.alloc(32, 3).toString("base64")

type Record = { readonly [key: string]: unknown }

interface Agent {
  readonly process: ChildProcess
  readonly port: number
  readonly records: () => ReadonlyArray<Record>
  readonly output: () => string
}

const exited = (child: ChildProcess): Effect.Effect<number | null> =>
  Effect.callback((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(child.exitCode))
    child.once("exit", (code) => resume(Effect.succeed(code)))
  })

/** `gossip agent --transport ws` on 127.0.0.1 with wss, encryption and JSON logs; SIGKILLed at scope close. */
const agent = (name: string, join: ReadonlyArray<string>): Effect.Effect<Agent, never, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* freePort
    let stdout = ""
    let stderr = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = spawn(process.execPath, [
          "src/cli.ts",
          "agent",
          "--transport",
          "ws",
          "--name",
          name,
          "--bind",
          `127.0.0.1:${port}`,
          "--tls-cert",
          fixture("cert.pem"),
          "--tls-key",
          fixture("key.pem"),
          "--tls-ca",
          fixture("cert.pem"),
          "--encrypt",
          KEY,
          "--profile",
          "local",
          "--log-format",
          "json",
          ...join.flatMap((j) => ["--join", j])
        ], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
        c.stdout!.on("data", (d) => (stdout += d))
        c.stderr!.on("data", (d) => (stderr += d))
        return c
      }),
      (c) => Effect.suspend(() => {
        if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
        return Effect.asVoid(exited(c))
      })
    )
    const records = () =>
      stdout.split("\n").flatMap((line) => {
        try {
          return [JSON.parse(line) as Record]
        } catch {
          return []
        }
      })
    return { process: child, port, records, output: () => `--- ${name}\n${stdout}\n${stderr}` }
  })

/** Waits until `agent` has logged a line matching `fields`; on timeout, shows what every agent logged. */
const logged = (agent: Agent, fields: Record, what: string, all: ReadonlyArray<Agent> = [agent]) =>
  waitFor(
    Effect.sync(() => agent.records().some((r) => Object.entries(fields).every(([k, v]) => r[k] === v))),
    what,
    45_000
  ).pipe(Effect.mapError((e) => new Error(`${e.message}\n${all.map((a) => a.output()).join("\n")}`)))

describe("gossip agent --transport ws (child processes)", () => {
  it.live("two agents and a third joining through a TCP proxy see each other, detect a SIGKILL and see a leave", () =>
    Effect.gen(function*() {
      const a = yield* agent("a", [])
      yield* logged(a, { msg: "agent started", transport: "ws", url: `wss://127.0.0.1:${a.port}/gossip` }, "a started")
      const b = yield* agent("b", [`https://127.0.0.1:${a.port}/gossip`])
      const proxy = yield* tcpProxy(a.port)
      const c = yield* agent("c", [`wss://127.0.0.1:${proxy.port}/gossip`])
      for (const [x, others] of [[a, ["b", "c"]], [b, ["a", "c"]], [c, ["a", "b"]]] as const) {
        for (const o of others) yield* logged(x, { event: "joined", node: o }, `${o} joined, as seen by the others`)
      }
      assert.isAbove(proxy.connections(), 0)

      b.process.kill("SIGKILL")
      yield* logged(a, { event: "failed", node: "b" }, "a sees b fail")
      yield* logged(c, { event: "failed", node: "b" }, "c sees b fail")

      c.process.kill("SIGTERM")
      assert.strictEqual(yield* exited(c.process), 0)
      yield* logged(a, { event: "left", node: "c" }, "a sees c leave", [a, c])
    }).pipe(Effect.scoped), 150_000)
})
