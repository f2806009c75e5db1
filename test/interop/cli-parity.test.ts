/**
 * serf parity of the `gossip` command, against real serf agents on
 * 127.0.62.x: `gossip members` filters and `--detailed` in a mixed cluster,
 * `gossip info`, `join`, `force-leave` (with `--prune`) and `leave` as serf
 * agents see them, restarts from `--snapshot` (without `--join`, and with
 * `--rejoin` after a graceful leave), a corrupt snapshot, and `--retry-join`
 * until a seed appears. Our agents run from the sources as child processes.
 * Skipped without a working `serf` binary (failed instead under
 * `GOSSIP_REQUIRE_SERF=1`).
 */
import { assert, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { fileURLToPath } from "node:url"
import { memberFilter, type MemberFilters } from "../../src/cli/MemberFilter.ts"
import { type MemberInfo, MemberInfoList } from "../../src/cli/MemberInfo.ts"
import { decodeSnapshot } from "../../src/cli/Snapshot.ts"
import type { SerfAgent } from "./serf.ts"
import { describeWithSerf, eventually, freePort, spawnScoped, startSerf } from "./serf.ts"

const ENTRY = fileURLToPath(new URL("../../src/cli.ts", import.meta.url))

type Record_ = Readonly<Record<string, unknown>>

interface OurAgent {
  readonly name: string
  readonly address: string
  readonly ctl: string
  readonly process: ChildProcess
  readonly output: () => string
  readonly records: () => ReadonlyArray<Record_>
  /** Waits until a log record satisfies `match`. */
  readonly waitFor: (match: (r: Record_) => boolean, what: string, timeoutMillis?: number) => Effect.Effect<void, Error>
  readonly exited: Effect.Effect<number | null, Error>
}

interface OurOptions {
  readonly name: string
  readonly ip: string
  /** Reuse an address (a restart); a free port otherwise. */
  readonly port?: number
  readonly join?: ReadonlyArray<string>
  readonly tags?: Readonly<Record<string, string>>
  readonly args?: ReadonlyArray<string>
}

const parse = (line: string): Record_ | undefined => {
  try {
    const value: unknown = JSON.parse(line)
    return typeof value === "object" && value !== null ? value as Record_ : undefined
  } catch {
    return undefined
  }
}

/** Starts `gossip agent` with JSON logs and a control endpoint; waits for "agent started"; SIGKILLed at scope close. */
const startOurs = (options: OurOptions): Effect.Effect<OurAgent, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const port = options.port ?? (yield* freePort(options.ip))
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
      "--log-format",
      "json",
      ...(options.join ?? []).flatMap((j) => ["--join", j]),
      ...Object.entries(options.tags ?? {}).flatMap(([k, v]) => ["--tag", `${k}=${v}`]),
      ...(options.args ?? [])
    ]
    const { child, output } = yield* spawnScoped(process.execPath, args)
    const records = () => output().split("\n").flatMap((l) => {
      const r = parse(l)
      return r === undefined ? [] : [r]
    })
    const waitFor = (match: (r: Record_) => boolean, what: string, timeoutMillis = 20_000) =>
      eventually(
        Effect.sync(() => {
          if (records().some(match)) return true
          if (child.exitCode !== null) throw new Error(`${options.name} exited: ${what}\n${output()}`)
          return false
        }),
        timeoutMillis,
        `${options.name}: ${what}\n${output()}`
      ).pipe(Effect.asVoid)
    const exited = Effect.promise(() =>
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve(child.exitCode)
        : new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    ).pipe(Effect.timeoutOrElse({ duration: 20_000, orElse: () => Effect.fail(new Error(`did not exit\n${output()}`)) }))
    yield* waitFor((r) => r.msg === "agent started", "started")
    return { name: options.name, address, ctl, process: child, output, records, waitFor, exited }
  })

/** Runs `gossip <args>` to completion (bounded). */
const gossip = (args: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d) => (stdout += d))
      child.stderr.on("data", (d) => (stderr += d))
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
      child.on("close", (code) => {
        clearTimeout(timer)
        resolve({ code, stdout, stderr })
      })
    })
  )

type Row = MemberInfo

/** `gossip members --format json` through `agent`, with extra filter arguments. */
const ourMembers = (agent: OurAgent, filters: ReadonlyArray<string> = []) =>
  Effect.flatMap(gossip(["members", "--ctl", agent.ctl, "--format", "json", ...filters]), (run) =>
    run.code === 0
      ? Effect.succeed((JSON.parse(run.stdout) as { members: ReadonlyArray<Row> }).members)
      : Effect.fail(new Error(`gossip members exited ${run.code}: ${run.stderr}`)))

const names = (rows: ReadonlyArray<Row>) => rows.map((r) => r.name).sort()

