/**
 * serf's user events, queries, internal queries and key management between
 * `gossip agent` (child processes, from the sources) and real serf agents, on
 * 127.0.67.x:
 *
 * - `gossip event` reaches serf's event handlers once; `serf event` shows in `gossip monitor`;
 * - `gossip query` collects serf's acks and handler responses (with node and tag filters);
 *   `serf query` and `serf reachability` (`_serf_ping`) count our agent's acks;
 * - a serf agent started with a name already taken asks `_serf_conflict`, and our answer counts;
 * - a full key rotation in an encrypted mixed cluster, through `serf keys` and `gossip keys`,
 *   changes every keyring and keyring file with no member ever suspected or failed;
 * - malformed serf messages are counted and dropped; bad flags are usage errors.
 *
 * Skipped when there is no working `serf` (failed instead under `GOSSIP_REQUIRE_SERF=1`).
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createSocket } from "node:dgram"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { makeMemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import { user } from "../../src/protocol/Messages.ts"
import type { SerfAgent } from "./serf.ts"
import { describeWithSerf, eventually, freePort, serfCli, spawnScoped, startSerf } from "./serf.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const ENTRY = `${ROOT}src/cli.ts`
const ip = (x: number) => `127.0.67.${x}`

const K1 = Buffer.alloc(32, 0x11).toString("base64")
const K2 = Buffer.alloc(32, 0x22).toString("base64")

interface OurAgent {
  readonly name: string
  readonly address: string
  readonly ctl: string
  readonly process: ChildProcess
  readonly output: () => string
}

/** Starts `gossip agent` with JSON logs and a control endpoint; SIGKILLed at scope close. Ready once joined. */
const startOurs = (options: {
  readonly name: string
  readonly ip: string
  readonly join: ReadonlyArray<string>
  readonly args?: ReadonlyArray<string>
}): Effect.Effect<OurAgent, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* freePort(options.ip)
    const address = `${options.ip}:${port}`
    const ctl = `${options.ip}:${yield* freePort(options.ip, [port])}`
    const { child, output } = yield* spawnScoped(process.execPath, [
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
      ...options.join.flatMap((j) => ["--join", j]),
      ...(options.args ?? [])
    ])
    const ready = options.join.length > 0 ? `"msg":"joined"` : `"msg":"agent started"`
    yield* eventually(
      Effect.sync(() => {
        if (child.exitCode !== null) throw new Error(`gossip agent ${options.name} exited\n${output()}`)
        return output().includes(ready)
      }),
      20_000,
      `gossip agent ${options.name} ready`
    )
    return { name: options.name, address, ctl, process: child, output }
  })

/** Runs a short-lived `gossip` command to completion (killed after 30 s: the machine may be busy). */
const gossip = (args: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT })
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

type Record_ = Readonly<Record<string, unknown>>

/** `gossip monitor --format json` on `agent` at `level`, running until the scope closes; its records so far. */
const monitor = (agent: OurAgent, level = "info") =>
  Effect.gen(function*() {
    const { child, output } = yield* spawnScoped(process.execPath, [
      ENTRY,
      "monitor",
      "--ctl",
      agent.ctl,
      "--format",
      "json",
      "--log-level",
      level
    ])
    const records = (): ReadonlyArray<Record_> =>
      output().split("\n").flatMap((line) => {
        try {
          const v: unknown = JSON.parse(line)
          return typeof v === "object" && v !== null ? [v as Record_] : []
        } catch {
          return []
        }
      })
    yield* eventually(
      Effect.sync(() => {
        if (child.exitCode !== null) throw new Error(`gossip monitor exited\n${output()}`)
        return records().some((r) => r.msg === "monitor attached")
      }),
      15_000,
      "gossip monitor attached"
    )
    return records
  })

