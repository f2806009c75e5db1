/**
 * simulation.ts: test your own cluster code on a simulated network, in virtual time.
 *
 * Run it:  ./node_modules/.bin/node examples/simulation.ts      (a few seconds)
 *
 * `SimNetwork` gives every node an ordinary `Transport`, so the code under
 * test cannot tell it from UDP/TCP, and lets you break the network: latency,
 * jitter, packet loss, partitions, crashed or paused nodes. It takes time only
 * from Effect's `Clock` and randomness only from Effect's `Random`, so under
 * `TestClock` (from `effect/testing`) with a seeded `Random` a run is exactly
 * repeatable and minutes of cluster life take a few seconds. Run this twice:
 * the output is the same, to the millisecond. In a vitest suite, `it.effect`
 * from `@effect/vitest` provides the `TestClock`; here it is provided by hand.
 *
 * To test your own service, build it on each simulated node's `Membership`
 * exactly as in production, drive the clock, and assert on what it does.
 *
 * The scenario: 20 nodes (`lan` profile, like a real deployment) on links
 * with 5 ms ± 3 ms latency and 5% packet loss join through node-0 and
 * converge; the network splits 10 | 10 until each half has declared the other
 * dead; then it heals and the cluster converges again.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Context, Effect, Fiber, Layer, Random } from "effect"
import { TestClock } from "effect/testing"
import { CompactCodec, GossipConfig, Membership, SimNetwork } from "../src/index.ts"
import type { MembershipShape, MemberState } from "../src/index.ts"

interface Node {
  readonly name: string
  readonly address: string
  readonly membership: MembershipShape
}

/** One node on the simulated network in context: the same layer as on UDP/TCP, another `Transport`. */
const startNode = Effect.fnUntraced(function*(i: number) {
  const name = `node-${i}`
  const address = `10.0.0.${i + 1}:7946`
  const layer = Membership.layer.pipe(
    Layer.provide(SimNetwork.transport(address)),
    Layer.provide(CompactCodec.layer),
    Layer.provide(GossipConfig.layer({ name, profile: "lan" }))
  )
  const node: Node = { name, address, membership: Context.get(yield* Layer.build(layer), Membership) }
  return node
})

/** Virtual time, as `t=12.345s`. */
const now = Effect.map(Clock.currentTimeMillis, (t) => `t=${(t / 1000).toFixed(3).padStart(7)}s`)
const say = (line: string) => Effect.flatMap(now, (t) => Console.log(`${t}  ${line}`))

/**
 * Runs `effect` while moving virtual time forward in 10 ms steps, so that the
 * sleeps and timeouts it waits on fire (under `TestClock` nothing moves by itself).
 */
const drive = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    while (fiber.pollUnsafe() === undefined) yield* TestClock.adjust(10)
    return yield* Fiber.join(fiber)
  })

/** How `viewers` see `subjects`: how many (viewer, subject) pairs are in each state. */
const views = (viewers: ReadonlyArray<Node>, subjects: ReadonlyArray<Node>) =>
  Effect.gen(function*() {
    const names = new Set(subjects.map((n) => n.name))
    const count: Record<MemberState | "unknown", number> = { alive: 0, suspect: 0, dead: 0, left: 0, unknown: 0 }
    for (const viewer of viewers) {
      const table = yield* viewer.membership.currentMembers
      for (const name of names) count[table.find((m) => m.name === name)?.state ?? "unknown"]++
    }
    return count
  })

const show = (c: Record<MemberState | "unknown", number>) =>
  `${c.alive} alive, ${c.suspect} suspect, ${c.dead} dead` + (c.unknown > 0 ? `, ${c.unknown} unknown` : "")

/** Advances virtual time second by second until `done` holds; prints the views whenever they change. */
const until = (what: string, done: Effect.Effect<boolean>, describe: Effect.Effect<string>, limitSeconds: number) =>
  Effect.gen(function*() {
    let last = ""
    for (let s = 0; s <= limitSeconds; s++) {
      const line = yield* describe
      if (line !== last) yield* say(line)
      last = line
      if (yield* done) return
      yield* TestClock.adjust("1 second")
    }
    return yield* Effect.die(new Error(`not ${what} after ${limitSeconds} virtual seconds`))
  })

const program = Effect.gen(function*() {
  const network = yield* SimNetwork
  yield* network.setDefaultLink({ latency: 5, jitter: 3, loss: 0.05 })

  const nodes = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), startNode)
  yield* say(`20 nodes up on the simulated network (5 ± 3 ms, 5% loss); each joins through node-0`)
  for (const node of nodes.slice(1)) yield* drive(node.membership.join([nodes[0]!.address]))

  const all = views(nodes, nodes)
  yield* until(
    "converged",
    Effect.map(all, (c) => c.alive === 400),
    Effect.map(all, (c) => `all views of all nodes: ${show(c)}`),
    60
  )
  yield* say("converged: every node sees 20 alive members")

  const sideA = nodes.slice(0, 10)
  const sideB = nodes.slice(10)
  yield* network.partition(sideA.map((n) => n.address), sideB.map((n) => n.address))
  yield* say("partition: node-0…9 | node-10…19")
  const across = Effect.zipWith(views(sideA, sideB), views(sideB, sideA), (ab, ba) => ({ ab, ba }))
  yield* until(
    "split",
    Effect.map(across, ({ ab, ba }) => ab.dead === 100 && ba.dead === 100),
    Effect.map(across, ({ ab, ba }) => `A's views of B: ${show(ab)} | B's views of A: ${show(ba)}`),
    180
  )
  yield* say("each side has declared the other dead")

  yield* network.heal()
  yield* say("partition healed")
  yield* until(
    "converged again",
    Effect.map(all, (c) => c.alive === 400),
    Effect.map(all, (c) => `all views of all nodes: ${show(c)}`),
    180
  )
  yield* say("converged again: every node sees 20 alive members")

  const totals = yield* network.totals()
  yield* Console.log(`\nnetwork totals: ${JSON.stringify(totals)}`)
}).pipe(
  Effect.provide(SimNetwork.layer()),
  Effect.scoped,
  Random.withSeed(2024),
  Effect.provide(TestClock.layer())
)

NodeRuntime.runMain(program)
