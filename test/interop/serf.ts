/**
 * Real serf agents for interop tests: started on a loopback address with free
 * ports, always killed when their scope closes.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createSocket } from "node:dgram"
import { createServer } from "node:net"
import { beforeEach, describe } from "vitest"

/** Why the `serf` on the PATH cannot run the interop tests, or undefined when it can. */
export const serfProblem: string | undefined = (() => {
  const r = spawnSync("serf", ["version"], { timeout: 5000, encoding: "utf8" })
  if (r.error !== undefined) {
    return (r.error as NodeJS.ErrnoException).code === "ENOENT"
      ? "no `serf` on the PATH"
      : `\`serf version\` could not run: ${r.error.message}`
  }
  const output = `${r.stdout}${r.stderr}`.trim()
  if (r.status !== 0) return `\`serf version\` exited with ${r.status ?? r.signal}: ${output}`
  // Debian's serf prints its version, then "Agent Protocol: 5 (Understands back to: 2)".
  if (!/Agent Protocol: \d+/.test(output)) return `\`serf version\` printed no agent protocol: ${output}`
  return undefined
})()

/**
 * `GOSSIP_REQUIRE_SERF=1` (set by `.ci/run`): without a working serf the interop tests
 * fail instead of being skipped.
 */
export const serfRequired: boolean = process.env.GOSSIP_REQUIRE_SERF === "1"

/**
 * `describe` for tests that need real serf agents: skipped when serf is missing or broken,
 * unless `GOSSIP_REQUIRE_SERF=1`, in which case every test in it fails and says why.
 */
export const describeWithSerf = (name: string, body: () => void): void => {
  if (serfProblem === undefined) {
    describe(name, body)
  } else if (!serfRequired) {
    describe.skip(name, body)
  } else {
    describe(name, () => {
      beforeEach(() => {
        throw new Error(`GOSSIP_REQUIRE_SERF=1 but serf cannot run: ${serfProblem}`)
      })
      body()
    })
  }
}

/** A port free for both TCP and UDP on `ip`, other than those in `avoid`. */
export const freePort = (ip: string, avoid: ReadonlyArray<number> = []): Effect.Effect<number> =>
  Effect.promise(async () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await new Promise<number>((resolve, reject) => {
        const server = createServer()
        server.once("error", reject)
        server.listen(0, ip, () => {
          const p = (server.address() as { port: number }).port
          server.close(() => resolve(p))
        })
      })
      const udpFree = await new Promise<boolean>((resolve) => {
        const socket = createSocket("udp4")
        socket.once("error", () => resolve(false))
        socket.bind(port, ip, () => socket.close(() => resolve(true)))
      })
      if (udpFree && !avoid.includes(port)) return port
    }
    throw new Error(`no free port on ${ip}`)
  })

export interface SerfMember {
  readonly name: string
  readonly addr: string
  readonly port: number
  readonly tags: Record<string, string>
  readonly status: string
}

export interface SerfAgent {
  readonly name: string
  /** `ip:port` of its memberlist (gossip) listener. */
  readonly address: string
  readonly rpc: string
  readonly process: ChildProcess
  /** Everything the agent printed so far. */
  readonly logs: () => string
  /** `serf members` as seen by this agent. */
  readonly members: Effect.Effect<ReadonlyArray<SerfMember>>
  /** `serf leave`: a graceful leave, then the agent exits. */
  readonly leave: Effect.Effect<void>
  /** Sends a signal (SIGKILL = crash). */
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
}

export interface SerfOptions {
  readonly name: string
  readonly ip: string
  readonly profile?: "lan" | "wan" | "local"
  readonly join?: ReadonlyArray<string>
  readonly encrypt?: string
  readonly tags?: Record<string, string>
  /** More `serf agent` arguments (`-event-handler=…`, `-keyring-file=…`, …). */
  readonly args?: ReadonlyArray<string>
}

/** Runs a serf CLI command (`serf members`, `serf event`, …) to completion; killed after `timeoutMillis`. */
export const serfCli = (args: ReadonlyArray<string>, timeoutMillis = 10_000) =>
  Effect.promise(() =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn("serf", args, { stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d) => (stdout += d))
      child.stderr.on("data", (d) => (stderr += d))
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMillis)
      child.on("close", (status) => {
        clearTimeout(timer)
        resolve({ status, stdout, stderr })
      })
    })
  )