/** A serf event handler that logs every event as `event|user event|query|payload` and answers queries. */
const handlerScript = (dir: string): { readonly script: string; readonly lines: () => ReadonlyArray<string> } => {
  const log = join(dir, "events.log")
  const script = join(dir, "handler.sh")
  writeFileSync(log, "")
  writeFileSync(
    script,
    [
      "#!/bin/sh",
      "payload=$(cat)",
      `printf '%s|%s|%s|%s|%s\\n' "$SERF_SELF_NAME" "$SERF_EVENT" "$SERF_USER_EVENT" "$SERF_QUERY_NAME" "$payload" >> '${log}'`,
      `if [ "$SERF_EVENT" = "query" ]; then printf 'answer-from-%s\\n' "$SERF_SELF_NAME"; fi`,
      ""
    ].join("\n"),
    { mode: 0o755 }
  )
  return { script, lines: () => readFileSync(log, "utf8").split("\n").filter((l) => l !== "") }
}

const countLines = (lines: ReadonlyArray<string>, prefix: string) => lines.filter((l) => l.startsWith(prefix)).length

const serfJson = (args: ReadonlyArray<string>) =>
  Effect.map(serfCli([args[0]!, "-format=json", ...args.slice(1)], 20_000), (r) => {
    assert.strictEqual(r.status, 0, `serf ${args.join(" ")}: ${r.stdout}${r.stderr}`)
    return JSON.parse(r.stdout) as { Acks: ReadonlyArray<string> | null; Responses: Record<string, string> | null }
  })

const allAlive = (serf: SerfAgent, n: number) =>
  Effect.map(serf.members, (ms) => ms.length === n && ms.every((m) => m.status === "alive"))

const ourMembers = (agent: OurAgent) =>
  Effect.promise(async () =>
    (await (await fetch(`http://${agent.ctl}/v1/members`)).json()) as ReadonlyArray<{ name: string; state: string }>
  )

/** `POST /v1/query` on the agent: the acks and responses its NDJSON stream reported, and whether it ended with `done`. */
const queryVia = (agent: OurAgent, body: Readonly<Record<string, unknown>>) =>
  Effect.promise(async () => {
    const response = await fetch(`http://${agent.ctl}/v1/query`, { method: "POST", body: JSON.stringify(body) })
    const lines = (await response.text()).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record_)
    const acks = lines.filter((l) => l.type === "ack").map((l) => l.from as string)
    const responses = Object.fromEntries(
      lines.filter((l) => l.type === "response").map((l) => [l.from as string, l.payload as string])
    )
    return { acks, responses, done: lines.at(-1)?.type === "done" }
  })

const ourSerfStats = (agent: OurAgent) =>
  Effect.promise(async () => (await (await fetch(`http://${agent.ctl}/v1/serf`)).json()) as Record<string, number>)

