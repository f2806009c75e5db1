/**
 * `gossip agent` (as a child process, from the sources) in clusters of real
 * serf agents on 127.0.61.x: it joins and shows up in `serf members` with its
 * tags; SIGINT makes serf record it as `left`; SIGKILL makes serf mark it
 * `failed`, within the time Lifeguard allows for the cluster's size. Skipped
 * when there is no working `serf` binary (failed instead under
 * `GOSSIP_REQUIRE_SERF=1`).
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Scope } from "effect"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { presets } from "../../src/Config.ts"
import type { SerfAgent } from "./serf.ts"
import { describeWithSerf, eventually, freePort, spawnScoped, startSerf } from "./serf.ts"

const ENTRY = fileURLToPath(new URL("../../src/cli.ts", import.meta.url))

interface OurAgent {
  readonly address: string
  readonly ctl: string
  readonly process: ChildProcess
  readonly output: () => string
  readonly exited: Effect.Effect<number | null, Error>
}

/** Starts `gossip agent` with JSON logs and a control endpoint; SIGKILLed at scope close if still running. */
const startOurs = (options: {
  readonly name: string
  readonly ip: string
  readonly join: ReadonlyArray<string>
  readonly tags?: Readonly<Record<string, string>>
  readonly encrypt?: string
}): Effect.Effect<OurAgent, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* freePort(options.ip)
    const address = `${options.ip}:${port}`
    const ctl = `${options.ip}:${yield* freePort(options.ip, [port])}`
    const args = [
      ENTRY,
      "agent",
      "--name",
      options.name,
      "--bind",
      address,
      "--ctl",
      ctl,
      "--profile",
      "lan",
      "--log-format",
      "json",
      ...options.join.flatMap((j) => ["--join", j]),
      ...Object.entries(options.tags ?? {}).flatMap(([k, v]) => ["--tag", `${k}=${v}`]),
      ...(options.encrypt === undefined ? [] : ["--encrypt", options.encrypt])
    ]
    const { child, output: logs } = yield* spawnScoped(process.execPath, args)
    const exited = Effect.promise(() =>
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve(child.exitCode)
        : new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    ).pipe(
      Effect.timeoutOrElse({ duration: 10_000, orElse: () => Effect.fail(new Error(`did not exit\n${logs()}`)) })
    )
    // started and joined: the joins are done before the agent logs "joined"
    yield* eventually(
      Effect.sync(() => {
        if (child.exitCode !== null) throw new Error(`gossip agent exited\n${logs()}`)
        return logs().includes(`"msg":"joined"`)
      }),
      15_000,
      `gossip agent ${options.name} joined\n${logs()}`
    )
    return { address, ctl, process: child, output: logs, exited }
  })

const statusIn = (serf: SerfAgent, name: string) =>
  Effect.map(serf.members, (ms) => ms.find((m) => m.name === name)?.status)

const ourView = (agent: OurAgent) =>
  Effect.promise(async () =>
    (await (await fetch(`http://${agent.ctl}/v1/members`)).json()) as ReadonlyArray<{
      name: string
      state: string
      tags: Record<string, string>
    }>
  )

/**
 * How long Lifeguard may take, at most, to declare a crashed member dead in
 * a healthy cluster of `n` members with the given profile (memberlist's
 * algorithm):
 *
 * - first probe: every member probes one other member per probe interval,
 *   walking a list it reshuffles after each round, so a given member is
 *   probed again at most 2(n−1)−1 intervals later (first in one round, last
 *   in the next);
 * - that probe fails at the end of its interval (ProbeInterval × (awareness
 *   + 1), awareness 0 on a healthy prober: the indirect helpers answer with nacks);
 * - the suspicion timeout: min = SuspicionMult × max(1, log10 n) ×
 *   ProbeInterval; k = SuspicionMult − 2 confirmations are expected unless
 *   n − 2 < k (then k = 0); the timer starts at max = SuspicionMaxTimeoutMult ×
 *   min when k ≥ 1 (confirmations only shorten it), else at min;
 * - plus `slack` for gossiping the death to the other members and for polling
 *   `serf members`.
 *
 * For n = 3 on `lan`: 3 s + 1 s + 4 s (k = 0) + 1 s = 9 s.
 */
const lifeguardBoundMillis = (n: number, profile: keyof typeof presets, slack = 1000): number => {
  const p = presets[profile]
  const firstProbe = (2 * (n - 1) - 1) * p.probeInterval
  const probeRound = p.probeInterval
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)))
  const suspicionMin = p.suspicionMult * nodeScale * p.probeInterval
  const k = n - 2 < p.suspicionMult - 2 ? 0 : p.suspicionMult - 2
  const suspicion = k >= 1 ? p.suspicionMaxTimeoutMult * suspicionMin : suspicionMin
  return firstProbe + probeRound + suspicion + slack
}

