/**
 * Every program in `examples/` runs as a newcomer would run it (`node
 * examples/<file>.ts`, here with the Node running vitest), exits 0 within its
 * time bound and prints what it promises. All examples bind 127.0.0.1 port 0
 * or use the simulated network, so they run side by side.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, type Duration, Effect, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

interface Run {
  readonly exitCode: number
  readonly output: string
  readonly millis: number
}

/**
 * Runs `examples/<file>` to completion and collects stdout and stderr. It is
 * killed (and the test fails) after `limit`: an example must end by itself.
 */
const runExample = (file: string, limit: Duration.Input = "60 seconds") =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const handle = yield* spawner.spawn(
      ChildProcess.make(process.execPath, [`examples/${file}`], { cwd: root, extendEnv: true })
    )
    const output = yield* handle.all.pipe(Stream.decodeText(), Stream.mkString)
    const exitCode = yield* handle.exitCode
    const run: Run = { exitCode: Number(exitCode), output, millis: (yield* Clock.currentTimeMillis) - start }
    return run
  }).pipe(
    Effect.scoped, // closing the scope kills the process if it is still running
    Effect.timeout(limit),
    Effect.provide(NodeServices.layer)
  )

/** Asserts a clean exit, showing the output when it was not. */
const assertOk = (file: string, run: Run) =>
  assert.strictEqual(run.exitCode, 0, `${file} exited with ${run.exitCode}:\n${run.output}`)

const includes = (run: Run, text: string | RegExp) =>
  assert.isTrue(
    typeof text === "string" ? run.output.includes(text) : text.test(run.output),
    `expected ${String(text)} in:\n${run.output}`
  )