/** A long-running child process with its output collected; SIGKILLed (and awaited) when the scope closes. */
export const spawnScoped = (command: string, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] })
        c.stdout!.on("data", (d) => (output += d))
        c.stderr!.on("data", (d) => (output += d))
        return c
      }),
      (c) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve()
            c.once("exit", () => resolve())
            c.kill("SIGKILL")
          })
        )
    )
    return { child, output: () => output }
  })

/**
 * Starts an agent and waits until its RPC answers; it is killed when the scope closes. A port
 * found free can still be taken before the agent binds it (by any other socket on the
 * machine): an agent that exits because an address is in use is started again on fresh ports.
 */
export const startSerf = (options: SerfOptions): Effect.Effect<SerfAgent, Error, Scope.Scope> =>
  Effect.gen(function*() {
    for (let attempt = 1;; attempt++) {
      const agent = yield* startSerfOnce(options)
      if (agent !== "address in use") return agent
      if (attempt === 3) return yield* Effect.fail(new Error(`serf agent ${options.name}: addresses in use ${attempt} times`))
    }
  })

const startSerfOnce = (options: SerfOptions): Effect.Effect<SerfAgent | "address in use", Error, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* freePort(options.ip)
    const rpcPort = yield* freePort(options.ip, [port])
    const address = `${options.ip}:${port}`
    const rpc = `${options.ip}:${rpcPort}`
    const args = [
      "agent",
      `-node=${options.name}`,
      `-bind=${address}`,
      `-rpc-addr=${rpc}`,
      `-profile=${options.profile ?? "lan"}`,
      "-log-level=debug",
      ...(options.encrypt === undefined ? [] : [`-encrypt=${options.encrypt}`]),
      ...Object.entries(options.tags ?? {}).flatMap(([k, v]) => ["-tag", `${k}=${v}`]),
      ...(options.join ?? []).map((j) => `-join=${j}`),
      ...(options.args ?? [])
    ]
    const { child, output: logs } = yield* spawnScoped("serf", args)
    const members = Effect.gen(function*() {
      const r = yield* serfCli(["members", "-format=json", `-rpc-addr=${rpc}`], 5000)
      if (r.status !== 0) return []
      return (JSON.parse(r.stdout) as { members: ReadonlyArray<SerfMember> }).members
    })
    // Ready once its RPC lists itself.
    const deadline = Date.now() + 10_000
    while (!(yield* members).some((m) => m.name === options.name)) {
      if (child.exitCode !== null && /address already in use/.test(logs())) return "address in use"
      if (child.exitCode !== null || Date.now() > deadline) {
        return yield* Effect.fail(new Error(`serf agent ${options.name} did not start:\n${logs()}`))
      }
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
    }
    return {
      name: options.name,
      address,
      rpc,
      process: child,
      logs,
      members,
      leave: Effect.asVoid(serfCli(["leave", `-rpc-addr=${rpc}`])),
      kill: (signal) => Effect.sync(() => void child.kill(signal))
    }
  })

/** Polls `check` every 50 ms of real time until it holds; fails after `timeoutMillis`. */
export const eventually = (check: Effect.Effect<boolean>, timeoutMillis: number, what: string) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!(yield* check)) {
      if (Date.now() - start > timeoutMillis) return yield* Effect.fail(new Error(`timed out: ${what}`))
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
    }
    return Date.now() - start
  })

/** What a `serf keys -install|-use|-remove` reported. */
export interface SerfKeysResult {
  readonly status: number | null
  /** Members that answered serf's internal key query; undefined when serf printed no count. */
  readonly responded: number | undefined
  /** Members serf asked (those it holds alive or suspect); undefined when serf printed no count. */
  readonly asked: number | undefined
  /** Some member answered with an error (serf then reports failures, not successes). */
  readonly failed: boolean
  readonly output: string
}

/**
 * `serf keys -<op>=KEY` through the agent at `rpc`. serf applies the change on every member by
 * an internal query and waits for every answer or the query's timeout: it exits 0 when all
 * answered without error, else prints `e/m nodes reported failure` when some answered with an
 * error, or `n/m nodes reported success` when none did but only n of m answered.
 */
export const serfKeys = (rpc: string, op: "install" | "use" | "remove", key: string): Effect.Effect<SerfKeysResult> =>
  Effect.map(serfCli(["keys", `-${op}=${key}`, `-rpc-addr=${rpc}`]), (r) => {
    const output = `${r.stdout}${r.stderr}`.trim()
    const counted = /(\d+)\/(\d+) nodes reported success/.exec(output)
    return {
      status: r.status,
      responded: counted === null ? undefined : Number(counted[1]),
      asked: counted === null ? undefined : Number(counted[2]),
      failed: /nodes reported failure/.test(output),
      output
    }
  })
