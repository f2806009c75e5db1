/**
 * demo.ts: watch a gossip cluster detect a crash, a leave and a join, live.
 *
 * Run it:  npm start      (or: ./node_modules/.bin/node examples/demo.ts)
 *
 * Five nodes run in this one process, each on its own real UDP + TCP sockets on
 * 127.0.0.1 (ports chosen by the OS) and each in its own `Scope`, so that each
 * can be stopped alone. The screen shows the member table as one node, the
 * observer `node-1`, sees it, with a log of the membership events it reports,
 * while a script plays:
 *
 *   1. five nodes start (node-1 … node-5, each with metadata `role=…`);
 *   2. node-2 … node-5 join the cluster through node-1;
 *   3. node-3 crashes: its scope is closed without leaving, so its sockets
 *      vanish and nobody is told; the others notice through failed probes,
 *      suspect it, and declare it dead when the suspicion times out;
 *   4. node-5 leaves gracefully: it announces it, and everyone marks it `left`;
 *   5. a new node, node-6, joins.
 *
 * The nodes use the `local` profile (memberlist's timers for a loopback
 * network: probes every second, a 200 ms probe timeout, suspicion timeouts of a
 * few seconds), so the whole story takes about 20 seconds. Then every node
 * is stopped and the program exits by itself.
 *
 * On a terminal the table is redrawn in place, in color. When the output is
 * not a terminal (a CI log, a pipe), there are no colors or cursor moves: the
 * table is printed again after each change, at most every 250 ms.
 *
 * The program is a few fibers: the story (the script above), the event log
 * (the observer's `events` stream), the table (its `members` stream) and, on
 * a terminal, the renderer that redraws the screen whenever its content changes.
 */
import { NodeRuntime } from "@effect/platform-node"
import {
  Clock,
  Console,
  Context,
  type Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Match,
  Schema,
  Scope,
  Stream,
  SubscriptionRef
} from "effect"
import { GossipConfig, Membership, MemberlistCodec, presets, UdpTcpTransport } from "../src/index.ts"
import type { Member, MemberEvent, MembershipShape, MemberState } from "../src/index.ts"

// -------------------------------------------------------------------------------------------------
// Nodes

const profile = "local"
/**
 * How many times each piece of gossip is sent, times log10(members + 1). The
 * `local` preset says 2, which in a cluster this small often misses a member
 * (it learns the news later, at the next periodic push/pull); 4 reaches all.
 */
const retransmitMult = 4
const observerName = "node-1"

/** A running node: its `Membership` service and the scope that stops it. */
interface DemoNode {
  readonly name: string
  readonly role: string
  readonly address: string
  readonly membership: MembershipShape
  readonly scope: Scope.Closeable
}

const utf8 = new TextEncoder()

/**
 * One node's layer: real UDP + TCP on loopback, memberlist's wire format (a serf agent could
 * join this cluster), small UTF-8 metadata.
 */
const nodeLayer = (name: string, role: string) =>
  Membership.layer.pipe(
    Layer.provide(UdpTcpTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 })),
    Layer.provide(MemberlistCodec.layer()),
    Layer.provide(GossipConfig.layer({ name, profile, retransmitMult, meta: utf8.encode(`role=${role}`) }))
  )

/**
 * Starts a node in a scope of its own. That scope is a child of the demo's
 * scope, so every node is stopped when the demo ends, even on Ctrl-C; closing
 * it earlier stops this node alone, as if its process had died.
 */
const startNode = Effect.fn("startNode")(function*(name: string, role: string) {
  const scope = yield* Scope.fork(yield* Effect.scope, "sequential")
  const context = yield* Layer.buildWithScope(nodeLayer(name, role), scope)
  const membership = Context.get(context, Membership)
  const address = (yield* membership.localMember).address
  return { name, role, address, membership, scope } satisfies DemoNode
})

/** The story could not go on: a node did not see what it should have in time. */
class DemoError extends Schema.TaggedError<DemoError>()("DemoError", { message: Schema.String }) {}

/** Waits until `node`'s member table satisfies `ok`. */
const waitUntil = (
  node: DemoNode,
  what: string,
  within: Duration.Input,
  ok: (members: ReadonlyArray<Member>) => boolean
) =>
  node.membership.members.pipe(
    Stream.filter(ok),
    Stream.runHead,
    Effect.timeoutOrElse({
      duration: within,
      orElse: () => Effect.fail(new DemoError({ message: `${node.name} did not see ${what} in time` }))
    })
  )

const stateOf = (members: ReadonlyArray<Member>, name: string): MemberState | undefined =>
  members.find((m) => m.name === name)?.state