describe.concurrent("examples", () => {
  it.live("demo.ts tells the story: node-3 suspect then dead, node-5 left, node-6 joined", () =>
    Effect.gen(function*() {
      const run = yield* runExample("demo.ts")
      assertOk("demo.ts", run)
      assert.isBelow(run.millis, 45_000, "the demo should end within 45 s")
      // stdout is a pipe here: plain text, no colors or cursor moves
      assert.notInclude(run.output, "\x1b[", "no escape codes when stdout is not a terminal")
      const row = (name: string, state: string) => new RegExp(`^  ${name}\\s+127\\.0\\.0\\.1:\\d+\\s+${state}\\s`, "m")
      const at = (pattern: RegExp) => run.output.search(pattern)
      for (let i = 1; i <= 5; i++) includes(run, row(`node-${i}`, "alive"))
      assert.isAbove(at(row("node-3", "suspect")), at(/Step 3\/5/), "node-3 shown suspect after the crash")
      assert.isAbove(at(row("node-3", "dead")), at(row("node-3", "suspect")), "then dead")
      assert.isAbove(at(row("node-5", "left")), at(/Step 4\/5/), "node-5 shown left after it left")
      assert.isAbove(at(row("node-6", "alive")), at(/Step 5\/5/), "node-6 shown alive after it joined")
      includes(run, /node-1 reports: node-3 suspected by node-\d/)
      includes(run, /node-1 reports: node-3 failed: declared dead by node-\d/)
      includes(run, "node-1 reports: node-5 left gracefully")
      includes(run, /node-1 reports: node-6 joined \(127\.0\.0\.1:\d+, role=web\)/)
      assert.notMatch(run.output, /node-5 (suspected|failed)/, "a graceful leave is never taken for a failure")
      includes(run, /All nodes stopped after \d+\.\d s\./)
    }), 70_000)

  it.live("basic.ts: three nodes see each other's typed roles, a greeting arrives, then c leaves", () =>
    Effect.gen(function*() {
      const run = yield* runExample("basic.ts")
      assertOk("basic.ts", run)
      for (const name of ["a", "b", "c"]) {
        includes(run, `${name} sees 3 members: a (api) alive, b (worker) alive, c (worker) alive`)
      }
      includes(run, `b got "hello from a" from a`)
      includes(run, `c got "hello from a" from a`)
      includes(run, "c left; a sees: a alive, b alive, c left")
    }), 70_000)

  it.live("events.ts: every kind of event it promises, matched on _tag", () =>
    Effect.gen(function*() {
      const run = yield* runExample("events.ts")
      assertOk("events.ts", run)
      includes(run, "a: JOINED    b")
      includes(run, "a: JOINED    d")
      includes(run, `a: UPDATED   c: metadata is now "zone=3"`)
      includes(run, /a: SUSPECTED b, by [acd]/)
      includes(run, /a: FAILED    b, declared dead by [acd]/)
      includes(run, "a: LEFT      d")
      includes(run, "a: REAPED    b (was dead)")
      includes(run, "a: REAPED    d (was left)")
      includes(run, "done: a lists a (zone=1), c (zone=3)")
    }), 70_000)

  it.live("user-messages.ts: topic values arrive typed; rpc answers, fails and streams; errors are typed", () =>
    Effect.gen(function*() {
      const run = yield* runExample("user-messages.ts")
      assertOk("user-messages.ts", run)
      includes(run, `b got "hello, everyone" (15 chars) from a, broadcast`)
      includes(run, `c got "hello, everyone" (15 chars) from a, broadcast`)
      includes(run, `c got "psst, c" (7 chars) from b, direct`)
      includes(run, /a got "x{40}" \(3000 chars\) from c, direct/)
      includes(run, "b calls a: a says hello to b")
      includes(run, "b calls a for mallory: Unwelcome (mallory)")
      includes(run, "b streams a countdown from a: 3, 2, 1, 0")
      includes(run, "a to zed: TopicError UnknownNode")
      includes(run, "a publishes 2000 chars: TopicError TooLarge")
      includes(run, "b calls zed: GossipRpcError UnknownMember")
    }), 70_000)

  it.live("kv-store.ts: every replica prints the same map, the late joiner's pulled by rpc", () =>
    Effect.gen(function*() {
      const run = yield* runExample("kv-store.ts")
      assertOk("kv-store.ts", run)
      const maps = ["n1", "n2", "n3", "n4", "n5"].map((n) => new RegExp(`^${n}: (\\{.*\\})$`, "m").exec(run.output)?.[1])
      assert.isDefined(maps[0], run.output)
      for (const map of maps) assert.strictEqual(map, maps[0])
      // the later write and the tie-break by writer name won everywhere
      assert.match(maps[0]!, /color=blue .*owner=bob .*size=XL /)
      includes(run, "n5 joined late and pulled 3 entries from n2 with an rpc call")
      includes(run, "all 5 replicas are identical")
    }), 70_000)

  it.live("leader-election.ts: alpha leads, bravo takes over after the crash, echo after joining", () =>
    Effect.gen(function*() {
      const run = yield* runExample("leader-election.ts")
      assertOk("leader-election.ts", run)
      includes(run, "-- all of alpha, bravo, charlie, delta follow alpha")
      includes(run, "-- all of bravo, charlie, delta follow bravo")
      includes(run, "-- all of bravo, charlie, delta, echo follow echo")
      includes(run, /delta's view: alpha\(30\) dead/)
    }), 70_000)

  it.live("cluster-entities.ts: a failed runner's shards move to the survivors; gossip sees a freeze as fast as a crash", () =>
    Effect.gen(function*() {
      const run = yield* runExample("cluster-entities.ts")
      assertOk("cluster-entities.ts", run)
      assert.isBelow(run.millis, 30_000, "the example should end within 30 s")
      const kinds = ["gossip/crash", "gossip/freeze", "ping/crash", "ping/freeze"]
      for (const kind of kinds) includes(run, new RegExp(`^\\[.*\\] ${kind}\\s+counter-1=1@[abc] .*counter-12=1@[abc] `, "m"))
      const crashed = /crashing gossip-crash-([abc]) and ping-crash-([abc]): their ports now refuse connections/.exec(run.output)
      const frozen = /freezing gossip-freeze-([abc]) and ping-freeze-([abc]): their connections stay open/.exec(run.output)
      assert.isNotNull(crashed, run.output)
      assert.isNotNull(frozen, run.output)
      // The shards moved, and the failed runner's counters answer from a survivor, from 1 again.
      const victims: Record<string, string> = { "gossip/crash": crashed![1]!, "gossip/freeze": frozen![1]!, "ping/crash": crashed![2]! }
      for (const [kind, victim] of Object.entries(victims)) {
        const moved = new RegExp(`${kind}: \\d+ shards moved to the survivors [\\d.]+ s after the failure; (.*)$`, "m").exec(run.output)
        assert.isNotNull(moved, `${kind} moved:\n${run.output}`)
        assert.match(moved![1]!, /^(counter-\d+=1@[abc] ?)+$/)
        assert.notInclude(moved![1]!, `@${victim}`, `${kind}: no counter answers from the failed runner`)
      }
      // The table: gossip within its detection bound for both failures (a probe round, the
      // confirmation's round, the 3 s suspicion and 1 s of sharding intervals, plus slack);
      // layerPing fast on refused pings, not within the example's wait on unanswered ones.
      const gossip = /GossipRunnerHealth .*\)\s+([\d.]+) s\s+([\d.]+) s/.exec(run.output)
      const ping = /RunnerHealth\.layerPing .*\)\s+([\d.]+) s\s+> 12 s/.exec(run.output)
      assert.isNotNull(gossip, run.output)
      assert.isNotNull(ping, run.output)
      for (const cell of [gossip![1]!, gossip![2]!]) assert.isAtMost(Number(cell), 10)
    }), 70_000)

  it.live("simulation.ts: converges, splits, heals, and two runs print the same thing", () =>
    Effect.gen(function*() {
      const [first, second] = yield* Effect.all([runExample("simulation.ts"), runExample("simulation.ts")], {
        concurrency: 2
      })
      assertOk("simulation.ts", first)
      includes(first, "converged: every node sees 20 alive members")
      includes(first, "each side has declared the other dead")
      includes(first, "converged again: every node sees 20 alive members")
      assert.strictEqual(second.output, first.output, "a seeded run under TestClock is repeatable")
    }), 70_000)
})