/** `agent`'s member list, from the control endpoint directly (cheap enough to poll). */
const ourRows = (agent: OurAgent) =>
  Effect.promise(async () => Schema.decodeUnknownSync(MemberInfoList)(await (await fetch(`http://${agent.ctl}/v1/members`)).json()))

/** What `agent` says of `name`'s status. */
const ourStatus = (agent: OurAgent, name: string) =>
  Effect.map(ourRows(agent), (rows) => rows.find((r) => r.name === name)?.status)

const serfStatus = (serf: SerfAgent, name: string) => Effect.map(serf.members, (ms) => ms.find((m) => m.name === name)?.status)

const until = (check: Effect.Effect<boolean, Error>, what: string, timeoutMillis = 30_000) =>
  eventually(check.pipe(Effect.orDie), timeoutMillis, what)

/** A directory for snapshots, removed when the scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(`${tmpdir()}/gossip-parity-`)),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const snapshotAt = (path: string) => {
  try {
    const decoded = decodeSnapshot(readFileSync(path, "utf8"))
    return decoded.ok ? decoded.data : undefined
  } catch {
    return undefined
  }
}

describeWithSerf("gossip commands next to serf's", () => {
  it.live("members: --status, --tag, --name, --detailed and JSON in a mixed cluster; info", () =>
    Effect.scoped(Effect.gen(function*() {
      const s1 = yield* startSerf({ name: "cp-s1", ip: "127.0.62.1", tags: { role: "db" } })
      const [g1, s2] = yield* Effect.all([
        startOurs({ name: "cp-g1", ip: "127.0.62.2", join: [s1.address], tags: { role: "web", dc: "east" } }),
        startSerf({ name: "cp-s2", ip: "127.0.62.3", join: [s1.address], tags: { role: "web", dc: "west" } })
      ], { concurrency: "unbounded" })
      yield* until(
        Effect.map(ourRows(g1), (rows) => rows.filter((r) => r.status === "alive").length === 3),
        "cp-g1 lists three alive members"
      )
      // serf and we agree on every member's tags and status
      const serfView = yield* s1.members
      for (const row of yield* ourRows(g1)) {
        const theirs = serfView.find((m) => m.name === row.name)
        assert.deepStrictEqual(row.tags, theirs?.tags, row.name)
        assert.strictEqual(row.status, theirs?.status, row.name)
      }
      // the filters, as the command applies them, on what serf agents announce
      const filtered = (filters: Partial<MemberFilters>) =>
        Effect.map(
          ourRows(g1),
          (rows) => names(rows.filter(memberFilter({ status: Option.none(), name: Option.none(), tags: [], ...filters })))
        )
      assert.deepStrictEqual(yield* filtered({ tags: [["role", "web"]] }), ["cp-g1", "cp-s2"])
      assert.deepStrictEqual(yield* filtered({ tags: [["dc", ""]] }), ["cp-s1"], "no dc tag reads as empty")
      assert.deepStrictEqual(yield* filtered({ name: Option.some("cp-s.*") }), ["cp-s1", "cp-s2"])
      assert.deepStrictEqual(yield* filtered({ name: Option.some("cp-s") }), [], "a whole-name match")
      // and through the command itself
      assert.deepStrictEqual(names(yield* ourMembers(g1, ["--tag", "role=web", "--tag", "dc=w.*"])), ["cp-s2"])
      const detailed = yield* gossip(["members", "--ctl", g1.ctl, "--detailed", "--name", "cp-s1"])
      assert.strictEqual(detailed.code, 0, detailed.stderr)
      assert.match(
        detailed.stdout.trim(),
        /^cp-s1\s+127\.0\.62\.1:\d+\s+alive\s+role=db\s+Protocol Version: 5\s+Available Protocol Range: \[2, 5\]\s+Memberlist Protocol: \d \[\d, \d\]\s+Incarnation: \d+$/
      )
      // the text layout is serf's own: the same columns as `serf members`
      const text = yield* gossip(["members", "--ctl", g1.ctl, "--name", "cp-s2"])
      assert.match(text.stdout.trim(), /^cp-s2\s+127\.0\.62\.3:\d+\s+alive\s+dc=west,role=web$/)

      const info = yield* gossip(["info", "--ctl", g1.ctl, "--format", "json"])
      assert.strictEqual(info.code, 0, info.stderr)
      const sections = JSON.parse(info.stdout)
      assert.strictEqual(sections.agent.name, "cp-g1")
      assert.deepStrictEqual(sections.tags, { role: "web", dc: "east" })
      assert.strictEqual(sections.memberlist.members, "3")
      assert.strictEqual(sections.serf.alive, "3")
      assert.match(sections.serf.member_time, /^\d+$/)

      // a crashed serf agent: failed for both
      yield* s2.kill("SIGKILL")
      yield* until(Effect.map(ourStatus(g1, "cp-s2"), (s) => s === "failed"), "cp-g1: cp-s2 failed")
      yield* until(Effect.map(serfStatus(s1, "cp-s2"), (s) => s === "failed"), "serf: cp-s2 failed")
      assert.deepStrictEqual(names(yield* ourMembers(g1, ["--status", "failed|left"])), ["cp-s2"])
    })), 60_000)

  it.live("join, force-leave (serf's and ours, then --prune) and leave, as serf agents see them", () =>
    Effect.scoped(Effect.gen(function*() {
      const s1 = yield* startSerf({ name: "cf-s1", ip: "127.0.62.4" })
      // five members: with three left alive, every suspicion is confirmed enough to end at its minimum
      const [g2, s3, g1] = yield* Effect.all([
        startOurs({ name: "cf-g2", ip: "127.0.62.6", join: [s1.address] }),
        startSerf({ name: "cf-s3", ip: "127.0.62.7", join: [s1.address] }),
        startOurs({ name: "cf-g1", ip: "127.0.62.5" }),
        startSerf({ name: "cf-s4", ip: "127.0.62.14", join: [s1.address] })
      ], { concurrency: "unbounded" })

      const joined = yield* gossip(["join", "--ctl", g1.ctl, s1.address])
      assert.strictEqual(joined.code, 0, joined.stderr)
      assert.strictEqual(joined.stdout.trim(), "Successfully joined cluster by contacting 1 nodes.")
      yield* until(Effect.map(serfStatus(s1, "cf-g1"), (s) => s === "alive"), "serf: cf-g1 alive")
      yield* until(Effect.map(ourStatus(g1, "cf-s3"), (s) => s === "alive"), "cf-g1: cf-s3 alive")

      g2.process.kill("SIGKILL")
      yield* s3.kill("SIGKILL")
      yield* until(
        Effect.map(
          Effect.all([serfStatus(s1, "cf-g2"), serfStatus(s1, "cf-s3"), ourStatus(g1, "cf-g2"), ourStatus(g1, "cf-s3")]),
          (statuses) => statuses.every((s) => s === "failed")
        ),
        "serf and cf-g1: cf-g2 and cf-s3 failed",
        40_000
      )
      for (const name of ["cf-g2", "cf-s3"]) {
        const forced = yield* gossip(["force-leave", "--ctl", g1.ctl, name])
        assert.strictEqual(forced.code, 0, forced.stderr)
        assert.strictEqual(forced.stdout, "")
        assert.strictEqual(yield* ourStatus(g1, name), "left")
        yield* until(Effect.map(serfStatus(s1, name), (s) => s === "left"), `serf: ${name} left after force-leave`)
      }
      assert.include(s1.logs(), "EventMemberLeave (forced): cf-s3")

      const pruned = yield* gossip(["force-leave", "--ctl", g1.ctl, "--prune", "cf-g2"])
      assert.strictEqual(pruned.code, 0, pruned.stderr)
      assert.isUndefined(yield* ourStatus(g1, "cf-g2"))
      yield* until(Effect.map(serfStatus(s1, "cf-g2"), (s) => s === undefined), "serf: cf-g2 erased by the prune")

      const left = yield* gossip(["leave", "--ctl", g1.ctl])
      assert.strictEqual(left.code, 0, left.stderr)
      assert.strictEqual(left.stdout.trim(), "Graceful leave complete")
      assert.strictEqual(yield* g1.exited, 0)
      yield* until(Effect.map(serfStatus(s1, "cf-g1"), (s) => s === "left"), "serf: cf-g1 left")
    })), 60_000)

  it.live("a restarted agent rejoins from its snapshot without --join; after a leave it does not", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/cr-g1.snapshot`
      const s1 = yield* startSerf({ name: "cr-s1", ip: "127.0.62.8" })
      const port = yield* freePort("127.0.62.9")
      const snapshot = ["--snapshot", path]
      const first = yield* startOurs({ name: "cr-g1", ip: "127.0.62.9", port, join: [s1.address], args: snapshot })
      yield* until(Effect.map(serfStatus(s1, "cr-g1"), (s) => s === "alive"), "serf: cr-g1 alive")
      yield* until(
        Effect.sync(() => snapshotAt(path)?.members.some((m) => m.name === "cr-s1" && m.address === s1.address) ?? false),
        "the snapshot records cr-s1"
      )

      // a crash, then a restart with no seed: the snapshot's members are rejoined
      first.process.kill("SIGKILL")
      yield* first.exited
      const second = yield* startOurs({ name: "cr-g1", ip: "127.0.62.9", port, args: snapshot })
      yield* second.waitFor((r) => r.msg === "rejoined" && r.node === "cr-s1", "rejoined cr-s1")
      yield* until(Effect.map(ourStatus(second, "cr-s1"), (s) => s === "alive"), "cr-g1: cr-s1 alive")
      yield* until(Effect.map(serfStatus(s1, "cr-g1"), (s) => s === "alive"), "serf: cr-g1 alive again")

      // a graceful leave, then a restart without --rejoin: no rejoin, as serf
      const leave = yield* gossip(["leave", "--ctl", second.ctl])
      assert.strictEqual(leave.code, 0, leave.stderr)
      assert.strictEqual(yield* second.exited, 0)
      assert.deepStrictEqual(snapshotAt(path)?.left, true)
      assert.deepStrictEqual(snapshotAt(path)?.members, [])
      assert.isAtLeast(snapshotAt(path)?.clocks.member ?? 0, 1, "the clock survives the leave")
      const third = yield* startOurs({ name: "cr-g1", ip: "127.0.62.9", port, args: snapshot })
      yield* third.waitFor((r) => String(r.msg).startsWith("snapshot restored: left gracefully"), "restored after a leave")
      // give a rejoin every chance to happen (it would start at once): none does
      yield* Effect.sleep("2 seconds")
      assert.isFalse(third.records().some((r) => r.msg === "rejoining a previously known member"), third.output())
      assert.strictEqual(yield* serfStatus(s1, "cr-g1"), "left")
      assert.deepStrictEqual(yield* Effect.map(ourMembers(third), names), ["cr-g1"])
    })), 60_000)

  it.live("--rejoin rejoins after a graceful leave; a corrupt snapshot is reported, then ignored", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/cj-g1.snapshot`
      writeFileSync(path, "alive: cj-x 127.0.0.1:1\nclock: 3\n")
      const s1 = yield* startSerf({ name: "cj-s1", ip: "127.0.62.10" })
      const port = yield* freePort("127.0.62.11")
      const args = ["--snapshot", path, "--rejoin"]
      const first = yield* startOurs({ name: "cj-g1", ip: "127.0.62.11", port, join: [s1.address], args })
      const warning = first.records().find((r) => r.msg === "snapshot ignored: corrupt")
      assert.isDefined(warning, first.output())
      assert.strictEqual(warning!.level, "warn")
      assert.isString(warning!.reason)
      yield* until(
        Effect.sync(() => snapshotAt(path)?.members.some((m) => m.name === "cj-s1") ?? false),
        "the corrupt snapshot is replaced by a valid one"
      )
      yield* until(Effect.map(serfStatus(s1, "cj-g1"), (s) => s === "alive"), "serf: cj-g1 alive")

      const leave = yield* gossip(["leave", "--ctl", first.ctl])
      assert.strictEqual(leave.code, 0, leave.stderr)
      assert.strictEqual(yield* first.exited, 0)
      yield* until(Effect.map(serfStatus(s1, "cj-g1"), (s) => s === "left"), "serf: cj-g1 left")
      assert.deepStrictEqual(snapshotAt(path)?.left, true)
      assert.deepStrictEqual(snapshotAt(path)?.members.map((m) => m.name), ["cj-s1"], "--rejoin keeps the members")

      const second = yield* startOurs({ name: "cj-g1", ip: "127.0.62.11", port, args })
      yield* second.waitFor((r) => r.msg === "rejoined" && r.node === "cj-s1", "rejoined after the leave")
      yield* until(Effect.map(serfStatus(s1, "cj-g1"), (s) => s === "alive"), "serf: cj-g1 alive after --rejoin")
    })), 60_000)

  it.live("--retry-join keeps trying until a seed appears", () =>
    Effect.scoped(Effect.gen(function*() {
      const ip = "127.0.62.12"
      const seedPort = yield* freePort(ip)
      const seed = `${ip}:${seedPort}`
      const ours = yield* startOurs({
        name: "ct-g1",
        ip: "127.0.62.13",
        args: ["--retry-join", seed, "--retry-interval", "1s"]
      })
      yield* ours.waitFor((r) => r.msg === "join failed, retrying", "a first failed attempt")
      const s1 = yield* startSerf({ name: "ct-s1", ip, args: [`-bind=${seed}`] })
      yield* ours.waitFor((r) => r.msg === "joined", "joined once the seed is up")
      const joined = ours.records().find((r) => r.msg === "joined")!
      assert.isAtLeast(Number(joined.attempt), 2)
      yield* until(Effect.map(serfStatus(s1, "ct-g1"), (s) => s === "alive"), "serf: ct-g1 alive")
      assert.strictEqual(yield* ourStatus(ours, "ct-s1"), "alive")
    })), 60_000)
})