const aliveNames = (members: ReadonlyArray<Member>) =>
  members.filter((m) => m.state === "alive").map((m) => m.name).sort()

// -------------------------------------------------------------------------------------------------
// Presentation

const tty = process.stdout.isTTY === true
const style = (code: string) => (text: string) => tty ? `\x1b[${code}m${text}\x1b[0m` : text
const bold = style("1")
const dim = style("2")
const stateStyle: Record<MemberState, (text: string) => string> = {
  alive: style("32"),
  suspect: style("33;1"),
  dead: style("31;1"),
  left: style("35")
}

/** A state's name in its color. */
const colored = (state: MemberState) => stateStyle[state](state)

const text = new TextDecoder()
const metadata = (m: Member) => m.meta.length === 0 ? "-" : text.decode(m.meta)

const seconds = (millis: number) => `+${(millis / 1000).toFixed(2).padStart(5)}s`

/** The member table as lines, sorted by name; colors only on a terminal. */
const tableLines = (members: ReadonlyArray<Member>): Array<string> => {
  const rows = [...members].sort((a, b) => a.name.localeCompare(b.name))
  const nameWidth = Math.max(4, ...rows.map((m) => m.name.length))
  const addressWidth = Math.max(7, ...rows.map((m) => m.address.length))
  const line = (name: string, address: string, state: string, incarnation: string, meta: string) =>
    `  ${name.padEnd(nameWidth)}  ${address.padEnd(addressWidth)}  ${state}  ${incarnation.padStart(3)}  ${meta}`
  return [
    dim(line("NAME", "ADDRESS", "STATE  ", "INC", "METADATA")),
    ...rows.map((m) =>
      line(m.name, m.address, stateStyle[m.state](m.state.padEnd(7)), String(m.incarnation), metadata(m))
    )
  ]
}

/** One membership event, in words. */
const describeEvent = (event: MemberEvent): string =>
  Match.valueTags(event, {
    MemberJoined: ({ member }) => `${member.name} joined (${member.address}, ${metadata(member)})`,
    MemberUpdated: ({ member }) => `${member.name} updated: ${metadata(member)}, incarnation ${member.incarnation}`,
    MemberSuspected: ({ from, member }) => `${stateStyle.suspect(member.name + " suspected")} by ${from}`,
    MemberAlive: ({ member }) =>
      `${stateStyle.alive(member.name + " alive again")} (refuted, incarnation ${member.incarnation})`,
    MemberLeft: ({ member }) => `${stateStyle.left(member.name + " left")} gracefully`,
    MemberFailed: ({ from, member }) => `${stateStyle.dead(member.name + " failed")}: declared dead by ${from}`,
    MemberReaped: ({ member }) => `${member.name} reaped from the table (${member.state} long enough)`
  })

/** What the screen shows. */
interface View {
  readonly step: string
  readonly members: ReadonlyArray<Member>
  readonly health: number
  readonly live: number
  readonly log: ReadonlyArray<string>
}