describeWithSerf("gossip agent in a serf cluster", () => {
  it.live("joins, shows in serf members with its tags, and is `left` after SIGINT", () =>
    Effect.scoped(Effect.gen(function*() {
      const s1 = yield* startSerf({ name: "cs-s1", ip: "127.0.61.1", tags: { role: "serf", dc: "lab" } })
      const s2 = yield* startSerf({ name: "cs-s2", ip: "127.0.61.2", join: [s1.address] })
      const ours = yield* startOurs({
        name: "cs-ours",
        ip: "127.0.61.3",
        join: [s1.address],
        tags: { role: "ts", zone: "a" }
      })
      for (const serf of [s1, s2]) {
        yield* eventually(
          Effect.map(serf.members, (ms) => {
            const me = ms.find((m) => m.name === "cs-ours")
            return me?.status === "alive" && me.tags.role === "ts" && me.tags.zone === "a"
          }),
          10_000,
          `${serf.name} lists cs-ours alive with its tags`
        )
      }
      yield* eventually(
        Effect.map(ourView(ours), (ms) => ["cs-s1", "cs-s2"].every((n) => ms.some((m) => m.name === n && m.state === "alive"))),
        10_000,
        "our agent sees both serf agents"
      )
      assert.deepStrictEqual((yield* ourView(ours)).find((m) => m.name === "cs-s1")?.tags, { role: "serf", dc: "lab" })

      ours.process.kill("SIGINT")
      assert.strictEqual(yield* ours.exited, 0, ours.output())
      for (const serf of [s1, s2]) {
        yield* eventually(Effect.map(statusIn(serf, "cs-ours"), (s) => s === "left"), 10_000, `${serf.name}: cs-ours left`)
      }
      // serf saw the intent first: a leave, never a failure
      for (const serf of [s1, s2]) {
        assert.include(serf.logs(), "EventMemberLeave: cs-ours")
        assert.notInclude(serf.logs(), "EventMemberFailed: cs-ours")
      }
    })), 60_000)

  it.live("joins an encrypted serf cluster with --encrypt", () =>
    Effect.scoped(Effect.gen(function*() {
      const key = Buffer.alloc(32, 0x5a).toString("base64")
      const s1 = yield* startSerf({ name: "ce-s1", ip: "127.0.61.4", encrypt: key })
      yield* startOurs({ name: "ce-ours", ip: "127.0.61.5", join: [s1.address], encrypt: key })
      yield* eventually(Effect.map(statusIn(s1, "ce-ours"), (s) => s === "alive"), 10_000, "ce-ours alive in serf")
    })), 30_000)

  it.live("SIGKILL: serf marks the agent failed within the Lifeguard bound (lan on both sides)", () =>
    Effect.scoped(Effect.gen(function*() {
      const s1 = yield* startSerf({ name: "ck-s1", ip: "127.0.61.6", profile: "lan" })
      const s2 = yield* startSerf({ name: "ck-s2", ip: "127.0.61.7", profile: "lan", join: [s1.address] })
      const ours = yield* startOurs({ name: "ck-ours", ip: "127.0.61.8", join: [s1.address] })
      for (const serf of [s1, s2]) {
        yield* eventually(
          Effect.map(serf.members, (ms) => ms.length === 3 && ms.every((m) => m.status === "alive")),
          10_000,
          `${serf.name} sees three alive members`
        )
      }
      const n = 3
      const bound = lifeguardBoundMillis(n, "lan")
      ours.process.kill("SIGKILL")
      const killedAt = Date.now()
      const detectedAt: Array<number> = []
      // both serf agents, polled side by side: each records when it first reports `failed`
      yield* Effect.forEach(
        [s1, s2],
        (serf) =>
          eventually(
            Effect.map(statusIn(serf, "ck-ours"), (s) => s === "failed"),
            bound + 10_000,
            `${serf.name}: ck-ours failed`
          ).pipe(Effect.tap(() => Effect.sync(() => detectedAt.push(Date.now() - killedAt)))),
        { concurrency: "unbounded", discard: true }
      )
      const [first, last] = [Math.min(...detectedAt), Math.max(...detectedAt)]
      console.log(
        `[measured] SIGKILL → serf reports failed: first ${(first / 1000).toFixed(2)} s, ` +
          `both ${(last / 1000).toFixed(2)} s (Lifeguard bound for n=${n}, lan: ${(bound / 1000).toFixed(1)} s)`
      )
      assert.isAtMost(last, bound)
      // a crash is a failure, never a leave
      for (const serf of [s1, s2]) assert.notInclude(serf.logs(), "EventMemberLeave: ck-ours")
    })), 60_000)
})