describeWithSerf("serf events, queries and keys with gossip agent", () => {
  it.live("user events both ways: serf's handlers get ours once, gossip monitor shows serf's", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "gossip-events-"))
      const handler = handlerScript(dir)
      const s1 = yield* startSerf({ name: "ev-s1", ip: ip(1), args: [`-event-handler=${handler.script}`] })
      const s2 = yield* startSerf({ name: "ev-s2", ip: ip(2), join: [s1.address], args: [`-event-handler=${handler.script}`] })
      const g1 = yield* startOurs({ name: "ev-g1", ip: ip(3), join: [s1.address] })
      for (const s of [s1, s2]) yield* eventually(allAlive(s, 3), 15_000, `${s.name} sees 3 alive`)
      const records = yield* monitor(g1)

      // ours → serf: every serf agent runs its handler, once
      const sent = yield* gossip(["event", "--ctl", g1.ctl, "deploy", "v42", "--coalesce=false"])
      assert.strictEqual(sent.code, 0, sent.stderr)
      assert.include(sent.stdout, "Event 'deploy' dispatched! Coalescing enabled: false")
      yield* eventually(
        Effect.sync(() => ["ev-s1", "ev-s2"].every((n) => countLines(handler.lines(), `${n}|user|deploy||v42`) === 1)),
        15_000,
        "both serf handlers ran for deploy"
      )
      // serf's monitor (its agent log) shows it
      for (const s of [s1, s2]) assert.include(s.logs(), "Received event: user-event: deploy")
      // a coalescing event (serf delivers it after its coalesce period) as a sentinel: once it
      // arrived, the first one has had every chance to be delivered twice
      assert.strictEqual((yield* gossip(["event", "--ctl", g1.ctl, "sentinel"])).code, 0)
      yield* eventually(
        Effect.sync(() => ["ev-s1", "ev-s2"].every((n) => countLines(handler.lines(), `${n}|user|sentinel|`) === 1)),
        20_000,
        "both serf handlers ran for sentinel"
      )
      for (const n of ["ev-s1", "ev-s2"]) assert.strictEqual(countLines(handler.lines(), `${n}|user|deploy|`), 1)

      // serf → ours: the agent's monitor shows the event with its payload
      const r = yield* serfCli(["event", `-rpc-addr=${s2.rpc}`, "hello", "from serf"])
      assert.strictEqual(r.status, 0, r.stderr)
      yield* eventually(
        Effect.sync(() =>
          records().some((rec) =>
            rec.msg === "user event" && rec.name === "hello" && rec.payload === "from serf" && rec.coalesce === true
          )
        ),
        15_000,
        `gossip monitor shows serf's event\n${JSON.stringify(records())}`
      )
      // and our own event too, once
      assert.strictEqual(records().filter((rec) => rec.msg === "user event" && rec.name === "deploy").length, 1)
      const stats = yield* ourSerfStats(g1)
      assert.strictEqual(stats.eventsSent, 2)
      assert.isAtLeast(stats.eventsReceived, 1)
      assert.isAtLeast(stats.eventClock, 4)
    })), 60_000)

  it.live("queries both ways: acks and responses, filters, serf query and serf reachability list our agent", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "gossip-queries-"))
      const handler = handlerScript(dir)
      const s1 = yield* startSerf({
        name: "q-s1",
        ip: ip(11),
        tags: { role: "serf-a" },
        args: [`-event-handler=${handler.script}`]
      })
      const s2 = yield* startSerf({
        name: "q-s2",
        ip: ip(12),
        join: [s1.address],
        tags: { role: "serf-b" },
        args: [`-event-handler=${handler.script}`]
      })
      const g1 = yield* startOurs({ name: "q-g1", ip: ip(13), join: [s1.address], args: ["--tag", "role=ours"] })
      for (const s of [s1, s2]) yield* eventually(allAlive(s, 3), 15_000, `${s.name} sees 3 alive`)
      const records = yield* monitor(g1, "debug")

      // ours → everyone: three acks (ours included), two handler responses; and filtered asks, at once
      // (two through the `gossip query` command, the others straight to the agent's endpoint)
      const [json, text, tagged, ours, ping] = yield* Effect.all([
        gossip(["query", "--ctl", g1.ctl, "whoami", "q1", "--timeout", "2s", "--format", "json"]),
        // text, filtered by node: only that node acks and answers
        gossip(["query", "--ctl", g1.ctl, "whoami", "--node", "q-s2", "--timeout", "1500ms"]),
        // filtered by tag (each member evaluates the expression on its own tags)
        queryVia(g1, { name: "whoami", timeoutMillis: 1500, tags: { role: "^serf-a$" } }),
        queryVia(g1, { name: "whoami", timeoutMillis: 1500, tags: { role: "our" } }),
        // serf's ping, from our side
        queryVia(g1, { name: "_serf_ping", timeoutMillis: 1500 })
      ], { concurrency: "unbounded" })
      assert.strictEqual(json.code, 0, json.stderr)
      const answers = JSON.parse(json.stdout) as { Acks: ReadonlyArray<string>; Responses: Record<string, string> }
      assert.sameMembers([...answers.Acks], ["q-s1", "q-s2", "q-g1"])
      assert.deepStrictEqual(answers.Responses, { "q-s1": "answer-from-q-s1\n", "q-s2": "answer-from-q-s2\n" })
      assert.strictEqual(countLines(handler.lines(), "q-s1|query||whoami|q1"), 1)

      assert.strictEqual(text.code, 0, text.stderr)
      assert.include(text.stdout, "Query 'whoami' dispatched")
      assert.include(text.stdout, "Ack from 'q-s2'")
      assert.include(text.stdout, "Response from 'q-s2': answer-from-q-s2\n")
      assert.include(text.stdout, "Total Acks: 1\nTotal Responses: 1")
      assert.notInclude(text.stdout, "q-s1")

      assert.deepStrictEqual(tagged, { acks: ["q-s1"], responses: { "q-s1": "answer-from-q-s1\n" }, done: true })
      assert.deepStrictEqual(ours, { acks: ["q-g1"], responses: {}, done: true })
      assert.sameMembers([...ping.acks], ["q-s1", "q-s2", "q-g1"])
      assert.deepStrictEqual(ping.responses, {})

      // serf → everyone: serf lists our ack; our monitor shows the query. serf → only us, by name and by tag.
      const [fromSerf, onlyUs, byTag, reach] = yield* Effect.all([
        serfJson(["query", `-rpc-addr=${s1.rpc}`, "-timeout=2s", "ask", "data"]),
        serfJson(["query", `-rpc-addr=${s2.rpc}`, "-timeout=1500ms", "-node=q-g1", "ask"]),
        serfJson(["query", `-rpc-addr=${s2.rpc}`, "-timeout=1500ms", "-tag=role=^ours$", "ask"]),
        // _serf_ping: serf's reachability test counts our ack
        serfCli(["reachability", `-rpc-addr=${s2.rpc}`], 20_000)
      ], { concurrency: "unbounded" })
      assert.sameMembers([...(fromSerf.Acks ?? [])], ["q-s1", "q-s2", "q-g1"])
      yield* eventually(
        Effect.sync(() => records().some((r) => r.msg === "query" && r.name === "ask" && r.payload === "data" && r.from === "q-s1")),
        10_000,
        "gossip monitor shows serf's query"
      )
      assert.deepStrictEqual(onlyUs.Acks, ["q-g1"])
      assert.deepStrictEqual(byTag.Acks, ["q-g1"])
      assert.strictEqual(reach.status, 0, reach.stdout + reach.stderr)
      assert.include(reach.stdout, "Successfully contacted all live nodes")
      yield* eventually(
        Effect.sync(() => records().some((r) => r.msg === "internal query" && r.name === "_serf_ping")),
        10_000,
        "gossip monitor --log-level debug shows _serf_ping"
      )
    })), 60_000)

  it.live("a serf agent starting with a taken name asks _serf_conflict; our agent's answer is counted", () =>
    Effect.scoped(Effect.gen(function*() {
      const s1 = yield* startSerf({ name: "cf-s1", ip: ip(21) })
      const g1 = yield* startOurs({ name: "cf-g1", ip: ip(22), join: [s1.address] })
      yield* eventually(allAlive(s1, 2), 15_000, "cf-s1 sees 2 alive")
      // a second "cf-s1", joining through our agent: it learns the name is taken and asks the others
      const dup = yield* startSerf({ name: "cf-s1", ip: ip(23), join: [g1.address] })
      yield* eventually(
        Effect.sync(() => /name conflict resolution[^\n]*\[\d+ \/ 1\]/.test(dup.logs())),
        20_000,
        `the duplicate counts one answer (ours)\n${dup.logs()}`
      )
      assert.notInclude(dup.logs(), "Failed to decode conflict query response")
      assert.notInclude(dup.logs(), "Invalid conflict query response type")
      // our agent is unharmed and still sees the original
      const members = yield* ourMembers(g1)
      assert.strictEqual(members.find((m) => m.name === "cf-s1")?.state, "alive")
    })), 60_000)

  it.live("key rotation in an encrypted mixed cluster through serf keys and gossip keys: keyrings and keyring files, 0 failures", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "gossip-keys-"))
      const serfKeyring = join(dir, "s1.keyring")
      writeFileSync(serfKeyring, JSON.stringify([K1]))
      const s1 = yield* startSerf({ name: "k-s1", ip: ip(31), args: [`-keyring-file=${serfKeyring}`] })
      const s2 = yield* startSerf({ name: "k-s2", ip: ip(32), join: [s1.address], encrypt: K1 })
      const files = [join(dir, "g1.keyring"), join(dir, "g2.keyring")]
      const g1 = yield* startOurs({
        name: "k-g1",
        ip: ip(33),
        join: [s1.address],
        args: ["--encrypt", K1, "--keyring-file", files[0]!]
      })
      const g2 = yield* startOurs({
        name: "k-g2",
        ip: ip(34),
        join: [s2.address],
        args: ["--encrypt", K1, "--keyring-file", files[1]!]
      })
      for (const s of [s1, s2]) yield* eventually(allAlive(s, 4), 15_000, `${s.name} sees 4 alive`)
      const keyringFile = (path: string) => JSON.parse(readFileSync(path, "utf8")) as ReadonlyArray<string>
      for (const f of files) assert.deepStrictEqual(keyringFile(f), [K1], "created from --encrypt")

      // Watch every member's view for the whole rotation: any member not alive is a false failure.
      const sightings: Array<string> = []
      const watch = Effect.gen(function*() {
        while (true) {
          for (const s of [s1, s2]) {
            for (const m of yield* s.members) if (m.status !== "alive") sightings.push(`${s.name}: ${m.name} ${m.status}`)
          }
          for (const g of [g1, g2]) {
            for (const m of yield* ourMembers(g)) if (m.state !== "alive") sightings.push(`${g.name}: ${m.name} ${m.state}`)
          }
          yield* Effect.sleep(100)
        }
      })
      yield* Effect.forkScoped(watch)

      // 1. install K2 from serf: our agents install it and write it to their files
      const install = yield* serfCli(["keys", `-install=${K2}`, `-rpc-addr=${s1.rpc}`], 20_000)
      assert.strictEqual(install.status, 0, install.stdout + install.stderr)
      assert.include(install.stdout, "Successfully installed key!")
      for (const f of files) assert.deepStrictEqual(keyringFile(f), [K1, K2])
      // a few gossip rounds on the new keyring before switching (procedure, not an assertion)
      yield* Effect.sleep(1000)

      // 2. use K2 from our side: every serf agent switches too
      const use = yield* gossip(["keys", "--ctl", g1.ctl, "--use", K2])
      assert.strictEqual(use.code, 0, use.stdout + use.stderr)
      assert.include(use.stdout, "Successfully changed primary key!")
      for (const f of files) assert.deepStrictEqual(keyringFile(f), [K2, K1])
      assert.deepStrictEqual(keyringFile(serfKeyring), [K2, K1], "serf's own keyring file")
      yield* Effect.sleep(1000)

      // 3. remove K1 from serf
      const remove = yield* serfCli(["keys", `-remove=${K1}`, `-rpc-addr=${s2.rpc}`], 20_000)
      assert.strictEqual(remove.status, 0, remove.stdout + remove.stderr)
      for (const f of files) assert.deepStrictEqual(keyringFile(f), [K2])

      // 4. list from our side: one key, primary everywhere
      const list = yield* gossip(["keys", "--ctl", g2.ctl, "--list", "--format", "json"])
      assert.strictEqual(list.code, 0, list.stdout + list.stderr)
      const listed = JSON.parse(list.stdout) as { numNodes: number; numResp: number; numErr: number; keys: object; primaryKeys: object }
      assert.deepInclude(listed, { numNodes: 4, numResp: 4, numErr: 0, keys: { [K2]: 4 }, primaryKeys: { [K2]: 4 } })
      const serfList = yield* serfCli(["keys", "-list", `-rpc-addr=${s1.rpc}`], 20_000)
      assert.strictEqual(serfList.status, 0, serfList.stdout + serfList.stderr)
      assert.match(serfList.stdout, new RegExp(`${K2.replace(/[+/]/g, "\\$&")}\\s+\\[4/4\\]`))
      assert.notInclude(serfList.stdout, K1)

      // 5. a refused operation: every member refuses to remove its primary key
      const refused = yield* gossip(["keys", "--ctl", g1.ctl, "--remove", K2])
      assert.strictEqual(refused.code, 1, refused.stdout + refused.stderr)
      for (const n of ["k-s1", "k-s2", "k-g1", "k-g2"]) {
        assert.match(refused.stdout, new RegExp(`failed:\\s+${n}\\s+Removing the primary key is not allowed`))
      }
      assert.include(refused.stderr, "4/4 nodes reported failure")

      // traffic still flows on K2, and nobody was ever suspected or failed
      assert.strictEqual((yield* gossip(["event", "--ctl", g2.ctl, "after-rotation", "--coalesce=false"])).code, 0)
      yield* eventually(
        Effect.sync(() => [s1, s2].every((s) => s.logs().includes("Received event: user-event: after-rotation"))),
        15_000,
        "serf agents get an event after the rotation"
      )
      assert.deepStrictEqual(sightings, [])
      for (const s of [s1, s2]) {
        assert.notInclude(s.logs(), "EventMemberFailed")
        assert.notInclude(s.logs(), "Suspect")
      }
    })), 60_000)

  it.live("malformed serf messages are counted and dropped; bad flags and bad requests are refused", () =>
    Effect.scoped(Effect.gen(function*() {
      const s1 = yield* startSerf({ name: "bad-s1", ip: ip(41) })
      const g1 = yield* startOurs({ name: "bad-g1", ip: ip(42), join: [s1.address] })
      const codec = makeMemberlistCodec({ compression: false })
      const garbage = [
        new Uint8Array([3]), // a user event with no body
        new Uint8Array([4, 0x81, 0xa2, 0x49, 0x44]), // a truncated query
        new Uint8Array([5, 0xc1]), // a response that is not msgpack
        new Uint8Array([9, 0x80]), // a relay header with nothing to relay
        Uint8Array.from([4, ...Buffer.from("not msgpack at all")])
      ]
      const socket = createSocket("udp4")
      const [host, port] = [ip(42), Number(g1.address.split(":")[1])]
      yield* Effect.promise(() =>
        Promise.all(garbage.map((payload) =>
          new Promise<void>((resolve) =>
            socket.send(codec.encodePacket([codec.encodeMessage(user(payload))], { checksum: false }), port, host, () =>
              resolve())
          )
        ))
      )
      socket.close()
      yield* eventually(
        Effect.map(ourSerfStats(g1), (s) => s.malformed >= garbage.length),
        10_000,
        "the malformed messages were counted"
      )
      assert.isNull(g1.process.exitCode, "the agent is still running")
      yield* eventually(allAlive(s1, 2), 10_000, "and still a member")

      // refused by the agent: too large (serf's limit), clear message, exit code 1; usage errors
      // (a bad value, a missing argument, no key operation): the error and the usage, with the exit
      // code src/cli gives usage errors (2)
      // (every flag's checks are unit-tested in test/serf/Commands.test.ts)
      const [reference, big, ...usage] = yield* Effect.all([
        // what src/cli does with a flag that does not parse: the usage exit code of every command
        gossip(["agent", "--profile", "nope"]),
        gossip(["event", "--ctl", g1.ctl, "big", "x".repeat(600)]),
        gossip(["keys", "--ctl", g1.ctl]),
        gossip(["query", "--ctl", g1.ctl, "q", "--timeout", "soon"]),
        gossip(["event", "--ctl", g1.ctl])
      ], { concurrency: 2 })
      assert.strictEqual(big!.code, 1)
      assert.include(big!.stderr, "user event exceeds configured limit of 512 bytes")
      assert.notStrictEqual(reference!.code, 0)
      assert.notStrictEqual(reference!.code, null)
      for (const r of usage) {
        assert.strictEqual(r.code, reference!.code, r.stdout + r.stderr)
        assert.include(r.stdout + r.stderr, "USAGE")
      }
    })), 60_000)
})