/** Terminal rows a line takes, escape codes aside. */
const rowsOf = (line: string, columns: number) =>
  Math.max(1, Math.ceil(line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").length / columns))

/**
 * The screen. `say` prints a timestamped line; `showTable` hands over a new
 * member table. Off a terminal both print straight away. On a terminal they
 * only update the `View`, and `render` redraws the whole frame in place on
 * every change, fitting the newest log lines into the rows left.
 */
const makeScreen = Effect.fnUntraced(function*(start: number, banner: ReadonlyArray<string>) {
  const view = yield* SubscriptionRef.make<View>({ step: "", members: [], health: 0, live: 0, log: [] })
  const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - start)

  const say = Effect.fnUntraced(function*(line: string) {
    const stamped = `${dim(`[${seconds(yield* elapsed)}]`)} ${line}`
    if (tty) yield* SubscriptionRef.update(view, (v) => ({ ...v, log: [...v.log, stamped].slice(-100) }))
    else yield* Console.log(stamped)
  })

  const step = Effect.fnUntraced(function*(title: string) {
    yield* SubscriptionRef.update(view, (v) => ({ ...v, step: title }))
    yield* say(bold(`==> ${title}`))
  })

  const header = (v: View, at: number) =>
    `${bold(`member table as seen by ${observerName}`)} at ${seconds(at)}: ` +
    `${v.members.length} listed, ${v.live} alive or suspect, health score ${v.health}`

  const frame = (v: View, at: number) => {
    const columns = process.stdout.columns ?? 80
    const top = [...banner, "", bold(v.step), "", header(v, at), ...tableLines(v.members), "", dim("events and steps:")]
    let free = (process.stdout.rows ?? 40) - 1 - top.reduce((n, line) => n + rowsOf(line, columns), 0)
    const log: Array<string> = []
    for (let i = v.log.length - 1; i >= 0 && rowsOf(v.log[i]!, columns) <= free; i--) {
      free -= rowsOf(v.log[i]!, columns)
      log.unshift(v.log[i]!)
    }
    return [...top, ...log]
  }

  /** Redraws the frame from the top left corner, clearing whatever the previous one left. */
  const draw = (v: View) =>
    Effect.flatMap(elapsed, (at) => Console.log(`\x1b[H${frame(v, at).map((l) => `${l}\x1b[K`).join("\n")}\x1b[J`))

  const showTable = (members: ReadonlyArray<Member>, health: number, live: number) =>
    SubscriptionRef.updateAndGet(view, (v) => ({ ...v, members, health, live })).pipe(
      Effect.flatMap((v) =>
        tty
          ? Effect.void
          : Effect.flatMap(elapsed, (at) => Console.log(["", header(v, at), ...tableLines(members), ""].join("\n")))
      )
    )

  /**
   * The renderer, on a terminal: clears it and hides the cursor (shown again
   * however the demo ends), then redraws on every change of the view, a burst
   * of changes a few milliseconds apart drawn once.
   */
  const render = tty
    ? Effect.acquireRelease(Console.log("\x1b[2J\x1b[?25l"), () => Console.log("\x1b[?25h")).pipe(
      Effect.andThen(SubscriptionRef.changes(view).pipe(Stream.debounce("20 millis"), Stream.runForEach(draw))),
      Effect.scoped
    )
    : Effect.void

  /** The last frame, drawn once the renderer has stopped (on a terminal). */
  const finish = tty ? Effect.flatMap(SubscriptionRef.get(view), draw) : Effect.void

  return { say, step, showTable, render, finish }
})

type Screen = Effect.Success<ReturnType<typeof makeScreen>>

// -------------------------------------------------------------------------------------------------
// The fibers

/**
 * The table fiber: the observer's member table, the current one first, then
 * after each change. On a terminal it is also read once a second, to keep the
 * health score and the clock on screen current. Off a terminal a table is
 * printed once it has been stable for 250 ms, so a burst of changes prints once.
 */
const watchTable = (screen: Screen, observer: DemoNode) =>
  observer.membership.members.pipe(
    tty
      ? Stream.merge(Stream.tick("1 second").pipe(Stream.mapEffect(() => observer.membership.currentMembers)))
      : Stream.debounce("250 millis"),
    Stream.runForEach((members) =>
      Effect.gen(function*() {
        const health = yield* observer.membership.healthScore
        const live = yield* observer.membership.numMembers
        yield* screen.showTable(members, health, live)
      })
    )
  )

/** The event-log fiber: one line per event the observer reports. */
const watchEvents = (screen: Screen, observer: DemoNode) =>
  observer.membership.events.pipe(
    Stream.runForEach((event) => screen.say(`${observerName} reports: ${describeEvent(event)}`))
  )

/** The story fiber: the script, one step after another. */
const story = Effect.fn("story")(function*(screen: Screen, observer: DemoNode) {
  const step = (n: number, what: string) => screen.step(`Step ${n}/5: ${what}`)
  const pause = (why: string, duration: Duration.Input) =>
    screen.say(dim(`(${why})`)).pipe(Effect.andThen(Effect.sleep(duration)))

  yield* step(1, "start 5 nodes on 127.0.0.1 (ports chosen by the OS)")
  const others: Array<DemoNode> = []
  const roles = [["node-2", "web"], ["node-3", "db"], ["node-4", "cache"], ["node-5", "worker"]] as const
  for (const [name, role] of roles) {
    const node = yield* startNode(name, role)
    others.push(node)
    yield* screen.say(`started ${node.name} on ${node.address} (role=${node.role})`)
  }
  const [node2, node3, node4, node5] = others as [DemoNode, DemoNode, DemoNode, DemoNode]

  yield* step(2, `node-2 … node-5 join through ${observer.name} (${observer.address})`)
  for (const node of others) {
    yield* node.membership.join([observer.address])
    yield* screen.say(`${node.name} joined through ${observer.name}`)
  }
  const everyone = [observer, ...others]
  yield* Effect.forEach(everyone, (node) =>
    waitUntil(node, "5 alive members", "10 seconds", (ms) => aliveNames(ms).length === 5), { discard: true })
  yield* screen.say("every node sees 5 alive members: the cluster has converged")
  yield* pause("watching the healthy cluster for 3 s", "3 seconds")

  yield* step(3, "node-3 crashes: its scope is closed without leaving")
  yield* Scope.close(node3.scope, Exit.void)
  yield* screen.say(`${node3.name}'s sockets are gone and nobody was told; probes will notice (suspect, then dead)`)
  yield* waitUntil(observer, "node-3 dead", "30 seconds", (ms) => stateOf(ms, "node-3") === "dead")
  yield* pause("pausing 2 s; the verdict spreads to the other members by gossip", "2 seconds")

  yield* step(4, "node-5 leaves gracefully")
  yield* node5.membership.leave
  yield* screen.say(`${node5.name} announced its leave, waited until it was gossiped, and stops`)
  yield* Scope.close(node5.scope, Exit.void)
  yield* waitUntil(observer, "node-5 left", "10 seconds", (ms) => stateOf(ms, "node-5") === "left")
  yield* pause("a leave needs no failure detection: it is known at once", "2 seconds")

  yield* step(5, "a new node, node-6, starts and joins through node-4")
  const node6 = yield* startNode("node-6", "web")
  yield* screen.say(`started ${node6.name} on ${node6.address} (role=${node6.role})`)
  yield* node6.membership.join([node4.address])
  const survivors = [observer, node2, node4, node6]
  const expected = survivors.map((n) => n.name).join()
  yield* Effect.forEach(survivors, (node) =>
    waitUntil(node, "node-6 alive", "10 seconds", (ms) => aliveNames(ms).join() === expected), { discard: true })
  const view6 = yield* node6.membership.currentMembers
  const untold = [node3.name, node5.name].filter((name) => stateOf(view6, name) === undefined)
  yield* screen.say(
    `${node6.name} sees ${view6.map((m) => `${m.name} ${m.state}`).join(", ")}` +
      (untold.length === 0 ? "" : ` (a newcomer is told only about live members, not about ${untold.join(" or ")})`)
  )
  yield* pause("the cluster is healthy again; the end in 3 s", "3 seconds")
  return survivors
})

// -------------------------------------------------------------------------------------------------
// Main

const main = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const timers = presets[profile]
  const banner = [
    `${bold("effect-gossip demo")}: a SWIM + Lifeguard cluster on real UDP/TCP on 127.0.0.1`,
    `profile "${profile}" (fast timers, for one machine): probe every ${timers.probeInterval} ms, ` +
    `probe timeout ${timers.probeTimeout} ms,`,
    `suspicion timeout at least ${timers.suspicionMult * timers.probeInterval / 1000} s, ` +
    `dead members forgotten after ${timers.gossipToTheDeadTime / 1000} s; ` +
    `retransmitMult ${retransmitMult} (preset: ${timers.retransmitMult})`,
    ...(tty ? [`${dim("states:")} ${(["alive", "suspect", "dead", "left"] as const).map(colored).join(" ")}`] : [])
  ]
  if (!tty) {
    yield* Console.log(banner.join("\n"))
    yield* Console.log("(not a terminal: no colors; the table is printed after each change, at most every 250 ms)\n")
  }
  const screen = yield* makeScreen(start, banner)

  const observer = yield* startNode(observerName, "web")
  yield* screen.say(`started ${observer.name} on ${observer.address} (role=web): the observer, whose view is shown`)

  // The table, the event log and (on a terminal) the renderer run until the story ends.
  const watchers = yield* Effect.all([
    Effect.forkScoped(watchTable(screen, observer)),
    Effect.forkScoped(watchEvents(screen, observer)),
    Effect.forkScoped(screen.render)
  ])
  yield* Effect.yieldNow // let the event fiber subscribe before anything happens
  const storyFiber = yield* Effect.forkScoped(story(screen, observer))
  const survivors = yield* Fiber.join(storyFiber)

  yield* screen.step("The end: stopping every node")
  yield* Effect.sleep("300 millis") // off a terminal, the table fiber prints the last table after 250 ms
  yield* Fiber.interruptAll(watchers)
  yield* screen.finish
  yield* Effect.forEach(survivors, (node) => Scope.close(node.scope, Exit.void), { concurrency: "unbounded" })
  const total = (yield* Clock.currentTimeMillis) - start
  yield* Console.log(
    `\nnode-3 crashed and was declared dead, node-5 left, node-6 joined. ` +
      `All nodes stopped after ${(total / 1000).toFixed(1)} s.`
  )
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)
